"""The RQ job backend: jobs in Redis, run by ``flask worker`` processes.

Workers are RQ ``SimpleWorker``\\ s (no fork per job: the app, its database pool and its
gateway sessions are made once per worker). Each non-burst worker also runs a small
scheduler thread for the periodic tasks; a Redis ``SET NX EX`` per task and period makes
sure one worker of the whole fleet queues each run. On SIGTERM a worker lets the running job
hand its batch back (``jobs.stop_requested``) and then exits (RQ's warm shutdown).
"""

from __future__ import annotations

import logging
import re
import threading
import uuid

from flask import Flask
from redis import Redis
from rq import Queue, SimpleWorker

from jobs.tasks import BULK_RESUME, perform

log = logging.getLogger(__name__)

# Longer than a bulk time slice (services/bulk/runner.SLICE_SECONDS) plus the last calls.
JOB_TIMEOUT = 900
RESULT_TTL = 24 * 3600
FAILURE_TTL = 7 * 24 * 3600
SCHEDULER_NAP = 5.0


class RQBackend:
    """Queue jobs in Redis for ``flask worker`` processes."""

    name = "rq"

    def __init__(self, app: Flask):
        self.app = app
        self.redis = Redis.from_url(app.config["REDIS_URL"])
        self.queue = Queue(app.config["JOBS_QUEUE"], connection=self.redis)
        self.prefix = app.config["REDIS_KEY_PREFIX"]
        self.stopping = threading.Event()

    def enqueue(self, task: str, **kwargs) -> None:
        """Put a task on the Redis queue (raises ``redis.RedisError`` when Redis is down)."""
        # RQ allows letters, digits, "_" and "-" in ids; the prefix keeps a deployment's jobs findable.
        job_id = re.sub(r"[^A-Za-z0-9_-]", "-", f"{self.prefix}-{task}-{uuid.uuid4().hex}")
        self.queue.enqueue(perform, task, kwargs, job_id=job_id, job_timeout=JOB_TIMEOUT,
                           result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL, description=f"{task} {kwargs}")

    def work(self, *, burst: bool = False, name: str | None = None) -> bool:
        """Run a worker in this process until stopped (or, with ``burst``, until the queue is empty)."""
        worker = _Worker([self.queue], connection=self.redis, name=name)
        worker.stopping = self.stopping
        self.enqueue(BULK_RESUME, at_start=True)
        if not burst:
            threading.Thread(target=self._schedule, args=(worker.name,), daemon=True, name="jobs-scheduler").start()
        return worker.work(burst=burst, logging_level="INFO", with_scheduler=False)

    def schedule_due(self, worker_name: str) -> list[str]:
        """Queue each periodic task whose period has run out; return the tasks queued.

        The first worker to set the task's key (``SET NX EX period``) queues it; the others
        find the key and skip, until it expires a period later.
        """
        from jobs import periodic_tasks

        queued = []
        for task, kwargs, every in periodic_tasks(self.app.config):
            if self.redis.set(f"{self.prefix}:periodic:{task}", worker_name, nx=True, ex=every):
                self.enqueue(task, **kwargs)
                queued.append(task)
        return queued

    def _schedule(self, worker_name: str) -> None:
        while not self.stopping.wait(SCHEDULER_NAP):
            try:
                self.schedule_due(worker_name)
            except Exception:  # a Redis blip: try again next time
                log.exception("could not schedule the periodic tasks")


class _Worker(SimpleWorker):
    """A SimpleWorker whose warm shutdown also tells the running job to hand its work back."""

    stopping: threading.Event

    def handle_warm_shutdown_request(self):
        """SIGTERM/SIGINT: flag the running job, then RQ's usual warm shutdown."""
        self.stopping.set()
        super().handle_warm_shutdown_request()
