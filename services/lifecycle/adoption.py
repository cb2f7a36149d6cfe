"""One record per Capillary request: import requests made elsewhere, never one of this app's own.

Capillary's list shows a request the moment the gateway has created it, while this app's record
of that submission may still be waiting for (or storing) the gateway's answer. Every importer
(the checker console, the sync), reconciliation, single submissions and bulk rows share the
rules below, so whoever sees the request first, it ends as one record:

1. **Importers leave this app's unsettled submissions alone** (:func:`import_unseen`): a listed
   request is not imported while it may be one of them (:func:`may_be_submission_of`): a record
   of this app in ``sending`` or ``unknown``, with no requestId yet, asking the same for the same
   customer (identifier, label, reason) and stored within ``MATCH_WINDOW`` of the request's
   start. Its own submission records it, or reconciliation finds it. List items carry no
   till/store (docs/CAPILLARY_API.md §4.1), so importers compare everything else and hold back a
   little more than needed; reconciliation, which searches by store and till, also compares those.
2. **The submission wins** (:func:`take_request_id`): when a copy was imported anyway (the
   gateway's clock or ``CAP_GATEWAY_TIMEZONE`` hours off, an older release still running), the
   app's record takes the requestId in the transaction that stores the answer; the copy's
   timeline and decisions move onto it and the copy is deleted. The person never sees it.
3. Two importers storing one request at once make one record: the unique requestId decides and
   the loser reads the winner's.

Imported records are read-only. The list endpoint does not report a request's till/store/zone/
concept, so those stay empty ("not reported by Capillary"); the rest comes from the echoed task.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy.exc import IntegrityError

from extensions import db
from gateway.payload import REQUEST_TYPE
from gateway.types import RequestInfo
from i18n import N_
from models import SENDING, UNKNOWN, Decision, DecisionRunItem, ReconcileCandidate, StatusEvent, TrackedRequest, utcnow
from services.lifecycle.updates import apply_info, note_for, parse_gateway_time

log = logging.getLogger(__name__)

IMPORTED = "imported"
TASK_KEY = "IntouchAPITask-Payload"
# How far apart the app's "stored" time and Capillary's startTime may be for the same request
# (clock skew plus the time the POST spent in flight).
MATCH_WINDOW = timedelta(minutes=15)
# This app's submissions that may exist in Capillary without the app knowing their requestId.
UNSETTLED_STATES = (SENDING, UNKNOWN)
IMPORT_NOTE = N_("Made in Capillary, outside this app; imported read-only.")
MERGED_NOTE = N_("Created in Capillary (found in Capillary's request list before this app had stored the answer).")
# Every column that points at a record, each handled by merge_copy (a test checks none is missed).
MERGED_REFERENCES = ("status_events.request_pk", "decisions.tracked_pk", "reconcile_candidates.record_pk",
                     "tracked_requests.resent_from_id", "decision_run_items.tracked_pk")
# What Capillary last said about a request, carried from a copy onto the record that takes it.
_CAPILLARY_FACTS = ("state", "request_type", "details", "maker_user_id", "maker_user_name", "start_time",
                    "end_time", "last_polled_at", "refresh_error", "refresh_error_at")


class RequestIdTaken(Exception):
    """Another of this app's own records already holds the requestId: nothing was merged."""


def task_values(info: RequestInfo) -> dict[str, Any]:
    """Return the customer, label and reason a request's echoed task asks for ("" when absent)."""
    task = info.details.get(TASK_KEY)
    task = task if isinstance(task, dict) else {}
    query, body = task.get("queryParams"), task.get("body")
    query = query if isinstance(query, dict) else {}
    body = body if isinstance(body, dict) else {}

    def text(mapping: dict, key: str) -> str:
        value = mapping.get(key)
        return value.strip() if isinstance(value, str) else ""

    return {
        "identifier_name": text(query, "identifierName"),
        "identifier_value": text(query, "identifierValue"),
        "label": text(body, "label"),
        "reason": text(body, "reason"),
        "source": text(query, "source"),
        "account_id": text(query, "accountId"),
        "use_async": text(query, "use_async").lower() == "true",
    }


def tracked_by_request_id(request_ids) -> dict[str, TrackedRequest]:
    """Return the records already tracking any of ``request_ids``, keyed by requestId."""
    wanted = list({rid for rid in request_ids if rid})
    found: dict[str, TrackedRequest] = {}
    for start in range(0, len(wanted), 500):  # stay far below any bind-parameter limit
        chunk = wanted[start:start + 500]
        for record in db.session.scalars(select(TrackedRequest).where(TrackedRequest.request_id.in_(chunk))):
            assert record.request_id is not None  # selected by it
            found[record.request_id] = record
    return found


def import_request(info: RequestInfo) -> TrackedRequest | None:
    """Store a read-only record for a request this app has never seen; commit it.

    Importers call :func:`import_unseen`, which first leaves out this app's own unsettled
    submissions. Return None when it is another request type than a customer status change, or
    cannot be stored: another process imported or adopted it first
    (the unique requestId decides), or its requestId is too long to be one of Capillary's.
    """
    if len(info.requestId) > 64:
        log.warning("not importing a request whose requestId is longer than 64 characters")
        return None
    if info.requestType and info.requestType.lower() != REQUEST_TYPE.lower():
        # Another workflow's request (a points redemption, a badge…) in the list: not this app's to track.
        return None
    values = task_values(info)
    started = parse_gateway_time(info.startTime) or utcnow()
    digest = hashlib.sha256(info.requestId.encode("utf-8")).hexdigest()[:48]
    record = TrackedRequest(
        submission_key=f"imp-{digest}",
        origin=IMPORTED,
        state="AdminTask",
        till_id="", store_id="", zone_id="", concept_id="",
        identifier_name=values["identifier_name"][:32],
        identifier_value=values["identifier_value"][:160],
        label=values["label"][:128],
        reason=values["reason"],
        source=values["source"][:64] or "INSTORE",
        account_id=values["account_id"][:64],
        use_async=values["use_async"],
        submitted_by=info.userName[:255] or None,
        created_at=started,
    )
    record.events.append(StatusEvent(state="AdminTask", at=started, note=IMPORT_NOTE))
    apply_info(record, info, note_for(info))
    ended = parse_gateway_time(info.endTime)
    if len(record.events) > 1 and ended is not None:
        record.events[-1].at = ended  # the decision happened then, not when we noticed it
    db.session.add(record)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return record


def may_be_submission_of(record: TrackedRequest, info: RequestInfo) -> bool:
    """Whether the listed ``info`` may be ``record``'s submission.

    The same identifier, label and reason, and started within ``MATCH_WINDOW`` of when the
    record was stored (or with no start time to compare). Till and store are not compared:
    list items do not carry them; callers that searched by them have compared them already.
    """
    values = task_values(info)
    asked = (values["identifier_name"], values["identifier_value"], values["label"], values["reason"])
    if asked != (record.identifier_name, record.identifier_value, record.label, record.reason.strip()):
        return False
    started = parse_gateway_time(info.startTime)
    return started is None or abs(started - record.created_at) <= MATCH_WINDOW


def unsettled_submissions() -> list[TrackedRequest]:
    """This app's submissions that may exist in Capillary with no requestId here: ``sending``/``unknown``."""
    return list(db.session.scalars(
        select(TrackedRequest).where(TrackedRequest.state.in_(UNSETTLED_STATES),
                                     TrackedRequest.request_id.is_(None), TrackedRequest.origin != IMPORTED)
    ))


def import_unseen(infos: list[RequestInfo]) -> tuple[dict[str, TrackedRequest], int]:
    """Make sure every listed request has a record; return ``(records by requestId, imported count)``.

    A listed request that may be one of this app's unsettled submissions is left out (no record,
    not imported): its submission records it, or reconciliation adopts it. Commits each import.
    """
    records = tracked_by_request_id(info.requestId for info in infos)
    unseen = [info for info in infos if info.requestId not in records]
    unsettled = unsettled_submissions() if unseen else []
    imported = 0
    for info in unseen:
        if info.requestId in records or any(may_be_submission_of(mine, info) for mine in unsettled):
            continue
        record = import_request(info)
        if record is None:
            record = tracked_by_request_id([info.requestId]).get(info.requestId)
        else:
            imported += 1
        if record is not None:
            records[info.requestId] = record
    return records, imported


# Built once (every submission runs it; see submission._BY_KEY). FOR UPDATE on PostgreSQL: an
# importer updating the copy finishes first.
_OTHER_HOLDER = (select(TrackedRequest)
                 .where(TrackedRequest.request_id == bindparam("request_id"), TrackedRequest.id != bindparam("pk"))
                 .with_for_update(of=TrackedRequest))


def take_request_id(record: TrackedRequest, request_id: str) -> bool:
    """Make ``record`` the one record of Capillary's ``request_id``; return whether a copy was merged.

    An imported copy holding it is this very submission, listed before its answer was stored:
    its row is locked, and :func:`merge_copy` moves its history onto ``record`` and deletes it.
    Nothing is flushed before the copy is gone, so the unique requestId never sees two holders.
    The caller then applies Capillary's answer (``apply_update``: forward only) and commits; if
    that commit meets a copy stored after this looked, it rolls back and calls this again.

    :raises RequestIdTaken: another of this app's records holds it (nothing was changed).
    """
    with db.session.no_autoflush:
        copy = db.session.scalar(_OTHER_HOLDER, {"request_id": request_id, "pk": record.id})
        if copy is None:
            return False
        if copy.origin != IMPORTED:
            raise RequestIdTaken(f"request {record.id}: requestId {request_id} belongs to request {copy.id}")
        merge_copy(copy, record)
    log.warning("request %s: took requestId %s over from the copy imported as request %s",
                record.id, request_id, copy.id)
    return True


def merge_copy(copy: TrackedRequest, record: TrackedRequest) -> None:
    """Move an imported ``copy``'s history onto ``record``, delete the copy, flush (the caller commits).

    ``record`` takes the requestId and what Capillary last said (state, details, times); the
    copy's timeline and decisions move over (its "imported" note now says how it was found);
    reconcile candidates are dropped, since the request is now known.
    """
    facts = {name: getattr(copy, name) for name in _CAPILLARY_FACTS}
    request_id = copy.request_id
    db.session.execute(
        update(StatusEvent).where(StatusEvent.request_pk == copy.id)
        .values(request_pk=record.id, note=case((StatusEvent.note == IMPORT_NOTE, MERGED_NOTE), else_=StatusEvent.note))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(update(Decision).where(Decision.tracked_pk == copy.id).values(tracked_pk=record.id)
                       .execution_options(synchronize_session=False))
    db.session.execute(update(DecisionRunItem).where(DecisionRunItem.tracked_pk == copy.id)
                       .values(tracked_pk=record.id).execution_options(synchronize_session=False))
    db.session.execute(update(TrackedRequest).where(TrackedRequest.resent_from_id == copy.id)
                       .values(resent_from_id=record.id).execution_options(synchronize_session=False))
    db.session.execute(delete(ReconcileCandidate).where(ReconcileCandidate.record_pk.in_((copy.id, record.id))))
    # An ORM-enabled DELETE: the copy also leaves the session, so no later flush touches it.
    db.session.execute(delete(TrackedRequest).where(TrackedRequest.id == copy.id))
    record.request_id = request_id
    for name, value in facts.items():
        setattr(record, name, value)
    record.error_kind = record.error_message = None
    record.updated_at = utcnow()
    db.session.flush()
    db.session.expire(record, ["events"])  # the moved events load with it next time
