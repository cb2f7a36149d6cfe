"""Helpers shared by the tests: an app on a throw-away database, a valid form, signing in.

Imported by test modules and by conftest.py's fixtures (a test module never imports conftest).
"""

from __future__ import annotations

import os
import re

from app import create_app
from config import SANDBOX
from extensions import db
from tests.databases import database_url, track

# A Redis database for job tests; each test also uses its own queue and key prefix, removed after.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
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


# Read timeouts (seconds) for gateway calls over a real socket. A call that must be answered
# gets a generous one: a loaded machine must not turn a slow answer into a timeout. A call to
# a server that holds its answer for NEVER_ANSWERS seconds times out whatever the read timeout
# is, so a short one there keeps the test quick and still cannot flake.
ANSWERED_READ_TIMEOUT = 10.0
UNANSWERED_READ_TIMEOUT = 0.5
NEVER_ANSWERS = 3600  # SANDBOX_STALL_SECONDS for the socket sandbox's `timeout` fault: longer than any test
# In sandbox mode the gateway runs in-process and a read timeout happens only when the sandbox
# decides (its `timeout` fault and its latency sleep exactly this long, then raise): load cannot
# cause one, so a short value only keeps the `timeout` fault quick.
IN_PROCESS_READ_TIMEOUT = 0.5


def make_app(tmp_path, environ: dict | None = None, **overrides):
    """Create an app for tests: sandbox mode unless ``environ`` says otherwise."""
    environ = dict(environ or {})
    if "DATABASE_URL" not in environ:
        environ["DATABASE_URL"] = database_url(tmp_path)
    in_process = (environ.get("CAP_GATEWAY_URL") or SANDBOX).strip().lower() == SANDBOX
    config = {
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SCHEMA_SETUP": "create_all",
        # Cheaper scrypt than production's n=2**15: tests sign in hundreds of times.
        "PASSWORD_HASH_METHOD": "scrypt:2048:8:1",
        "ENVIRON": environ,
        "CAP_READ_TIMEOUT": IN_PROCESS_READ_TIMEOUT if in_process else ANSWERED_READ_TIMEOUT,
    }
    config.update(overrides)
    app = create_app(config)
    track(app)
    return app


def sign_in(client, username: str = "agent", password: str | None = None):
    """Sign ``client`` in through the real sign-in form; return the sign-in response.

    ``username`` is one of the sandbox demo people (maker, agent, checker, admin; made in the
    database first when the app is in real mode, which seeds nobody) or, with ``password``,
    any user the test created. Works with CSRF protection on or off.
    """
    from services.people import accounts

    app = client.application
    if password is None:
        demo = next(d for d in accounts.DEMO_USERS if d.username == username)
        password = demo.password
        with app.app_context():
            if accounts.find_user(username) is None:
                accounts.create_user(username, demo.roles, demo.password, demo.stores, demo.display_name,
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
