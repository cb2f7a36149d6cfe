"""Find out whether a submission whose answer was lost exists in Capillary after all.

A record in ``unknown`` (sent, no readable answer) or stuck in ``sending`` (the process died
while sending) is looked up in the list endpoint (§4.1) by its store and till, the day it was
stored, and the echoed payload's identifier, label and reason:

- one match: the record adopts that requestId and state;
- none: once ``CAP_RECONCILE_GRACE_SECONDS`` have passed since it was stored, it becomes
  ``not_created`` ("not created in Capillary") and may be resent with one click;
- several: they are kept as candidates for a person to choose from on the status page.

A listed request already held by another of this app's records is never a candidate; one held
by an *imported* record is (that import was this lost submission, found before reconciliation:
adopting merges it in). Nor is one that may be another submission of this app still in flight
(``sending``, same store and till, same values): its own answer is on the way. The rule is
shared with the importers and the submission (:mod:`services.lifecycle.adoption`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

import gateway_setup
from extensions import db
from gateway.errors import GatewayError
from gateway.payload import REQUEST_TYPE
from gateway.types import RequestInfo
from models import NOT_CREATED, SENDING, UNKNOWN, ReconcileCandidate, TrackedRequest, utcnow
from services.lifecycle.adoption import (
    IMPORTED,
    RequestIdTaken,
    may_be_submission_of,
    take_request_id,
    unsettled_submissions,
)
from services.lifecycle.updates import apply_update, note_for, parse_gateway_time
from services.lifecycle.wording import english_note, english_what, not_found_words, note_words
from services.people import identity

log = logging.getLogger(__name__)

# The list is filtered to one store, one till and three days: a few pages at most.
MAX_PAGES = 20

ADOPTED, NOT_FOUND_YET, MARKED_NOT_CREATED, SEVERAL, FAILED, SKIPPED = (
    "adopted", "not_found_yet", "not_created", "several", "failed", "skipped")


@dataclass
class ReconcileResult:
    """What one reconciliation found."""

    outcome: str
    message: str
    candidates: list[RequestInfo] = field(default_factory=list)


def stuck_sending_after() -> timedelta:
    """How long a record may stay in ``sending`` before its process is presumed dead."""
    config = current_app.config
    return timedelta(seconds=config["CAP_CONNECT_TIMEOUT"] + config["CAP_READ_TIMEOUT"] + 30)


def is_due(record: TrackedRequest, now: datetime | None = None) -> bool:
    """Whether ``record`` is a lost submission to look for: ``unknown``, or ``sending`` for too long."""
    if record.request_id is not None or record.origin == IMPORTED:
        return False
    if record.state == UNKNOWN:
        return True
    return record.state == SENDING and record.created_at <= (now or utcnow()) - stuck_sending_after()


def known_by(record: TrackedRequest) -> datetime | None:
    """When the app will know whether a lost submission exists (naive UTC), or None when it is not lost.

    Until then each look finds it in Capillary's request list or not yet; once the grace period
    is over, not found means not created (:func:`reconcile`).
    """
    if record.request_id is not None or record.origin == IMPORTED or record.state not in (UNKNOWN, SENDING):
        return None
    return record.created_at + timedelta(seconds=current_app.config["CAP_RECONCILE_GRACE_SECONDS"])


def _gateway_day(moment: datetime) -> datetime:
    zone = ZoneInfo(current_app.config.get("CAP_GATEWAY_TIMEZONE", "UTC"))
    return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)


def list_all(client_kwargs: dict, *, page_size: int, max_pages: int, token: str) -> tuple[list[RequestInfo], int]:
    """Fetch every page of one list query; return ``(items, pages fetched)``.

    Stops at a short page, at ``totalPages``, at ``max_pages``, or when a page brings nothing
    new (a server ignoring ``PageNo`` must not loop us forever).
    """
    client = gateway_setup.gateway_client()
    base = current_app.config["CAP_LIST_PAGE_BASE"]
    items: dict[str, RequestInfo] = {}
    fetched = 0
    for index in range(max_pages):
        page = client.list_requests(token, limit=page_size, page=base + index, **client_kwargs)
        fetched += 1
        new = [info for info in page.items if info.requestId not in items]
        items.update((info.requestId, info) for info in new)
        if not new or len(page.items) < page_size or index + 1 >= page.total_pages:
            break
    return list(items.values()), fetched


def search_key(record: TrackedRequest) -> tuple[str, str, str]:
    """What the list is searched by for ``record``: its store, till and day (gateway time)."""
    return record.store_id, record.till_id, _gateway_day(record.created_at).strftime("%Y-%m-%d")


def search(key: tuple[str, str, str]) -> list[RequestInfo]:
    """List the requests of one store and till from the day before to the day after ``key``'s day.

    The caller handles GatewayError. Records sharing a key (e.g. a bulk file's rows) share one search.
    """
    store_id, till_id, day_text = key
    day = datetime.strptime(day_text, "%Y-%m-%d")
    items, _pages = list_all(
        {
            "request_type": REQUEST_TYPE,
            "store_id": store_id or None,
            "till_id": till_id or None,
            "start_date": (day - timedelta(days=1)).strftime("%Y-%m-%d"),
            "end_date": (day + timedelta(days=1)).strftime("%Y-%m-%d"),
            "sort_order": "asc",
        },
        page_size=min(current_app.config["CAP_SYNC_PAGE_SIZE"], 100),
        max_pages=MAX_PAGES,
        token=identity.maker_token(None),  # one search serves several records
    )
    return items


def match_items(record: TrackedRequest, items: list[RequestInfo], now: datetime | None = None) -> list[RequestInfo]:
    """Keep the items that may be ``record``'s submission and no other submission of this app's.

    ``items`` come from a search by ``record``'s store and till. An item held by another app
    record, or that may be another submission of the same store and till still in flight, is
    left out; one held by an imported record stays (adopting merges that copy in).
    """
    fitting = [info for info in items if may_be_submission_of(record, info)]
    if not fitting:
        return []
    holders = {
        held.request_id: held
        for held in db.session.scalars(
            select(TrackedRequest).where(TrackedRequest.request_id.in_([i.requestId for i in fitting]))
        )
    }
    free = [info for info in fitting
            if info.requestId not in holders or holders[info.requestId].origin == IMPORTED]
    if not free:
        return []
    in_flight = [other for other in unsettled_submissions()
                 if other.id != record.id and other.state == SENDING and not is_due(other, now)
                 and (other.store_id, other.till_id) == (record.store_id, record.till_id)]
    return [info for info in free if not any(may_be_submission_of(other, info) for other in in_flight)]


def reconcile(record: TrackedRequest, *, now: datetime | None = None,
              listed: list[RequestInfo] | None = None) -> ReconcileResult:
    """Reconcile one lost submission and commit what was learned.

    :param listed: the list already searched for ``record``'s store, till and day (the sync
        shares one search between such records); else the list is queried here.
    """
    now = now or utcnow()
    if not is_due(record, now):
        return ReconcileResult(SKIPPED, _("Nothing to reconcile."))
    try:
        matches = match_items(record, listed if listed is not None else search(search_key(record)), now)
    except GatewayError as exc:
        record.refresh_error = ("Capillary's request list could not be searched: "  # an English record
                                + english_what(exc.kind, exc.code))
        record.refresh_error_at = now
        db.session.commit()
        return ReconcileResult(FAILED, note_words(record.refresh_error))
    if len(matches) == 1:
        try:
            adopt(record, matches[0], "Found in Capillary's request list: this submission was created there.")
        except ValueError:  # another of this app's records took it meanwhile: look again next time
            return ReconcileResult(NOT_FOUND_YET, _("Not in Capillary's request list yet; the app will look again."))
        return ReconcileResult(ADOPTED, _("Found in Capillary's request list."))
    record.refresh_error = record.refresh_error_at = None
    if len(matches) > 1:
        _keep_candidates(record, matches, now)
        try:
            db.session.commit()
        except IntegrityError:  # the sync and a status page kept the same ones at the same moment
            db.session.rollback()
        return ReconcileResult(SEVERAL, ngettext(
            "%(num)d request in Capillary matches this one; choose which it is.",
            "%(num)d requests in Capillary match this one; choose which it is.", len(matches)), matches)
    db.session.execute(delete(ReconcileCandidate).where(ReconcileCandidate.record_pk == record.id))
    grace = timedelta(seconds=current_app.config["CAP_RECONCILE_GRACE_SECONDS"])
    if record.created_at <= now - grace:
        minutes = max(int(grace.total_seconds() // 60), 0)
        record.error_kind = "not_created"
        record.record_state(NOT_CREATED, english_note(not_found_words, minutes))
        db.session.commit()
        return ReconcileResult(MARKED_NOT_CREATED, _("Not found in Capillary: it was not created there."))
    db.session.commit()
    return ReconcileResult(NOT_FOUND_YET, _("Not in Capillary's request list yet; the app will look again."))


def adopt(record: TrackedRequest, info: RequestInfo, note: str) -> None:
    """Give ``record`` the requestId and state of ``info`` and commit.

    An imported record holding the same requestId was this very submission, imported before
    it was reconciled: it is merged in (``adoption.take_request_id``: its timeline and decisions
    move over, the copy is deleted). A copy stored while this ran is met by the commit: then it
    is all done once more.

    :raises ValueError: another of this app's records holds the requestId.
    """
    for attempt in (1, 2):
        try:
            take_request_id(record, info.requestId)
            db.session.execute(delete(ReconcileCandidate).where(ReconcileCandidate.record_pk == record.id))
            apply_update(record, info, f"{note} {note_for(info)}")
            db.session.commit()
            return
        except RequestIdTaken:
            db.session.rollback()
            raise ValueError(_("that request already belongs to another record")) from None
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise


def _keep_candidates(record: TrackedRequest, matches: list[RequestInfo], now: datetime) -> None:
    db.session.execute(delete(ReconcileCandidate).where(ReconcileCandidate.record_pk == record.id))
    for info in matches:
        db.session.add(ReconcileCandidate(
            record_pk=record.id,
            request_id=info.requestId,
            state=info.state,
            start_time=parse_gateway_time(info.startTime),
            user_name=info.userName[:255],
            found_at=now,
        ))


def candidates_for(record: TrackedRequest) -> list[ReconcileCandidate]:
    """Return the kept candidates for ``record``, oldest first."""
    return list(db.session.scalars(
        select(ReconcileCandidate).where(ReconcileCandidate.record_pk == record.id)
        .order_by(ReconcileCandidate.start_time, ReconcileCandidate.id)
    ))


def choose(record: TrackedRequest, request_id: str) -> str:
    """Adopt the candidate a person chose; return a message. Raise ValueError when not allowed."""
    if not is_due(record):
        raise ValueError(_("This request no longer needs matching."))
    if request_id not in {c.request_id for c in candidates_for(record)}:
        raise ValueError(_("That request is not one of the matches found for this one."))
    info = gateway_setup.gateway_client().get_request(request_id, identity.reading_token(record.submitter))
    if not match_items(record, [info]):
        raise ValueError(_("That request no longer matches this one (or another record holds it)."))
    adopt(record, info, "Chosen by a person among the matches in Capillary's request list.")  # a note: English
    return _("Matched: this request now follows the one you chose in Capillary.")
