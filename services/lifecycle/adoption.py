"""Import requests made outside this app (e.g. in Capillary's own UI) as read-only records.

The list endpoint does not report a request's till/store/zone/concept, so those stay empty
("not reported by Capillary"); everything else comes from the echoed task payload.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from extensions import db
from gateway.payload import REQUEST_TYPE
from gateway.types import RequestInfo
from i18n import N_
from models import StatusEvent, TrackedRequest, utcnow
from services.lifecycle.updates import apply_info, note_for, parse_gateway_time

log = logging.getLogger(__name__)

IMPORTED = "imported"
TASK_KEY = "IntouchAPITask-Payload"


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

    Return None when it is another request type than a customer status change, or cannot be
    stored: another process imported or adopted it first
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
    record.events.append(StatusEvent(state="AdminTask", at=started,
                                     note=N_("Made in Capillary, outside this app; imported read-only.")))
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


def import_unseen(infos: list[RequestInfo]) -> tuple[dict[str, TrackedRequest], int]:
    """Make sure every listed request has a record; return ``(records by requestId, imported count)``."""
    records = tracked_by_request_id(info.requestId for info in infos)
    imported = 0
    for info in infos:
        if info.requestId in records:
            continue
        record = import_request(info)
        if record is None:
            record = tracked_by_request_id([info.requestId]).get(info.requestId)
        else:
            imported += 1
        if record is not None:
            records[info.requestId] = record
    return records, imported
