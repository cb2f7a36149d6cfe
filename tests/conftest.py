"""Shared fixtures: an app on a throw-away database wired to the embedded sandbox.

The database is a SQLite file per test, or, when ``TEST_DATABASE_URL`` names a PostgreSQL
database (scripts/test's second run), a schema of its own in that database (connections
select it through ``search_path``), dropped after the test. Tables come straight from the
models (``SCHEMA_SETUP="create_all"``); tests/test_migrations.py checks the migrations.
"""

from __future__ import annotations

import os
import re
import uuid

import pytest

from app import create_app
from extensions import db
from tests.databases import POSTGRES_URL, TEST_DATABASE_URL, clean_up, database_url, postgres_schema_url, track

# A Redis database for job tests; each test also uses its own queue and key prefix, removed after.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
__all__ = ["POSTGRES_URL", "TEST_DATABASE_URL", "database_url", "make_app", "postgres_schema_url"]

VALID_FORM = {
    "tillId": "50682289",
    "storeId": "50682288",
    "zoneId": "50682286",
    "conceptId": "50678331",
    "identifierName": "mobile",
    "identifierValue": "9780375690",
    "label": "Suspended",
    "reason": "Suspected fraud at till 3",
    "source": "INSTORE",
    "accountId": "",
}


def make_app(tmp_path, environ: dict | None = None, **overrides):
    """Create an app for tests: sandbox mode unless ``environ`` says otherwise."""
    environ = dict(environ or {})
    if "DATABASE_URL" not in environ:
        environ["DATABASE_URL"] = database_url(tmp_path)
    config = {
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SCHEMA_SETUP": "create_all",
        # Cheaper scrypt than production's n=2**15: tests sign in hundreds of times.
        "PASSWORD_HASH_METHOD": "scrypt:2048:8:1",
        "ENVIRON": environ,
        "CAP_READ_TIMEOUT": 0.5,
    }
    config.update(overrides)
    app = create_app(config)
    track(app)
    return app


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


def sign_in(client, username: str = "agent", password: str | None = None):
    """Sign ``client`` in through the real sign-in form; return the sign-in response.

    ``username`` is one of the sandbox demo people (maker, agent, checker, admin; made in the
    database first when the app is in real mode, which seeds nobody) or, with ``password``,
    any user the test created. Works with CSRF protection on or off.
    """
    from services import people

    app = client.application
    if password is None:
        demo = next(d for d in people.DEMO_USERS if d.username == username)
        password = demo.password
        with app.app_context():
            if people.find_user(username) is None:
                people.create_user(username, demo.roles, demo.password, demo.stores, demo.display_name,
                                   actor=None, actor_name="test set-up")
                db.session.commit()
    data = {"username": username, "password": password}
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    if token:
        data["csrf_token"] = token.group(1)
    response = client.post("/login", data=data)
    assert response.status_code == 303, f"signing in as {username} failed ({response.status_code})"
    return response


def signed_in_client(app, username: str = "agent"):
    """A new test client of ``app`` signed in as the demo person ``username``."""
    test_client = app.test_client()
    sign_in(test_client, username)
    return test_client


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
