"""Background jobs: the embedded worker threads and RQ on the real Redis (a real worker, burst mode)."""

from __future__ import annotations

import signal
import time

import pytest
from rq import Queue

import jobs
from extensions import db
from jobs import tasks
from jobs.rq_backend import RQBackend
from models import Batch
from services.bulk import batches
from tests.bulk_helpers import created_identifiers, make_batch
from tests.helpers import make_app


def wait_for(condition, timeout: float = 30.0, interval: float = 0.05) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(interval)
    return result


def batch_state(app, batch_id: int) -> str:
    with app.app_context():
        return db.session.get(Batch, batch_id).state


# -- embedded ------------------------------------------------------------------------------------


def test_without_redis_jobs_run_in_process_and_do_not_start_under_testing(app):
    backend = app.extensions["jobs"]
    assert backend.name == "embedded" and backend.autostart is False
    with app.app_context():
        jobs.enqueue(tasks.REQUESTS_SYNC)
    assert backend.pending() == [("requests.sync", {})]
    [summary] = backend.run_pending()
    assert summary.startswith("sync: ")  # services/sync.py's one-line summary
    assert backend.pending() == []


def test_the_embedded_worker_threads_send_a_batch_and_stop_cleanly(app, sandbox):
    batch_id = make_batch(app, 5)
    backend = app.extensions["jobs"]
    backend.start()  # queues the resume of unfinished batches first: that finds this one
    try:
        assert wait_for(lambda: batch_state(app, batch_id) == "done")
    finally:
        backend.stop(timeout=10)
    assert not any(thread.is_alive() for thread in backend._threads)
    assert sorted(created_identifiers(sandbox)) == [f"EXT-{n}" for n in range(1, 6)]


def test_a_stopping_worker_hands_its_batch_back(app, sandbox):
    batch_id = make_batch(app, 6)
    backend = app.extensions["jobs"]
    backend.stopping.set()  # as at process exit: the job stops before claiming anything
    with app.app_context():
        assert tasks.bulk_run(batch_id) == "stopped"
    assert backend.pending() == [("bulk.run", {"batch_id": batch_id})]  # queued again
    assert batch_state(app, batch_id) == "queued" and sandbox.created_count == 0


def test_periodic_tasks_follow_the_settings(tmp_path):
    app = make_app(tmp_path, CAP_SYNC_INTERVAL_SECONDS=120, CAP_BULK_LEASE_SECONDS=30)
    assert jobs.periodic_tasks(app.config) == [("bulk.resume", {}, 30), ("requests.sync", {}, 120)]
    app.config["CAP_SYNC_INTERVAL_SECONDS"] = 0
    assert jobs.periodic_tasks(app.config) == [("bulk.resume", {}, 30)]


# -- RQ on the real Redis ------------------------------------------------------------------------


@pytest.fixture
def rq_app(tmp_path, redis_settings):
    return make_app(tmp_path, redis_settings)


def run_burst_worker(app, name: str) -> None:
    """Run a real RQ worker in this process until the queue is empty (restoring signal handlers)."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with app.app_context():
            app.extensions["jobs"].work(burst=True, name=name)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_with_redis_confirming_queues_an_rq_job_and_a_burst_worker_sends_the_batch(rq_app, redis_settings):
    from tests.helpers import sign_in

    backend = rq_app.extensions["jobs"]
    assert isinstance(backend, RQBackend)
    sandbox = rq_app.extensions["sandbox_app"].extensions["sandbox"]
    batch_id = make_batch(rq_app, 4, confirm=False)
    client = rq_app.test_client()
    sign_in(client, "agent")
    client.post(f"/bulk/{batch_id}/confirm")
    queue = Queue(redis_settings["JOBS_QUEUE"], connection=backend.redis)
    [job] = queue.jobs
    assert job.args == ("bulk.run", {"batch_id": batch_id})
    assert job.id.startswith(redis_settings["REDIS_KEY_PREFIX"])

    run_burst_worker(rq_app, f"{redis_settings['JOBS_QUEUE']}-worker")
    assert queue.count == 0
    assert batch_state(rq_app, batch_id) == "done"
    assert sorted(created_identifiers(sandbox)) == ["EXT-1", "EXT-2", "EXT-3", "EXT-4"]


def test_a_worker_resumes_batches_whose_job_was_lost(rq_app, redis_settings):
    sandbox = rq_app.extensions["sandbox_app"].extensions["sandbox"]
    batch_id = make_batch(rq_app, 3)  # confirmed, but no job was ever queued (say Redis was down)
    run_burst_worker(rq_app, f"{redis_settings['JOBS_QUEUE']}-worker")
    assert batch_state(rq_app, batch_id) == "done"
    assert sorted(created_identifiers(sandbox)) == ["EXT-1", "EXT-2", "EXT-3"]


def test_one_worker_of_the_fleet_queues_each_periodic_run(tmp_path, redis_settings):
    first = make_app(tmp_path, redis_settings, CAP_SYNC_INTERVAL_SECONDS=60)
    second = make_app(tmp_path, redis_settings, CAP_SYNC_INTERVAL_SECONDS=60)
    assert first.extensions["jobs"].schedule_due("worker-1") == ["bulk.resume", "requests.sync"]
    assert second.extensions["jobs"].schedule_due("worker-2") == []
    queue = Queue(redis_settings["JOBS_QUEUE"], connection=first.extensions["jobs"].redis)
    assert sorted(job.args[0] for job in queue.jobs) == ["bulk.resume", "requests.sync"]


def test_flask_worker_needs_redis(app):
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code != 0
    assert "REDIS_URL is not set" in result.output


def test_flask_worker_refuses_a_database_that_is_not_migrated(tmp_path, redis_settings):
    app = make_app(tmp_path, redis_settings, SCHEMA_SETUP="check")
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code != 0
    assert "flask --app app db upgrade" in result.output


def test_redis_down_at_confirm_leaves_the_batch_queued_for_later(tmp_path):
    from tests.helpers import sign_in

    app = make_app(tmp_path, {"REDIS_URL": "redis://127.0.0.1:1/0"})
    batch_id = make_batch(app, 2, confirm=False)
    client = app.test_client()
    sign_in(client, "agent")
    response = client.post(f"/bulk/{batch_id}/confirm")
    assert response.status_code == 303
    assert batch_state(app, batch_id) == "queued"
    with app.app_context():
        assert batch_id in batches.resumable_batches(at_start=True)
