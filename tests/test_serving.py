"""Serving under gunicorn with gunicorn.conf.py: it starts from the settings, answers the
probes, and on SIGTERM finishes a submission already in flight before exiting."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from config import ConfigError, server_settings
from extensions import db
from sandbox import create_app as create_sandbox_app
from services.people import accounts
from tests.databases import database_url
from tests.helpers import VALID_FORM, make_app
from tests.live_server import serve_wsgi
from tests.test_jobs import wait_for

ROOT = Path(__file__).resolve().parents[1]
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def plain_http(browser: requests.Session, response: requests.Response) -> requests.Response:
    """Let ``browser`` send back the Secure cookies ``response`` set: this test speaks plain HTTP
    to 127.0.0.1, where a real deployment is behind HTTPS."""
    for cookie in list(browser.cookies):
        if cookie.secure:
            browser.cookies.set(cookie.name, cookie.value, domain=cookie.domain, path=cookie.path, secure=False)
    return response


def test_server_settings_come_from_the_environment_and_bad_ones_are_named():
    assert server_settings(ROOT, {}) == {
        "bind": "127.0.0.1:8000", "workers": 2, "threads": 4, "timeout": 30, "graceful_timeout": 30,
        "redis_url": ""}
    assert server_settings(ROOT, {"WEB_CONCURRENCY": "3", "GUNICORN_THREADS": "8",
                                  "GUNICORN_BIND": "0.0.0.0:9000"})["workers"] == 3
    with pytest.raises(ConfigError, match="WEB_CONCURRENCY"):
        server_settings(ROOT, {"WEB_CONCURRENCY": "many"})


@pytest.fixture
def slow_sandbox():
    """The standalone sandbox gateway on a real socket; each call takes 1.5 s."""
    sandbox_app = create_sandbox_app({"SANDBOX_LATENCY_MS": 1500})
    with serve_wsgi(sandbox_app) as url:
        yield url, sandbox_app.extensions["sandbox"]


def test_gunicorn_serves_and_finishes_a_submission_in_flight_when_stopped(tmp_path, slow_sandbox):
    url, sandbox = slow_sandbox
    environ = {
        "DATABASE_URL": database_url(tmp_path),
        "CAP_GATEWAY_URL": url,
        "CAP_ORG_ID": "100",
        "CAP_UI_AUTH_TOKEN": "gunicorn-test-maker-token",
        "CAP_INTOUCH_HOST": "https://intouch.example.invalid",
        "CAP_INTOUCH_USERNAME": "till.user",
        "CAP_INTOUCH_PASSWORD": "till-password",
        "SECRET_KEY": "g" * 40,
        "CAP_TOKEN_KEY": "UiTts56cKbRheuFgKONStJ1b8foA01RVD8zwV34rLec=",
        "CAP_SYNC_INTERVAL_SECONDS": "0",
    }
    app = make_app(tmp_path, environ, SCHEMA_SETUP="upgrade")  # what `flask db upgrade` does
    with app.app_context():
        accounts.create_user("desk", ("agent",), "counter-Pass-9876", (), "Help desk", actor=None,
                           actor_name="test set-up")
        db.session.commit()

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAP_", "FLASK_", "DATABASE_URL", "REDIS_"))}
    env.update(environ, GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1", GUNICORN_THREADS="2",
               GUNICORN_GRACEFUL_TIMEOUT="20", PYTHONUNBUFFERED="1", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT, env=env,
                                  stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        def healthy():
            try:
                return requests.get(base + "/healthz", timeout=5).status_code == 200
            except requests.RequestException:  # not listening yet, or the worker still booting
                return False

        assert wait_for(healthy, timeout=30), log.read_text()
        assert requests.get(base + "/readyz", timeout=5).json()["status"] == "ready"

        browser = requests.Session()
        token = CSRF.search(plain_http(browser, browser.get(base + "/login", timeout=5)).text).group(1)
        signed_in = browser.post(base + "/login", data={"username": "desk", "password": "counter-Pass-9876",
                                                        "csrf_token": token}, allow_redirects=False, timeout=5)
        assert plain_http(browser, signed_in).status_code == 303
        form_page = plain_http(browser, browser.get(base + "/requests/new", timeout=5)).text
        form = {**VALID_FORM, "csrf_token": CSRF.search(form_page).group(1),
                "submission_key": re.search(r'name="submission_key" type="hidden" value="(\w+)"', form_page).group(1)}

        answer = {}
        posting = threading.Thread(target=lambda: answer.update(
            response=browser.post(base + "/requests", data=form, allow_redirects=False, timeout=30)))
        posting.start()
        assert wait_for(lambda: any(c["endpoint"] == "create" for c in sandbox.calls), timeout=10)
        server.send_signal(signal.SIGTERM)  # while the gateway call is still under way
        posting.join(timeout=30)
        assert server.wait(timeout=30) == 0, log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert answer["response"].status_code == 303  # the request in flight was finished, not cut off
    assert sandbox.created_count == 1
    with app.app_context():
        from models import TrackedRequest

        [record] = db.session.scalars(db.select(TrackedRequest)).all()
        assert record.state == "AdminTask" and record.request_id
