"""Real ``flask worker`` processes on the real Redis and a shared database, against the
standalone sandbox over a socket: a killed worker's batch resumes with no row sent twice, and
two workers sharing a queue send every row exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Batch, BatchRow, TrackedRequest, utcnow
from sandbox import create_app as create_sandbox_app
from tests.bulk_helpers import created_identifiers, make_batch
from tests.databases import database_url
from tests.helpers import make_app
from tests.live_server import serve_wsgi
from tests.test_jobs import wait_for

ROOT = Path(__file__).resolve().parents[1]
LEASE_SECONDS = 2


@pytest.fixture
def sandbox_server():
    """The standalone sandbox gateway on a real socket, each call taking 40 ms."""
    sandbox_app = create_sandbox_app({"SANDBOX_LATENCY_MS": 40})
    with serve_wsgi(sandbox_app) as url:
        yield url, sandbox_app.extensions["sandbox"]


@pytest.fixture
def settings(tmp_path, redis_settings, sandbox_server):
    """Real-mode settings shared by the test's app and its worker processes."""
    url, _state = sandbox_server
    return {
        **redis_settings,
        "DATABASE_URL": database_url(tmp_path),
        "CAP_GATEWAY_URL": url,
        "CAP_ORG_ID": "100",
        "CAP_UI_AUTH_TOKEN": "worker-test-maker-token",
        "CAP_INTOUCH_HOST": "https://intouch.example.invalid",
        "CAP_INTOUCH_USERNAME": "till.user",
        "CAP_INTOUCH_PASSWORD": "till-password",
        "SECRET_KEY": "s" * 40,
        "CAP_TOKEN_KEY": "UiTts56cKbRheuFgKONStJ1b8foA01RVD8zwV34rLec=",
        "CAP_BULK_LEASE_SECONDS": str(LEASE_SECONDS),
        "CAP_BULK_RATE_PER_MINUTE": "100000",
        "CAP_BULK_CONCURRENCY": "4",
        "CAP_SYNC_INTERVAL_SECONDS": "0",
    }


@pytest.fixture
def app(tmp_path, settings):
    """The app in real mode, its database made by the migrations (as workers insist)."""
    return make_app(tmp_path, settings, SCHEMA_SETUP="upgrade")


def start_worker(settings: dict, name: str, *, burst: bool, log: Path) -> subprocess.Popen:
    """Start ``flask --app app worker`` as its own process with ``settings`` as its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAP_", "FLASK_", "DATABASE_URL", "REDIS_"))}
    env.update(settings, PYTHONUNBUFFERED="1")
    args = [sys.executable, "-m", "flask", "--app", "app", "worker", "--name", name] + (["--burst"] if burst else [])
    with log.open("wb") as output:  # the child keeps its own copy of the file descriptor
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)


def counts(app, batch_id: int) -> Counter:
    with app.app_context():
        return Counter(db.session.scalars(select(BatchRow.status).where(BatchRow.batch_id == batch_id)))


def test_a_killed_workers_batch_resumes_without_sending_any_row_twice(app, settings, sandbox_server, tmp_path):
    _url, sandbox = sandbox_server
    rows = 150
    batch_id = make_batch(app, rows)
    with app.app_context():
        app.extensions["jobs"].enqueue("bulk.run", batch_id=batch_id)

    first = start_worker(settings, f"{settings['JOBS_QUEUE']}-first", burst=False, log=tmp_path / "first.log")
    try:
        assert wait_for(lambda: counts(app, batch_id)["done"] >= 20, timeout=60), (tmp_path / "first.log").read_text()
    finally:
        first.send_signal(signal.SIGKILL)  # no goodbye: as when a machine dies
        first.wait(timeout=10)
    at_kill = counts(app, batch_id)
    assert at_kill["pending"] > 0, "the worker finished before it was killed: nothing left to resume"
    in_flight = at_kill["sending"]

    # The dead worker's lease runs out; a new worker takes the batch over and finishes it.
    with app.app_context():
        assert wait_for(lambda: db.session.scalar(select(Batch.lease_until).where(Batch.id == batch_id)) < utcnow(),
                        timeout=LEASE_SECONDS * 5)
    second = start_worker(settings, f"{settings['JOBS_QUEUE']}-second", burst=True, log=tmp_path / "second.log")
    assert second.wait(timeout=120) == 0, (tmp_path / "second.log").read_text()

    final = counts(app, batch_id)
    assert final == Counter({"done": rows - in_flight, "interrupted": in_flight}) - Counter()
    created = Counter(created_identifiers(sandbox))
    assert created and max(created.values()) == 1  # no customer's request was created twice
    with app.app_context():
        assert db.session.get(Batch, batch_id).state == "done"
        done_lines = db.session.scalars(select(BatchRow.line).where(
            BatchRow.batch_id == batch_id, BatchRow.status == "done")).all()
        assert db.session.scalar(select(func.count()).select_from(TrackedRequest)) == rows
    # Every finished row reached the sandbox exactly once; an interrupted one at most once.
    assert {f"EXT-{line - 1}" for line in done_lines} <= set(created)
    assert rows - in_flight <= sandbox.created_count <= rows


def test_two_workers_sharing_a_queue_send_every_row_exactly_once(app, settings, sandbox_server, tmp_path):
    _url, sandbox = sandbox_server
    batches = [make_batch(app, 40) for _ in range(3)]
    with app.app_context():
        for batch_id in batches * 2:  # every batch queued twice, as a retry or a resume might
            app.extensions["jobs"].enqueue("bulk.run", batch_id=batch_id)
    workers = [start_worker(settings, f"{settings['JOBS_QUEUE']}-{n}", burst=True, log=tmp_path / f"w{n}.log")
               for n in (1, 2)]
    for n, worker in enumerate(workers, start=1):
        assert worker.wait(timeout=120) == 0, (tmp_path / f"w{n}.log").read_text()
    for batch_id in batches:
        assert counts(app, batch_id) == Counter({"done": 40})
    assert sandbox.created_count == 120
    assert Counter(created_identifiers(sandbox)) == Counter({f"EXT-{n}": 3 for n in range(1, 41)})  # once a batch
