"""The last runs of periodic work (the status sync), shared by every process and host.

Web processes, ``flask worker`` processes and the ``flask requests sync`` timer all write here,
so the job probe (/readyz/jobs) and /metrics can tell when a sync last succeeded, whichever
process ran it. One row per task name; times are naive UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from extensions import Model


class JobRun(Model):
    """Counts and times of one periodic task's runs."""

    __tablename__ = "job_runs"

    task: Mapped[str] = mapped_column(String(64), primary_key=True)
    runs: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    last_started_at: Mapped[datetime | None] = mapped_column()
    last_success_at: Mapped[datetime | None] = mapped_column()
    last_failure_at: Mapped[datetime | None] = mapped_column()
    # One line on what went wrong last time (no secrets: the sync's own summary line).
    last_error: Mapped[str] = mapped_column(Text, default="")
