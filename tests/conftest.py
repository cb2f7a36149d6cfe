"""Shared fixtures: an app on a throw-away database wired to the embedded sandbox.

The database is a SQLite file per test, or, when ``TEST_DATABASE_URL`` names a PostgreSQL
database (scripts/test's second run), a schema of its own in that database (connections
select it through ``search_path``), dropped after the test. Tables come straight from the
models (``SCHEMA_SETUP="create_all"``); tests/test_migrations.py checks the migrations.
"""

from __future__ import annotations

import uuid

import pytest

from extensions import db
from tests.databases import clean_up
from tests.helpers import TEST_REDIS_URL, VALID_FORM, make_app, sign_in, signed_in_client


@pytest.fixture(autouse=True)
def _throw_away_databases():
    """After each test: close the apps' connections and drop the PostgreSQL schemas it made."""
    yield
    clean_up()


@pytest.fixture
def redis_settings():
    """Settings putting an app's jobs on the real Redis, under names no other test (or run) uses.

    The queue, the app's key prefix and every job id carry a tag; all keys with it are
    deleted after the test (the Redis database itself is never flushed: it may be shared).
    """
    from redis import Redis

    client = Redis.from_url(TEST_REDIS_URL)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"Redis is not answering at {TEST_REDIS_URL}: {exc}. Start it (scripts/test does).")
    tag = f"test-{uuid.uuid4().hex[:12]}"
    yield {"REDIS_URL": TEST_REDIS_URL, "JOBS_QUEUE": tag, "REDIS_KEY_PREFIX": tag}
    for key in client.scan_iter(match=f"*{tag}*", count=1000):
        client.delete(key)
    client.srem("rq:queues", f"rq:queue:{tag}")
    client.close()


@pytest.fixture
def app(tmp_path):
    """An app in sandbox mode with its own database and sandbox."""
    app = make_app(tmp_path)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client signed in as the demo support agent (may submit for any store)."""
    test_client = app.test_client()
    sign_in(test_client, "agent")
    return test_client


@pytest.fixture
def checker_client(app):
    """A second test client signed in as the demo checker (another person than ``client``)."""
    test_client = app.test_client()
    sign_in(test_client, "checker")
    return test_client


@pytest.fixture
def maker_client(app):
    """A test client signed in as the demo maker (store 50682288 only)."""
    return signed_in_client(app, "maker")


@pytest.fixture
def admin_client(app):
    """A test client signed in as the demo administrator."""
    return signed_in_client(app, "admin")


@pytest.fixture
def sandbox(app):
    """The embedded sandbox's state, for faults and assertions."""
    return app.extensions["sandbox_app"].extensions["sandbox"]


@pytest.fixture
def valid_form():
    """A copy of a valid form submission."""
    return dict(VALID_FORM)
