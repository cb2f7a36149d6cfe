"""A checker's decision on a request waiting in AdminTask, claimed before it is sent.

The partial unique index allows one *live* decision per Capillary requestId: inserting the
row is the claim, so a double click, two browsers or two app processes make one PUT at most.
A decision that surely did not reach Capillary is marked ``failed`` and so frees the claim
for another try; its row stays as the record of the attempt.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from extensions import Model
from models.base import utcnow

# Decision statuses.
DECISION_SENDING = "sending"  # claimed; the PUT is being sent
DECISION_SENT = "sent"  # Capillary accepted it
DECISION_UNKNOWN = "unknown"  # sent, but no readable answer: Capillary may have applied it
DECISION_FAILED = "failed"  # surely not applied (refused, unreachable, or settled otherwise)
LIVE_DECISION_STATUSES = (DECISION_SENDING, DECISION_SENT, DECISION_UNKNOWN)

_LIVE = text("status <> 'failed'")


class Decision(Model):
    """One attempt by a checker in this app to approve or reject one request."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64))  # Capillary's requestId
    tracked_pk: Mapped[int] = mapped_column(ForeignKey("tracked_requests.id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))  # approved | rejected
    message: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=DECISION_SENDING)
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("uq_decisions_live_request", "request_id", unique=True, sqlite_where=_LIVE, postgresql_where=_LIVE),
    )
