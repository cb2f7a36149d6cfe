"""Resend a request that was never created in Capillary: same values, a new submission key."""

from __future__ import annotations

import hashlib

from flask_babel import gettext as _
from sqlalchemy import select

from extensions import db
from gateway.payload import StatusChange
from models import NOT_CREATED, TrackedRequest
from services.actor import current_actor
from services.submission import submit


def resend_key(record: TrackedRequest) -> str:
    """The resend's submission key: new, but the same for every click on one record's button."""
    return hashlib.sha256(f"resend-of-{record.id}".encode()).hexdigest()[:32]


def resent_as(record: TrackedRequest) -> TrackedRequest | None:
    """Return the record that resent ``record``, if it was resent."""
    return db.session.scalar(select(TrackedRequest).where(TrackedRequest.resent_from_id == record.id))


def resend(record: TrackedRequest) -> tuple[TrackedRequest, bool]:
    """Submit ``record``'s values again as a new request; return ``(new record, sent now)``.

    Only a request made in this app and found ``not_created`` can be resent. Clicking twice
    (or in two browsers) gives the same key, so one new record and one gateway call.

    :raises ValueError: when ``record`` may not be resent.
    """
    if record.origin != "app" or record.state != NOT_CREATED:
        raise ValueError(_("Only a request that was not created in Capillary can be resent."))
    change = StatusChange(**record.form_values())
    return submit(change, resend_key(record), resent_from_id=record.id,
                  submitted_by=current_actor() or record.submitted_by)
