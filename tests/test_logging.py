"""Structured logs: one JSON line per request with a request id, and never headers, bodies or queries."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app_logging import JsonFormatter, RequestContextFilter, TextFormatter
from tests.helpers import VALID_FORM, make_app


@pytest.fixture
def json_lines():
    """Capture every log record as the production JSON handler would write it."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


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
