"""Structured logs: one JSON line per request with a request id, and never headers, bodies or queries."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from urllib.parse import quote

import pytest

from app_logging import JsonFormatter, RequestContextFilter, TextFormatter
from tests.helpers import VALID_FORM, make_app


@contextlib.contextmanager
def _captured(formatter: logging.Formatter):
    """Send every log record through a production-like handler with ``formatter``; yield its buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(formatter)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture
def json_lines():
    """Capture every log record as the production JSON handler would write it."""
    with _captured(JsonFormatter()) as buffer:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]


def _request_lines(lines):
    return [line for line in lines if line["logger"] == "app.request"]


def test_one_json_line_per_request_with_its_id(client, json_lines):
    response = client.get("/requests/new?from=abc")
    lines = _request_lines(json_lines())
    assert len(lines) == 1
    (line,) = lines
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert (line["method"], line["path"], line["status"]) == ("GET", "/requests/new", 200)
    assert isinstance(line["duration_ms"], float)
    assert line["user_id"] is not None and line["ip"] == "127.0.0.1"
    assert line["level"] == "INFO" and line["ts"].endswith("+00:00")


def test_a_proxys_request_id_is_kept_and_a_bad_one_replaced(client, json_lines):
    kept = client.get("/profile", headers={"X-Request-ID": "edge-1234abcd"})
    assert kept.headers["X-Request-ID"] == "edge-1234abcd"
    replaced = client.get("/profile", headers={"X-Request-ID": "bad id {injected}"})
    assert replaced.headers["X-Request-ID"] != "bad id {injected}"
    assert len(replaced.headers["X-Request-ID"]) == 32
    ids = [line["request_id"] for line in _request_lines(json_lines())]
    assert ids == ["edge-1234abcd", replaced.headers["X-Request-ID"]]


def test_lines_made_during_a_request_carry_its_id(app, client, sandbox, json_lines):
    sandbox.inject_fault("500", count=1, endpoint="create")
    response = client.post("/requests", data={**VALID_FORM, "submission_key": "9" * 32})
    rid = response.headers["X-Request-ID"]
    gateway_lines = [line for line in json_lines() if line["logger"] == "gateway.transport"]
    assert gateway_lines  # the gateway call is logged ...
    assert {line["request_id"] for line in gateway_lines} == {rid}  # ... under the request's id


def test_no_query_string_header_or_body_is_logged(client, json_lines):
    client.get("/requests?q=919780375690&token=query-secret-1",
               headers={"Authorization": "Basic header-secret-2", "Cookie": "x=cookie-secret-3"})
    client.post("/requests/new", data={**VALID_FORM, "reason": "body-secret-4"})
    text = json.dumps(json_lines())
    for secret in ("919780375690", "query-secret-1", "header-secret-2", "cookie-secret-3", "body-secret-4"):
        assert secret not in text


def test_the_app_installs_the_chosen_format_outside_tests(tmp_path):
    root = logging.getLogger()
    before = list(root.handlers)
    old_level = root.level
    try:
        make_app(tmp_path, {"LOG_FORMAT": "json", "LOG_LEVEL": "WARNING"}, TESTING=False)
        (added,) = [h for h in root.handlers if h not in before]
        assert isinstance(added.formatter, JsonFormatter)
        assert root.level == logging.WARNING
        make_app(tmp_path, {"LOG_FORMAT": "text"}, TESTING=False)
        (replaced,) = [h for h in root.handlers if h not in before]
        assert isinstance(replaced.formatter, TextFormatter)  # one app handler, not two
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
        root.setLevel(old_level)


def test_an_unknown_log_format_is_named(tmp_path):
    with pytest.raises(SystemExit, match="LOG_FORMAT"):
        make_app(tmp_path, {"LOG_FORMAT": "xml"})


# -- log injection and the access log (security findings 6 and 7 of issue 11) -----------------------

FORGED = "2026-11-29 14:00:00,000 INFO app.request [forged] GET /admin 200"


@pytest.fixture
def text_lines():
    """Capture every log record as the production text handler would write it."""
    with _captured(TextFormatter()) as buffer:
        yield lambda: buffer.getvalue().splitlines()  # as any reader may: \r, \u2028 and \x85 too


@pytest.mark.parametrize("separator", ["\n", "\r\n", "\r", "\u2028", "\x85", "\x1b[2K\r"])
def test_a_path_cannot_forge_a_text_log_line(client, text_lines, separator):
    client.get("/x" + quote(separator) + quote(FORGED))  # as on the wire: werkzeug decodes the path
    lines = text_lines()
    assert not [line for line in lines if line.startswith(FORGED[:23]) or "\r" in line or "\x1b" in line]
    (request_line,) = [line for line in lines if " app.request " in line and "/x" in line]
    assert "[forged]" in request_line  # the path is there, escaped, on the request's own line


def test_a_path_cannot_forge_a_json_log_line(client, json_lines):
    client.get("/x" + quote("\u2028\x85" + FORGED))
    (line,) = [line for line in _request_lines(json_lines()) if line["path"].startswith("/x")]
    assert line["path"] == "/x\u2028\x85" + FORGED  # read back exactly, on one line


def test_a_traceback_cannot_forge_a_text_log_line(text_lines):
    log = logging.getLogger("tests.forge")
    try:
        raise ValueError("bad value\n" + FORGED)
    except ValueError:
        log.exception("failed")
    assert not [line for line in text_lines() if line.startswith(FORGED[:23])]


def test_gunicorn_writes_no_query_string_referer_or_user_agent(tmp_path):
    """Under gunicorn.conf.py only the app's own request line is written (no access log with queries)."""
    from tests.browser.servers import base_environment
    from tests.deploy_servers import GunicornProcess

    env = base_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'log.sqlite3'}", CAP_GATEWAY_URL="sandbox",
                           CAP_SYNC_INTERVAL_SECONDS="0", LOG_FORMAT="text")
    server = GunicornProcess("gunicorn-log", env, tmp_path, workers=1, threads=2)
    server.flask("db", "upgrade")
    server.start()
    try:
        import requests

        headers = {"Referer": "https://elsewhere.example/?ref=referer-secret-1", "User-Agent": "agent-secret-2"}
        assert requests.get(server.url + "/requests?q=9780375690", headers=headers, timeout=30,
                            allow_redirects=False).status_code == 302
        requests.get(server.url + "/x%0a" + FORGED.replace(" ", "%20"), timeout=30)
    finally:
        server.stop()
    log = server.log()
    assert "GET /requests 302" in log  # the app's own request line is there
    for leaked in ("9780375690", "referer-secret-1", "agent-secret-2"):
        assert leaked not in log
    assert not [line for line in log.splitlines() if line.startswith(FORGED[:23])]
