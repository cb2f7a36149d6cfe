"""Shared fixtures: an app on a throw-away SQLite file wired to the embedded sandbox."""

from __future__ import annotations

import pytest

from app import create_app
from extensions import db

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
    config = {
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "ENVIRON": {"DATABASE_URL": f"sqlite:///{tmp_path / 'test.sqlite3'}", **(environ or {})},
        "CAP_READ_TIMEOUT": 0.5,
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app(tmp_path):
    """An app in sandbox mode with its own database and sandbox."""
    app = make_app(tmp_path)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def sign_in(client, username: str) -> None:
    """Sign ``client`` in as the sandbox demo user ``username`` (maker, agent, checker, admin).

    Until sign-in exists (issue 4) this does nothing.
    """


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
def sandbox(app):
    """The embedded sandbox's state, for faults and assertions."""
    return app.extensions["sandbox_app"].extensions["sandbox"]


@pytest.fixture
def valid_form():
    """A copy of a valid form submission."""
    return dict(VALID_FORM)
