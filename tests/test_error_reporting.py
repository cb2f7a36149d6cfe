"""Error reporting with sentry-sdk: an unexpected error reaches the DSN's endpoint (here a local
HTTP server standing in for Sentry), with no credential, token or customer identifier in it."""

from __future__ import annotations

import gzip
import json
import threading
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sentry_sdk

from tests.helpers import VALID_FORM, make_app, sign_in
from tests.test_jobs import wait_for


@pytest.fixture
def sentry_endpoint():
    """A local HTTP server that keeps every envelope posted to it; yields (DSN, envelopes)."""
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            encoding = self.headers.get("Content-Encoding", "")
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            elif encoding == "br":
                import brotli  # only when sentry-sdk found it installed

                body = brotli.decompress(body)
            received.append(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://publickey@127.0.0.1:{server.server_port}/42", received
    finally:
        sentry_sdk.init(dsn=None)  # this process reports nothing more
        server.shutdown()
        server.server_close()


def _events(envelopes: list[bytes]) -> list[dict]:
    events = []
    for envelope in envelopes:
        lines = envelope.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                events.append(json.loads(payload))
    return events


def test_an_unexpected_error_is_reported_without_secrets_or_customer_data(tmp_path, sentry_endpoint):
    dsn, envelopes = sentry_endpoint
    app = make_app(tmp_path, {"SENTRY_DSN": dsn, "SENTRY_ENVIRONMENT": "test"})
    client = app.test_client()
    sign_in(client, "agent")
    secrets = [app.config["CAP_UI_AUTH_TOKEN"], app.config["CAP_INTOUCH_PASSWORD"], app.config["SECRET_KEY"]]
    session_cookie = client.get_cookie("session").value

    def broken_create(payload, ui_token):
        # A bug that puts what it holds into its message: the customer, the token, the credentials.
        task = payload["payload"]["IntouchAPITask-Payload"]
        raise RuntimeError(f"cannot create for {task['queryParams']['identifierValue']} with {ui_token} "
                           f"({task['headers']['Authorization']}), "
                           f"mail rohan.das@example.com, till password {app.config['CAP_INTOUCH_PASSWORD']}")

    app.extensions["gateway_client"].create_request = broken_create
    response = client.post("/requests?identifierValue=9780375690",
                           data={**VALID_FORM, "submission_key": uuid.uuid4().hex})
    assert response.status_code == 500  # the app's own error page, in its layout
    sentry_sdk.flush(timeout=10)
    assert wait_for(lambda: _events(envelopes), timeout=10), "no event reached the stand-in endpoint"

    [event] = _events(envelopes)
    assert event["environment"] == "test"
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"].startswith("cannot create for [Filtered] with")
    sent = json.dumps(event)
    for secret in [*secrets, session_cookie, "9780375690", "919780375690", "rohan.das@example.com",
                   "Suspected fraud at till 3"]:
        assert secret not in sent, f"{secret!r} reached the error report"
    assert "Basic " not in sent
    assert event["request"]["url"].endswith("/requests")  # no query string
    assert "data" not in event["request"] and "cookies" not in event["request"]
    assert "Cookie" not in event["request"]["headers"]
    assert all("vars" not in frame for frame in exception["stacktrace"]["frames"])


def test_without_a_dsn_nothing_is_sent(app):
    assert sentry_sdk.get_client().transport is None
