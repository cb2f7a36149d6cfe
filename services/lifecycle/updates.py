"""Apply what the gateway says to a tracked record: forward only, with a timeline note.

Every path that learns a request's state (a status-page refresh, the sync, a checker's
decision, reconciliation) goes through :func:`apply_update`, so they agree on three rules:

- Capillary's states only move forward (``AdminTask`` → ``approved``/``rejected``/``failed``), so
  an older answer that arrives late never moves a decided record back to waiting;
- the timeline note says what happened in plain words (decision, message, outcome);
- a checker's decision claimed in this app is settled once the gateway shows the result.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import inspect, select
from sqlalchemy.exc import InvalidRequestError

from extensions import db
from gateway.payload import mask_secrets
from gateway.types import TERMINAL_STATES, RequestInfo
from i18n import N_
from models import Decision, TrackedRequest, utcnow
from models.approvals import DECISION_FAILED, DECISION_SENDING, DECISION_SENT, DECISION_UNKNOWN
from services.lifecycle.wording import describe, downstream_request_id, outcome_of


def parse_gateway_time(value: str | None) -> datetime | None:
    """Read a gateway time (no zone, in ``CAP_GATEWAY_TIMEZONE``) as naive UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(current_app.config.get("CAP_GATEWAY_TIMEZONE", "UTC")))
    try:
        return parsed.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-10:00 (gateway/types.py refuses such answers)
        return None


def apply_info(record: TrackedRequest, info: RequestInfo, note: str) -> bool:
    """Copy the gateway's view onto ``record``; return whether the state changed."""
    record.request_id = info.requestId
    if info.userId is not None:
        record.maker_user_id = info.userId
    if info.userName:
        record.maker_user_name = info.userName[:255]
    record.request_type = info.requestType or record.request_type
    record.start_time = parse_gateway_time(info.startTime) or record.start_time
    record.end_time = parse_gateway_time(info.endTime)
    # Capillary echoes the task with its inner Authorization header: never store that.
    record.details = mask_secrets(info.details)
    record.downstream_request_id = downstream_request_id(info.details)
    record.error_kind = record.error_message = record.error_code = record.error_detail = None
    record.error_status = None
    record.updated_at = utcnow()
    return record.record_state(info.state, note)


def note_for(info: RequestInfo) -> str:
    """Return the timeline note for a request now in ``info.state`` (an English record)."""
    with force_locale("en"):  # the outcome's words are translated for pages; notes stay English
        outcome = outcome_of(info.state, info.details)
    said = f": “{outcome.decision_message}”" if outcome.decision_message else ""
    if info.state == "AdminTask":
        return N_("Waiting for a checker in Capillary.")
    if info.state == "rejected":
        return f"Rejected by a checker{said}."
    if info.state == "approved":
        if outcome.auto_approved:
            return N_("Approved automatically (auto-approval) and applied to the customer.")
        return f"Approved by a checker{said}. Capillary changed the customer's status."
    if info.state == "failed":
        lead = f"Approved by a checker{said}. " if outcome.decision else ""
        return lead + outcome.words
    return f"Capillary reports the state '{info.state}'."


# What apply_update(just_created=True) reads again: every column, no relationship.
_COLUMNS = [column.key for column in inspect(TrackedRequest).column_attrs]


class RecordGone(LookupError):
    """The record's row no longer exists: it was an imported copy, merged into its submission."""


def apply_update(record: TrackedRequest, info: RequestInfo, note: str | None = None, *,
                 just_created: bool = False) -> bool:
    """Copy ``info`` onto ``record`` unless it is older news; return whether the state changed.

    The caller commits. On PostgreSQL the row is locked first, so two processes applying
    answers to the same record take turns; SQLite serialises writers anyway.

    :param just_created: ``info`` answers this request's own create of ``record``, stored by
        this very session and still ``sending``. Only its columns are read again (its timeline
        is the one this session wrote, and appending needs no reload), and no decision of this
        app can be open on a request Capillary has only just named.
    :raises RecordGone: ``record`` was deleted meanwhile (see ``adoption.merge_copy``); callers
        going through a list skip it.
    """
    identity = inspect(record).identity  # read without loading: the row may be gone
    if identity is not None:
        try:
            # OF: the record's row only; it may have been loaded with its submitter outer-joined,
            # and PostgreSQL cannot lock the nullable side of an outer join.
            db.session.refresh(record, _COLUMNS if just_created else None,
                               with_for_update={"of": TrackedRequest})
        except InvalidRequestError as exc:  # "could not refresh" / "has been deleted": no such row
            db.session.expunge(record)
            raise RecordGone(f"request {identity[0]} no longer exists") from exc
    if record.state in TERMINAL_STATES and info.state not in TERMINAL_STATES:
        return False  # a late answer from before the decision
    unchanged = (
        record.request_id == info.requestId
        and record.state == info.state
        and record.details == mask_secrets(info.details)
    )
    changed = False
    if not unchanged:
        changed = apply_info(record, info, note or note_for(info))
    record.refresh_error = record.refresh_error_at = None
    if not just_created:
        settle_decisions(record)
    return changed


def decision_stale_after() -> timedelta:
    """How long a claimed decision may wait for an answer before it counts as not sent."""
    config = current_app.config
    return timedelta(seconds=config["CAP_CONNECT_TIMEOUT"] + config["CAP_READ_TIMEOUT"] + 60)


def settle_decisions(record: TrackedRequest) -> None:
    """Close this app's open decision on ``record`` now that the gateway's state is known.

    Decided in Capillary → the claim is ``sent`` when Capillary shows our decision, else
    ``failed`` (someone else decided). Still waiting long after the claim → it never reached
    Capillary, so it is released (``failed``) and may be tried again.
    """
    if record.request_id is None:
        return
    open_decision = db.session.scalar(
        select(Decision).where(
            Decision.request_id == record.request_id,
            Decision.status.in_((DECISION_SENDING, DECISION_UNKNOWN)),
        )
    )
    if open_decision is None:
        return
    if record.state == "AdminTask":
        if open_decision.updated_at < utcnow() - decision_stale_after():
            open_decision.status = DECISION_FAILED
            open_decision.error_message = (
                "No answer came back and Capillary still shows the request waiting: the decision "
                "did not reach Capillary. It can be made again."
            )
        return
    shown = outcome_of(record.state, record.details).decision
    if shown == open_decision.decision or (shown is None and record.state != "rejected"
                                           and open_decision.decision == "approved"):
        open_decision.status = DECISION_SENT
        open_decision.error_message = None
    else:
        open_decision.status = DECISION_FAILED
        with force_locale("en"):  # an English record, whatever the page's language
            state_words = describe(record.state).badge.lower()
        open_decision.error_message = f"Capillary shows the request as {state_words}, decided by someone else."
