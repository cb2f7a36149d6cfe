"""Throw-away test databases: a SQLite file per test, or a PostgreSQL schema dropped afterwards.

Kept apart from conftest.py (which pytest loads as its own module): the bookkeeping here is
one module object, so every app and schema a test makes is cleaned up whichever module made it.
"""

from __future__ import annotations

import os
import re
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
# The PostgreSQL that tests needing one use, whichever database the run is on.
POSTGRES_URL = TEST_DATABASE_URL or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# Schemas are named after the test process, so a later run can drop those of a killed one.
SCHEMA_NAME = re.compile(r"t_(\d+)_[0-9a-f]{10}")

_admin_engines: dict = {}
_made: dict = {"schemas": [], "apps": [], "by_path": {}}


def _admin(base_url: str):
    engine = _admin_engines.get(base_url)
    if engine is None:
        engine = _admin_engines[base_url] = create_engine(base_url, pool_size=1)
        _drop_orphans(engine)
        _install_trigrams(engine)
    return engine


def _install_trigrams(engine) -> None:
    """Install pg_trgm once per database, in ``public`` (on every test schema's search path).

    An extension lives in one schema per database; made inside a test's schema, it would vanish
    with that schema while other tests' schemas still need its operator classes.
    """
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public"))
    except IntegrityError:  # another test process created it at the same moment
        pass


def _drop_orphans(engine) -> None:
    """Drop schemas left by test processes that no longer exist (killed or crashed runs)."""
    with engine.begin() as connection:
        names = connection.execute(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%'")).scalars()
        for name in list(names):
            found = SCHEMA_NAME.fullmatch(name)
            if found and not _alive(int(found.group(1))):
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def postgres_schema_url(base_url: str = POSTGRES_URL) -> str:
    """Create a throw-away schema in ``base_url``'s database; return a URL whose connections use it.

    The schema is dropped after the test (see :func:`clean_up`).
    """
    name = f"t_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    try:
        with _admin(base_url).begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
    except Exception as exc:  # noqa: BLE001 - say what to start, whatever the driver raised
        pytest.fail(f"PostgreSQL is not answering at {make_url(base_url).render_as_string()}: {exc}. "
                    "Start it (scripts/test does) or set TEST_DATABASE_URL.")
    _made["schemas"].append((base_url, name))
    # application_name tells this run's connections apart in pg_stat_activity.
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={name},public",
                                                "application_name": f"pytest-{os.getpid()}"})
    return url.render_as_string(hide_password=False)


def database_url(tmp_path) -> str:
    """The test's database: one per ``tmp_path`` (a SQLite file, or a PostgreSQL schema)."""
    if not TEST_DATABASE_URL:
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    if tmp_path not in _made["by_path"]:
        _made["by_path"][tmp_path] = postgres_schema_url(TEST_DATABASE_URL)
    return _made["by_path"][tmp_path]


def track(app) -> None:
    """Remember an app made for the current test, to close its connections afterwards."""
    _made["apps"].append(app)


def clean_up() -> None:
    """Close every tracked app's connections and drop the test's PostgreSQL schemas."""
    from extensions import db

    for made in _made["apps"]:
        with made.app_context():
            db.session.remove()
            db.engine.dispose()
    for base_url, name in _made["schemas"]:
        with _admin_engines[base_url].begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '20s'"))
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    _made["apps"].clear()
    _made["schemas"].clear()
    _made["by_path"].clear()
