"""Verify in Capillary that an approved status change really took: read the customer's status log.

Capillary's ``approved`` says the Intouch task ran; the status log (docs/CAPILLARY_API.md §10)
says what the customer's status is now. :func:`before_fields` gives the status read when the
request was submitted (the timeline's first event then says so, :data:`NOTE_BEFORE`); :func:`verify` reads
the log afresh after approval and stores what it says (status, label, when), with a timeline
event. The status page and the periodic sync (:func:`verify_pending`) call it; a request stays
unverified (read again on the next sync) until the log shows the requested label. Only status
and label are stored, never a name.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from i18n import N_
from models import StatusEvent, TrackedRequest, utcnow
from services import customers

log = logging.getLogger(__name__)

# How long after submission a request is still verified by the sync, and how many per run.
VERIFY_WINDOW = timedelta(days=7)
VERIFY_BATCH = 50
NOTE_BEFORE = N_("Stored in the app with the customer's status read in Capillary; sending to Capillary.")
NOTE_VERIFIED = N_("Verified in Capillary: the customer's status is now the one requested.")
NOTE_NOT_YET = N_("Capillary reports the change as applied, but the customer's status log does not show it yet.")


def before_fields(card: customers.Card | None) -> dict:
    """The record's "before" columns from the submission's card (empty when nothing is known)."""
    current = card.customer.current if card is not None and card.customer is not None else None
    if current is None:
        return {}
    return {"customer_status_before": current.status[:64], "customer_label_before": current.label[:128],
            "customer_before_at": utcnow()}


def due(record: TrackedRequest) -> bool:
    """Whether ``record`` is approved and its status log does not yet show the requested label."""
    return record.state == "approved" and not record.customer_verified


def read_recently(record: TrackedRequest) -> bool:
    """Whether the status log was read for ``record`` within ``CAP_STATUS_MIN_REFRESH_SECONDS``.

    The same limit as a request's own refresh: however many pages show a request whose log does
    not show the change yet, Capillary is asked about it (and the record written) at most once
    per interval.
    """
    interval = timedelta(seconds=current_app.config["CAP_STATUS_MIN_REFRESH_SECONDS"])
    return record.customer_after_at is not None and record.customer_after_at > utcnow() - interval


def verify(record: TrackedRequest) -> bool | None:
    """Read the status log afresh; store and return whether it shows the requested label.

    None when not due, when it was read within the refresh interval, when look-ups are off, or
    when Capillary could not say (the next page view or sync tries again). Commits.
    """
    if not due(record) or not customers.enabled() or read_recently(record):
        return None
    card = customers.card(record.identifier_name, record.identifier_value, record.source or "INSTORE",
                          record.account_id or "", fresh=True)
    current = card.customer.current if card is not None and card.customer is not None else None
    if current is None:
        return None
    changed = (current.label, current.status) != (record.customer_label_after, record.customer_status_after)
    record.customer_label_after = current.label[:128]
    record.customer_status_after = current.status[:64]
    record.customer_after_at = utcnow()
    if changed:
        note = NOTE_VERIFIED if record.customer_verified else NOTE_NOT_YET
        record.events.append(StatusEvent(state=record.state, note=note, at=record.customer_after_at))
    _commit()
    return record.customer_verified


def verify_pending(limit: int = VERIFY_BATCH) -> int:
    """Verify approved-but-unverified requests made in the last week (the periodic sync); return how many verified."""
    if not customers.enabled():
        return 0
    since = utcnow() - VERIFY_WINDOW
    pending = db.session.scalars(
        select(TrackedRequest)
        .where(TrackedRequest.state == "approved", TrackedRequest.created_at >= since,
               or_(TrackedRequest.customer_label_after.is_(None),
                   TrackedRequest.customer_label_after != TrackedRequest.label))
        .order_by(TrackedRequest.created_at.desc()).limit(limit)
    ).all()
    verified = 0
    for record in pending:
        try:
            verified += bool(verify(record))
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("verification of request %s could not be stored", record.id)
    return verified


def _commit() -> None:
    try:
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        raise

