"""Requests in Capillary's list that could be a lost submission, kept for a person to choose.

Reconciliation stores these only when *several* listed requests match one record in
``unknown``/``sending``; one match is adopted at once and none leads to ``not_created``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from extensions import Model
from models.base import utcnow


class ReconcileCandidate(Model):
    """One listed Capillary request that matches a tracked record's values."""

    __tablename__ = "reconcile_candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_pk: Mapped[int] = mapped_column(ForeignKey("tracked_requests.id"), index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))
    start_time: Mapped[datetime | None] = mapped_column()
    user_name: Mapped[str] = mapped_column(String(255), default="")
    found_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("record_pk", "request_id"),)
