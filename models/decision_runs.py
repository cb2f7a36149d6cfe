"""A decision on many waiting requests at once: one run, one item per request.

The run holds the one decision and message; each item is claimed (``pending`` → ``sending``)
by an UPDATE only one worker thread can win, and its request's decision is then claimed in
``decisions`` exactly as a single decision is, so no request ever gets two PUTs. The run's key
comes from the confirmation page, so posting it twice makes one run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from extensions import Model
from models.base import utcnow

# Run states.
RUN_QUEUED = "queued"
RUN_DONE = "done"
# Item states.
ITEM_PENDING = "pending"
ITEM_SENDING = "sending"  # claimed by a worker thread; its decision is being sent
ITEM_SENT = "sent"  # Capillary took the decision
ITEM_UNKNOWN = "unknown"  # sent, no clear answer: the request's page settles it
ITEM_REFUSED = "refused"  # not applied: not decidable any more, or Capillary refused it
ITEM_SKIPPED = "skipped"  # never sent: the checker's own request (maker-checker rule)
ITEM_FINISHED = (ITEM_SENT, ITEM_UNKNOWN, ITEM_REFUSED, ITEM_SKIPPED)


class DecisionRun(Model):
    """One decision and message a checker confirmed for many requests."""

    __tablename__ = "decision_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_key: Mapped[str] = mapped_column(String(64), unique=True)  # from the confirmation page
    decision: Mapped[str] = mapped_column(String(16))  # approved | rejected
    message: Mapped[str] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(16), default="en")  # the results' words, in the checker's language
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default=RUN_QUEUED)
    total: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class DecisionRunItem(Model):
    """One request of a run, and what became of its decision."""

    __tablename__ = "decision_run_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("decision_runs.id", ondelete="CASCADE"))
    tracked_pk: Mapped[int] = mapped_column(ForeignKey("tracked_requests.id"))
    position: Mapped[int] = mapped_column()  # the order the checker saw them in
    status: Mapped[str] = mapped_column(String(16), default=ITEM_PENDING)
    result: Mapped[str | None] = mapped_column(Text)  # what happened, in the run's language
    finished_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("run_id", "tracked_pk"),
        Index("ix_decision_run_items_run_status", "run_id", "status", "position"),
    )
