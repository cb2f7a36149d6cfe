"""Bring one tracked request up to date with Capillary, at most once per few seconds.

However many browsers watch a request (and however many app processes serve them), the
gateway is asked about it at most once per ``CAP_STATUS_MIN_REFRESH_SECONDS``: each refresh
first *claims* the record with one atomic ``UPDATE … WHERE last_polled_at IS NULL OR
last_polled_at < now - N`` and only the process whose update hit a row calls the gateway.
A failure keeps the last known state and records "could not refresh: …" on the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import or_, update

import gateway_setup
from extensions import db
from gateway.errors import GatewayError, NotFound
from gateway.types import TERMINAL_STATES
from i18n import N_
from models import FAILED_TO_SUBMIT, NOT_CREATED, TrackedRequest, utcnow
from models.requests import SANDBOX_GONE
from services.lifecycle import reconcile
from services.lifecycle.updates import apply_update
from services.lifecycle.wording import OWN_TOKEN_REFUSED, describe, english_what, what_happened
from services.people import identity

# States that never change again: Capillary's decided ones and the app's own dead ends.
FINAL_STATES = TERMINAL_STATES | {FAILED_TO_SUBMIT, NOT_CREATED, SANDBOX_GONE}


@dataclass(frozen=True)
class RefreshResult:
    """What a refresh did: whether the gateway was asked, what changed, what went wrong."""

    asked: bool
    changed: bool = False
    error: str | None = None
    message: str = ""


def is_live(record: TrackedRequest) -> bool:
    """Whether ``record`` can still change (so pages keep polling it)."""
    return record.state not in FINAL_STATES


def claim_poll(record_id: int, now: datetime | None = None, *, force: bool = False) -> bool:
    """Claim the right to ask the gateway about ``record_id`` now; commit; return whether won.

    Atomic in the database, so it holds across threads and processes sharing it. ``force``
    ignores the interval (but still records the poll).
    """
    now = now or utcnow()
    interval = timedelta(seconds=0 if force else current_app.config["CAP_STATUS_MIN_REFRESH_SECONDS"])
    result = db.session.execute(
        update(TrackedRequest)
        .where(TrackedRequest.id == record_id)
        .where(or_(TrackedRequest.last_polled_at.is_(None), TrackedRequest.last_polled_at <= now - interval))
        # Naming updated_at keeps its onupdate from firing: a poll is not a change.
        .values(last_polled_at=now, updated_at=TrackedRequest.updated_at)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    # An UPDATE/DELETE returns a CursorResult (it has rowcount); SQLAlchemy 2.0 types execute() as Result.
    return result.rowcount == 1  # type: ignore[attr-defined]


def polled_recently(record: TrackedRequest, now: datetime | None = None) -> bool:
    """Whether ``record`` (as loaded) was polled within the interval, so a claim would fail."""
    if record.last_polled_at is None:
        return False
    interval = timedelta(seconds=current_app.config["CAP_STATUS_MIN_REFRESH_SECONDS"])
    return record.last_polled_at > (now or utcnow()) - interval


def forgotten_by_sandbox(record: TrackedRequest, exc: GatewayError) -> bool:
    """Settle ``record`` as gone when the training sandbox answers 404 for it; return whether it did.

    Only in sandbox mode, and only when the embedded sandbox indeed has no such request: a reset
    (or a restart) of the sandbox forgets every request while this app keeps its records, and
    asking again would fail the same way forever. A real gateway's 404 stays a refresh error (it
    may be a configuration problem).
    """
    if not isinstance(exc, NotFound) or exc.status != 404 or record.request_id is None:
        return False
    sandbox = gateway_setup.sandbox_state()  # None outside sandbox mode
    # Asked directly, so a 404 the trainer queued as a fault still counts as a passing failure.
    if sandbox is None or sandbox.get_request(record.request_id) is not None:
        return False
    record.refresh_error = record.refresh_error_at = None
    return record.record_state(SANDBOX_GONE, N_("The training sandbox no longer knows this request (it was "
                                                 "reset or restarted), so it is not checked any more."))


def _wait_as_told(record: TrackedRequest, exc: GatewayError) -> None:
    """After a 429 with Retry-After, move the poll clock so nobody asks again before then."""
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        interval = timedelta(seconds=current_app.config["CAP_STATUS_MIN_REFRESH_SECONDS"])
        # claim_poll lets the next poll through at last_polled_at + interval.
        record.last_polled_at = max(record.last_polled_at or utcnow(),
                                    utcnow() + timedelta(seconds=retry_after) - interval)


def refresh(record: TrackedRequest, *, force: bool = False) -> RefreshResult:
    """Update ``record`` from the gateway if it can still change and nobody asked just now.

    A record with a requestId is fetched (§3); a lost submission is reconciled against the
    list (§4.1). ``force`` asks even within the interval: for when Capillary has just said the
    record is out of date. Commits; never raises a gateway error.
    """
    if not is_live(record):
        return RefreshResult(False, message=_("This request is settled; there is nothing more to check."))
    if record.request_id is None and not reconcile.is_due(record):
        return RefreshResult(False, message=_("The request is still being sent to Capillary."))
    # The poll clock only moves forward, so a poll this request already sees as recent settles
    # it without the claim's UPDATE and commit (which would also make the page reload the
    # record, its timeline and the signed-in person). When it looks due, the claim decides.
    if (not force and polled_recently(record)) or not claim_poll(record.id, force=force):
        seconds = current_app.config["CAP_STATUS_MIN_REFRESH_SECONDS"]
        return RefreshResult(False, message=ngettext(
            "Capillary was checked less than %(num)d second ago; this is the latest state.",
            "Capillary was checked less than %(num)d seconds ago; this is the latest state.", seconds))
    if record.request_id is None:
        found = reconcile.reconcile(record)
        return RefreshResult(True, changed=found.outcome in (reconcile.ADOPTED, reconcile.MARKED_NOT_CREATED),
                             error=found.message if found.outcome == reconcile.FAILED else None,
                             message=found.message)
    before = record.state
    try:
        token = identity.reading_token(record.submitter)
        info = gateway_setup.gateway_client().get_request(record.request_id, token)
    except GatewayError as exc:
        if forgotten_by_sandbox(record, exc):
            db.session.commit()
            return RefreshResult(True, changed=True, message=describe(record.state).meaning)
        # A 401 or code 2013 to the submitter's own token; a deployment problem goes to administrators.
        own = identity.note_gateway_error(exc, record.submitter, target=f"request {record.id}")
        kind = OWN_TOKEN_REFUSED if own else exc.kind  # whose token was refused, said in words
        record.refresh_error = english_what(kind, exc.code)  # shown translated (wording.note_words)
        record.refresh_error_at = utcnow()
        _wait_as_told(record, exc)
        db.session.commit()
        return RefreshResult(True, error=what_happened(kind, exc.code))
    changed = apply_update(record, info)
    db.session.commit()
    if changed:
        return RefreshResult(True, changed=True, message=_(
            "The status changed from %(before)s to %(after)s.",
            before=describe(before).badge, after=describe(record.state).badge))
    return RefreshResult(True, message=_("Checked Capillary: still %(state)s.",
                                         state=describe(record.state).badge.lower()))
