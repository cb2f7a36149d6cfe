"""The embedded job backend: worker threads inside the app process (no Redis needed).

Jobs live in an in-process queue, so a restart forgets the queue, not the work: confirmed
batches are in the database, and the worker queues every unfinished one when it starts.
Across several app processes (gunicorn workers) this stays safe, because bulk rows are
claimed in the database; only the rate limit is then per process (use Redis to share it).
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time

from flask import Flask

from jobs.tasks import BULK_RESUME, perform

log = logging.getLogger(__name__)

WORKER_THREADS = 2  # a long bulk job and the periodic sync do not wait for each other
STOP_TIMEOUT = 20.0  # seconds an exiting process waits for jobs to hand their work back


class EmbeddedBackend:
    """Run jobs on daemon threads of this process."""

    name = "embedded"

    def __init__(self, app: Flask, *, autostart: bool):
        self.app = app
        self.autostart = autostart
        self.stopping = threading.Event()
        self._queue: queue.Queue[tuple[str, dict]] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def enqueue(self, task: str, **kwargs) -> None:
        """Queue a task; it runs on a worker thread (or in :meth:`run_pending`, in tests)."""
        self._queue.put((task, kwargs))
        if self.autostart:
            self.start()

    def start(self) -> None:
        """Start the worker and scheduler threads once; queue the unfinished batches first."""
        if self._threads:
            return
        with self._lock:
            if self._threads:
                return
            self._queue.put((BULK_RESUME, {"at_start": True}))
            targets = [self._work] * WORKER_THREADS + [self._schedule]
            self._threads = [threading.Thread(target=target, daemon=True, name=f"jobs-{i}")
                             for i, target in enumerate(targets)]
            for thread in self._threads:
                thread.start()
            atexit.register(self.stop)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask running jobs to hand their work back, and wait for the threads (at exit)."""
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))

    def run_pending(self) -> list:
        """Run every queued task now, in this thread, until the queue is empty (for tests)."""
        results: list[object] = []
        while True:
            try:
                task, kwargs = self._queue.get_nowait()
            except queue.Empty:
                return results
            results.append(perform(task, kwargs, self.app))

    def pending(self) -> list[tuple[str, dict]]:
        """The queued tasks, oldest first (for tests and the progress page)."""
        return list(self._queue.queue)

    def threads_expected(self) -> int:
        """How many job threads this process runs once started (workers and the scheduler)."""
        return WORKER_THREADS + 1

    def threads_alive(self) -> int:
        """How many of them are running now (0 before the first request starts them)."""
        return sum(thread.is_alive() for thread in self._threads)

    def _work(self) -> None:
        while not self.stopping.is_set():
            try:
                task, kwargs = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            try:
                perform(task, kwargs, self.app)
            except Exception:  # one failed job must not kill the worker thread
                log.exception("background job %s failed", task)

    def _schedule(self) -> None:
        from jobs import periodic_tasks

        due = {task: time.monotonic() + every for task, _kwargs, every in periodic_tasks(self.app.config)}
        while not self.stopping.wait(1.0):
            for task, kwargs, every in periodic_tasks(self.app.config):
                if time.monotonic() >= due[task]:
                    due[task] = time.monotonic() + every
                    self._queue.put((task, kwargs))
