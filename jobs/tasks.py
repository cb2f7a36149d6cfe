"""The background tasks, by name: what a job runs, inside an app context.

A job is ``(task name, keyword arguments)``: plain data that RQ can store in Redis and the
in-process worker can hold in a queue. :func:`perform` runs one, in a fresh app context (so
each job has its own database session), whichever backend delivered it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, current_app, has_app_context

log = logging.getLogger(__name__)

BULK_RUN = "bulk.run"
BULK_RESUME = "bulk.resume"
BULK_CHECK = "bulk.check"
REQUESTS_SYNC = "requests.sync"
REQUESTS_RECONCILE = "requests.reconcile"
DECISIONS_RUN = "decisions.run"


def bulk_run(batch_id: int) -> str:
    """Send a confirmed batch (services/bulk/runner.py); queue it again if it was cut short.

    Rows a dead worker left mid-call are looked up in Capillary's list straight away
    (``requests.reconcile``) rather than at the next periodic sync.
    """
    import jobs
    from services.bulk import batches, runner

    outcome = runner.run_batch(batch_id, should_stop=jobs.stop_requested)
    if outcome in (runner.SLICED, runner.STOPPED):
        jobs.enqueue(BULK_RUN, batch_id=batch_id)
    lost = batches.lost_request_ids(batch_id)
    if lost:
        jobs.enqueue(REQUESTS_RECONCILE, record_ids=lost)
    return outcome


def bulk_check(batch_id: int) -> str:
    """Check a file's customers in Capillary (services/bulk/customer_check.py); queue it again if stopped."""
    import jobs
    from services.bulk import customer_check

    outcome = customer_check.check_batch(batch_id, should_stop=jobs.stop_requested)
    if outcome == customer_check.STOPPED:
        jobs.enqueue(BULK_CHECK, batch_id=batch_id)
    return outcome


def decisions_run(run_id: int) -> int:
    """Send a multi-decision's pending decisions (services/lifecycle/decision_runs.py); queue it again if stopped."""
    import jobs
    from services.lifecycle import decision_runs

    finished = decision_runs.run_decisions(run_id, should_stop=jobs.stop_requested)
    if jobs.stop_requested():
        jobs.enqueue(DECISIONS_RUN, run_id=run_id)
    return finished


def requests_reconcile(record_ids: list[int]) -> dict[str, int]:
    """Reconcile these lost submissions with Capillary's list (services/reconcile.py); count outcomes."""
    from extensions import db
    from models import TrackedRequest
    from services.lifecycle import reconcile

    outcomes: dict[str, int] = {}
    for record_id in record_ids:
        record = db.session.get(TrackedRequest, record_id)
        if record is not None:
            outcome = reconcile.reconcile(record).outcome
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def bulk_resume(at_start: bool = False) -> int:
    """Queue every confirmed batch no live worker holds (after a restart or a worker's death)."""
    import jobs
    from services.bulk import batches

    batch_ids = batches.resumable_batches(at_start=at_start)
    for batch_id in batch_ids:
        jobs.enqueue(BULK_RUN, batch_id=batch_id)
    if batch_ids:
        log.info("resuming bulk batch(es) %s", ", ".join(map(str, batch_ids)))
    return len(batch_ids)


def requests_sync() -> str:
    """Sync open requests with Capillary's list and reconcile lost submissions (services/lifecycle/sync.py)."""
    from jobs import runs
    from services.lifecycle import sync

    summary = runs.run_recorded(runs.SYNC, sync.sync_requests, sync_failure)
    return summary.line()


def sync_failure(summary) -> str | None:
    """A sync run failed when every gateway call it needed failed; say so in its own words."""
    return summary.line() if summary.did_nothing else None


TASKS: dict[str, Callable[..., object]] = {
    BULK_RUN: bulk_run, BULK_RESUME: bulk_resume, REQUESTS_SYNC: requests_sync, REQUESTS_RECONCILE: requests_reconcile,
    DECISIONS_RUN: decisions_run, BULK_CHECK: bulk_check,
}


def perform(task: str, kwargs: dict | None = None, app: Flask | None = None) -> object:
    """Run the task ``task`` with ``kwargs`` in a fresh app context; return its result.

    :param app: the app to run in; default the current one, else a new ``create_app()``
        (as when a plain ``rq worker`` runs the job).
    """
    if app is None:
        if has_app_context():
            app = current_app._get_current_object()  # type: ignore[attr-defined]  # typed as Flask, is a proxy
        else:
            from app import create_app

            app = create_app()
    with app.app_context():
        return TASKS[task](**(kwargs or {}))
