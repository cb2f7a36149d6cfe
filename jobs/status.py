"""Is the job system doing its work? For the job probe (/readyz/jobs) and /metrics.

- With ``REDIS_URL``: the RQ workers listening on ``JOBS_QUEUE`` whose heartbeat is fresh, how
  many jobs wait, and how long the oldest has waited.
- Without: the worker threads of *this* process (each app process runs its own).
- Either way: when the status sync last succeeded, from the database (jobs/runs.py), whoever
  ran it (a worker, a thread, or ``flask requests sync`` from a timer).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Flask

from jobs import runs

# An RQ SimpleWorker renews its heartbeat at the latest every job timeout plus 60 s while a job
# runs (jobs/rq_backend.JOB_TIMEOUT), and about every 7 minutes when idle.
HEARTBEAT_FRESH_SECONDS = 900 + 60


@dataclass
class JobSystem:
    """What the probe reports; ``problems`` empty means healthy."""

    backend: str
    workers: int = 0
    queued: int = 0
    oldest_queued_seconds: float | None = None
    last_sync: datetime | None = None
    sync_runs: int = 0
    sync_failures: int = 0
    problems: list[str] = field(default_factory=list)


def job_system(app: Flask, now: float | None = None) -> JobSystem:
    """Look at the job backend and the last sync (inside an app context); never raises."""
    now = time.time() if now is None else now
    backend = app.extensions["jobs"]
    found = JobSystem(backend=backend.name)
    try:
        if backend.name == "rq":
            _rq(app, backend, found, now)
        else:
            _embedded(backend, found)
    except Exception as exc:  # noqa: BLE001 - a probe reports, it does not fail
        found.problems.append(f"the job queue could not be read ({type(exc).__name__})")
    _sync(app, found, now)
    return found


def _rq(app: Flask, backend, found: JobSystem, now: float) -> None:
    from rq import Worker
    from rq.job import Job

    alive = 0
    for worker in Worker.all(connection=backend.redis, queue=backend.queue):
        beat = epoch_seconds(worker.last_heartbeat)
        if beat is not None and now - beat <= HEARTBEAT_FRESH_SECONDS:
            alive += 1
    found.workers = alive
    found.queued = backend.queue.count
    oldest_id = next(iter(backend.queue.get_job_ids(0, 1)), None)
    oldest = Job.fetch(oldest_id, connection=backend.redis) if oldest_id else None
    enqueued = epoch_seconds(oldest.enqueued_at) if oldest is not None and oldest.enqueued_at else None
    if enqueued is not None:
        found.oldest_queued_seconds = max(now - enqueued, 0.0)
    if not alive:
        found.problems.append(f"no worker with a fresh heartbeat listens on the queue {app.config['JOBS_QUEUE']}: "
                              "start `flask --app app worker`")
    limit = app.config["CAP_JOBS_MAX_WAIT_SECONDS"]
    if found.oldest_queued_seconds is not None and found.oldest_queued_seconds > limit:
        found.problems.append(f"the oldest queued job has waited {found.oldest_queued_seconds:.0f} s "
                              f"(more than CAP_JOBS_MAX_WAIT_SECONDS={limit})")


def _embedded(backend, found: JobSystem) -> None:
    found.workers = backend.threads_alive()
    found.queued = len(backend.pending())
    expected = backend.threads_expected()
    if found.workers < expected:
        found.problems.append(f"{found.workers} of {expected} job threads of this process are running")


def _sync(app: Flask, found: JobSystem, now: float) -> None:
    from extensions import db

    try:
        record = runs.last_run(runs.SYNC)
    except Exception as exc:  # noqa: BLE001
        db.session.rollback()
        found.problems.append(f"the last sync could not be read ({type(exc).__name__})")
        return
    if record is not None:
        found.last_sync = record.last_success_at
        found.sync_runs, found.sync_failures = record.runs, record.failures
    max_age = app.config["CAP_SYNC_MAX_AGE_SECONDS"]
    if not max_age:
        return
    since = (epoch_seconds(found.last_sync) if found.last_sync else None) or app.extensions["jobs_started_at"]
    if now - since > max_age:
        when = f"at {found.last_sync:%Y-%m-%d %H:%M:%S} UTC" if found.last_sync else "never"
        found.problems.append(f"the status sync last succeeded {when} (CAP_SYNC_MAX_AGE_SECONDS={max_age})")


def epoch_seconds(moment: datetime | None) -> float | None:
    """Seconds since the epoch of a UTC time (naive times are UTC, as the database keeps them)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
