"""/readyz/jobs: says whether background work is being done, and why not.

With Redis: a live RQ worker (a real ``flask worker`` process), the queue's depth and its
oldest job's age. Without: this process's job threads. Either way: a recent successful sync.
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta

from extensions import db
from jobs import runs
from models import JobRun, utcnow
from tests.helpers import make_app
from tests.test_jobs import wait_for
from tests.test_workers import start_worker


def probe(app) -> tuple[int, dict]:
    response = app.test_client().get("/readyz/jobs")  # no sign-in: a probe
    return response.status_code, response.get_json()


def test_without_redis_it_reports_this_processs_job_threads(app):
    status, body = probe(app)
    assert status == 503
    assert body["backend"] == "embedded"
    assert "0 of 3 job threads of this process are running" in body["problems"]
    backend = app.extensions["jobs"]
    backend.start()
    try:
        status, body = probe(app)
        assert (status, body["status"], body["workers"], body["problems"]) == (200, "ok", 3, [])
    finally:
        backend.stop(timeout=5)


def test_a_sync_that_has_not_succeeded_for_too_long_is_a_problem(tmp_path):
    app = make_app(tmp_path, {"CAP_SYNC_MAX_AGE_SECONDS": "60"})
    app.extensions["jobs_started_at"] = time.time() - 120  # up for two minutes, no sync yet
    _, body = probe(app)
    assert "the status sync last succeeded never (CAP_SYNC_MAX_AGE_SECONDS=60)" in body["problems"]
    assert body["last_successful_sync"] is None

    assert app.test_cli_runner().invoke(args=["requests", "sync"]).exit_code == 0
    _, body = probe(app)
    assert not [problem for problem in body["problems"] if "sync" in problem]
    assert body["last_successful_sync"].endswith("Z")

    with app.app_context():  # the last success, 10 minutes ago (e.g. the timer stopped)
        db.session.get(JobRun, runs.SYNC).last_success_at = utcnow() - timedelta(minutes=10)
        db.session.commit()
    _, body = probe(app)
    assert any(problem.startswith("the status sync last succeeded at ") for problem in body["problems"])


def test_with_redis_it_needs_a_live_worker_and_a_short_queue(tmp_path, redis_settings):
    settings = {**redis_settings, "DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.sqlite3'}",
                "CAP_SYNC_INTERVAL_SECONDS": "0", "CAP_JOBS_MAX_WAIT_SECONDS": "1"}
    app = make_app(tmp_path, settings, SCHEMA_SETUP="upgrade")
    with app.app_context():
        app.extensions["jobs"].enqueue("bulk.resume")
    time.sleep(1.2)
    status, body = probe(app)
    assert status == 503
    assert (body["backend"], body["workers"], body["queued"]) == ("rq", 0, 1)
    assert body["oldest_queued_seconds"] >= 1
    problems = body["problems"]
    assert any(problem.startswith("no worker with a fresh heartbeat listens on the queue") for problem in problems)
    assert any(problem.startswith("the oldest queued job has waited") for problem in problems)

    worker = start_worker(settings, f"{settings['JOBS_QUEUE']}-probe", burst=False, log=tmp_path / "worker.log")
    try:
        # The worker also queues a resume job of its own as it starts: wait for the queue to drain.
        def settled() -> bool:
            status, body = probe(app)
            return status == 200 and (body["workers"], body["queued"], body["problems"]) == (1, 0, [])

        assert wait_for(settled, timeout=30), (probe(app), (tmp_path / "worker.log").read_text())
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
