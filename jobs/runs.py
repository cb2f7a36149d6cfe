"""Record each run of periodic work in the database (models/job_runs.py).

Whoever runs the status sync (a worker, the in-process scheduler, ``flask requests sync`` from
a timer) records it here, so the job probe and /metrics see the last success of the whole
deployment, not of one process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from extensions import db
from models import JobRun, utcnow

log = logging.getLogger(__name__)

SYNC = "requests.sync"
T = TypeVar("T")


def run_recorded(task: str, work: Callable[[], T], failed: Callable[[T], str | None]) -> T:
    """Run ``work()`` and record the run under ``task``; return what it returned.

    :param failed: given the result, a one-line reason when the run counts as failed, else None.
        An exception from ``work`` is recorded as a failure and raised again.
    """
    started = utcnow()
    try:
        result = work()
    except Exception as exc:
        db.session.rollback()
        _record(task, started, f"{type(exc).__name__}: the run stopped with an error")
        raise
    _record(task, started, failed(result))
    return result


def _record(task: str, started: datetime, error: str | None) -> None:
    now = utcnow()
    changes = {"runs": JobRun.runs + 1, "last_started_at": started}
    if error:
        changes.update(failures=JobRun.failures + 1, last_failure_at=now, last_error=error[:1000])
    else:
        changes.update(last_success_at=now)
    try:
        # One atomic UPDATE: runs in other processes at the same moment add up, never overwrite.
        updated = db.session.execute(update(JobRun).where(JobRun.task == task).values(**changes))
        if updated.rowcount == 0:  # type: ignore[attr-defined]  # an UPDATE gives a CursorResult
            db.session.add(JobRun(task=task, runs=1, failures=1 if error else 0, last_started_at=started,
                                  last_success_at=None if error else now, last_failure_at=now if error else None,
                                  last_error=(error or "")[:1000]))
        db.session.commit()
    except IntegrityError:  # another process made the row first: count this run on it
        db.session.rollback()
        _record(task, started, error)
    except SQLAlchemyError:  # the run itself is done; failing to note it must not undo it
        db.session.rollback()
        log.exception("could not record the run of %s", task)


def last_run(task: str) -> JobRun | None:
    """Return the task's run record, if it ever ran."""
    return db.session.scalar(select(JobRun).where(JobRun.task == task))
