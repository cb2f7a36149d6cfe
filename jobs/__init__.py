"""Background jobs: bulk submissions, the periodic status sync, resuming interrupted batches.

Two backends behind one small API (:func:`enqueue`):

- **RQ** on Redis when ``REDIS_URL`` is set: jobs go to the ``JOBS_QUEUE`` queue and run in
  ``flask worker`` processes (any number, on any host sharing the database and Redis);
- **embedded** otherwise: a couple of worker threads inside the app process, started with
  the first request (never under ``TESTING`` unless a test starts them).

Either way each worker also schedules the periodic tasks (:func:`periodic_tasks`).
"""

from __future__ import annotations

import time

from flask import Flask, current_app

from jobs.tasks import BULK_RESUME, REQUESTS_SYNC


def init_app(app: Flask) -> None:
    """Choose the backend for ``app`` (``flask worker`` is registered from app.COMMAND_MODULES)."""
    # The job probe gives a new process this long before it expects a first sync (jobs/status.py).
    app.extensions["jobs_started_at"] = time.time()
    if app.config["REDIS_URL"]:
        from jobs.rq_backend import RQBackend

        app.extensions["jobs"] = RQBackend(app)
    else:
        from jobs.embedded import EmbeddedBackend

        backend = app.extensions["jobs"] = EmbeddedBackend(app, autostart=not app.testing)
        if backend.autostart:
            app.before_request(backend.start)  # idempotent: starts the threads on the first request


def backend(app: Flask | None = None):
    """Return the app's job backend (``RQBackend`` or ``EmbeddedBackend``)."""
    return (app or current_app).extensions["jobs"]


def enqueue(task: str, **kwargs) -> None:
    """Queue the task ``task`` (a name from :data:`jobs.tasks.TASKS`) with keyword arguments."""
    backend().enqueue(task, **kwargs)


def stop_requested() -> bool:
    """True once this process's worker was asked to stop: long jobs hand their work back."""
    return backend().stopping.is_set()


def periodic_tasks(config) -> list[tuple[str, dict, int]]:
    """The tasks every worker schedules: ``(task, kwargs, every N seconds)``."""
    tasks: list[tuple[str, dict, int]] = [(BULK_RESUME, {}, config["CAP_BULK_LEASE_SECONDS"])]
    if config["CAP_SYNC_INTERVAL_SECONDS"]:
        tasks.append((REQUESTS_SYNC, {}, config["CAP_SYNC_INTERVAL_SECONDS"]))
    return tasks
