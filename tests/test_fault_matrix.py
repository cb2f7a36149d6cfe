"""Fault-injection matrix: every gateway fault, through the app's submission and through the client.

For each fault the app must say clearly what happened, never answer 5xx itself, keep the record
with the values the person entered, and set its state by whether Capillary may have created it:
``failed_to_submit`` (surely not) or ``unknown`` (maybe). Every sandbox fault preset runs
in-process; those whose point is the wire (a stall past the read timeout, a reset, a 30 MB body,
a refused connection, a reset mid-body) also run over a real socket with the app in real mode.
The client's get/list/approve calls get the same matrix (typed error, message). Last, the
app's own database failing during a submission: a clear page, and never a gateway call for a
request that is not stored.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import uuid
from dataclasses import dataclass

import psycopg
import pytest
import requests
from cryptography.fernet import Fernet
from markupsafe import escape
from sqlalchemy import select

from extensions import db
from gateway import errors
from gateway.client import GatewayClient
from gateway.payload import StatusChange, build_payload
from models import TrackedRequest
from sandbox import create_app as create_sandbox_app
from sandbox.faults import CUSTOMER_FAULTS, FAULT_KINDS, TASK_FAULTS
from sandbox.transport import SANDBOX_BASE_URL, mount_sandbox
from services.lifecycle.wording import what_happened
from tests.helpers import (
    ANSWERED_READ_TIMEOUT,
    NEVER_ANSWERS,
    UNANSWERED_READ_TIMEOUT,
    VALID_FORM,
    make_app,
    signed_in_client,
)
from tests.live_server import serve_wsgi
from tests.wire_faults import dead_port, serve_reset_mid_body

# In-process the `timeout` fault stalls exactly the read timeout and then raises (no socket:
# load cannot make a call time out), so a short one is safe. Over a socket see _read_timeout().
IN_PROCESS_TIMEOUT = 0.3
SUBMISSION_KEY = "c" * 32
NORMALISED_MOBILE = "919780375690"  # VALID_FORM's "9780375690" read in region IN
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Expect:
    """What one fault must turn into."""

    error: type[errors.GatewayError]
    words: str  # found in the error's message (and so on the status page)
    may_exist: bool

    @property
    def state(self) -> str:
        return "unknown" if self.may_exist else "failed_to_submit"


# How the status page shows each state: (badge words, badge tone), as a person reads them.
BADGES = {"unknown": ("Outcome unknown", "warn"), "failed_to_submit": ("Not submitted", "bad")}


EXPECTED = {
    "timeout": Expect(errors.GatewayTimeout, "did not answer in time", True),
    "500": Expect(errors.GatewayServerError, "internal error (500)", True),
    "502": Expect(errors.GatewayServerError, "(502)", True),
    "503": Expect(errors.GatewayUnavailable, "temporarily unavailable (503)", False),
    "504": Expect(errors.GatewayServerError, "(504)", True),
    "401": Expect(errors.TokenRejected, "invalid or has expired", False),
    "403": Expect(errors.AccessDenied, "CanMakeRequest", False),
    "404": Expect(errors.NotFound, "404", False),
    "409": Expect(errors.GatewayRejected, "rejected the request (409): Conflict", False),
    "429": Expect(errors.RateLimited, "wait 2 seconds", False),
    "400-empty": Expect(errors.GatewayRejected, "rejected the request (400): no reason given", False),
    "400-json": Expect(errors.GatewayRejected, "Bad request: the request could not be processed", False),
    "html": Expect(errors.GatewayServerError, "internal error (500)", True),
    "empty": Expect(errors.UnreadableResponse, "answer was empty", True),
    "truncated": Expect(errors.UnreadableResponse, "not JSON", True),
    "no-data": Expect(errors.UnreadableResponse, "no 'data'", True),
    "not-json": Expect(errors.UnreadableResponse, "not JSON", True),
    "unreadable": Expect(errors.UnreadableResponse, "not JSON", True),
    "huge": Expect(errors.UnreadableResponse, "far larger than any documented one", True),
    "reset": Expect(errors.GatewayConnectionLost, "connection to Capillary's gateway broke", True),
    "refused": Expect(errors.GatewayUnreachable, "could not be reached", False),
}
# The presets of the transport and HTTP matrix here; Capillary's documented codes (code-2001 …)
# and the failed-task fault have their own tests (tests/test_error_codes.py, tests/test_contract.py).
HTTP_KINDS = tuple(EXPECTED)
# Over a socket the server has already accepted the connection, so `refused` acts like `reset`
# (see sandbox/faults.py); a real refusal is tested against a port nobody listens on.
OVER_SOCKET = {**EXPECTED, "refused": EXPECTED["reset"]}
WIRE_KINDS = ("timeout", "reset", "huge", "refused")
MID_BODY = Expect(errors.GatewayConnectionLost, "connection to Capillary's gateway", True)
REFUSED = EXPECTED["refused"]


def test_every_fault_preset_has_an_expectation():
    code_kinds = {kind for kind in FAULT_KINDS if kind.startswith("code-")}
    assert set(EXPECTED) | code_kinds | TASK_FAULTS == set(FAULT_KINDS)
    workflow_codes = code_kinds - CUSTOMER_FAULTS  # 8013/8015: the customer look-up's (test_sandbox_customers.py)
    assert {kind.removeprefix("code-") for kind in workflow_codes} == set(errors.DOCUMENTED_CODES)


# -- helpers ---------------------------------------------------------------------------------


def _real_mode(base_url: str) -> dict:
    return {
        "CAP_GATEWAY_URL": base_url,
        "CAP_ORG_ID": "50672",
        "CAP_UI_AUTH_TOKEN": "real-mode-maker-token",
        "CAP_INTOUCH_HOST": "https://eu.api.capillarytech.com",
        "CAP_INTOUCH_USERNAME": "store.server",
        "CAP_INTOUCH_PASSWORD": "server123",
        "SECRET_KEY": "s" * 40,
        "CAP_TOKEN_KEY": Fernet.generate_key().decode(),
    }


def _submit(client) -> str:
    """POST a valid form straight to /requests; assert the redirect; return the status page URL."""
    response = client.post("/requests", data={**VALID_FORM, "submission_key": SUBMISSION_KEY})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def _only_record(app) -> TrackedRequest:
    with app.app_context():
        records = db.session.scalars(select(TrackedRequest)).all()
        assert len(records) == 1
        record = records[0]
        _ = record.events  # load the timeline before the session closes
        return record


def _assert_nothing_lost(record: TrackedRequest) -> None:
    """The record keeps every value the person entered."""
    assert (record.till_id, record.store_id, record.zone_id, record.concept_id) == (
        VALID_FORM["tillId"], VALID_FORM["storeId"], VALID_FORM["zoneId"], VALID_FORM["conceptId"])
    assert record.identifier_name == "mobile"
    assert record.identifier_value == NORMALISED_MOBILE
    assert record.label == VALID_FORM["label"]
    assert record.reason == VALID_FORM["reason"]
    assert record.source == VALID_FORM["source"]
    assert record.submission_key == SUBMISSION_KEY
    assert record.payload["entityInfo"]["tillId"] == VALID_FORM["tillId"]


def _assert_explained(app, client, location: str, expect: Expect) -> None:
    """The status page and history explain the failure; the record's state says whether it may exist."""
    record = _only_record(app)
    assert record.state == expect.state
    assert expect.words in record.error_message
    assert [event.state for event in record.events] == ["sending", expect.state]
    _assert_nothing_lost(record)

    page = client.get(location)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # The page words the failure by its kind or documented code (Capillary's own English stays in
    # the details line for support).
    with app.test_request_context():
        assert str(escape(what_happened(record.error_kind, record.error_code))) in html
    words, tone = BADGES[expect.state]
    heading = rf'<h2 id="state-heading"[^>]*>Status:\s*<span class="badge badge-{tone}">{words}</span>\s*</h2>'
    assert re.search(heading, html), f"the status heading does not say {words!r}"
    assert "Does it exist in Capillary?" in html
    if expect.may_exist:
        assert "Maybe" in html
        assert "Edit and retry" not in html  # a resend could make a duplicate
    else:
        assert "No. Nothing will happen to the customer." in html
        assert "Edit and retry" in html
        retry = client.get(f"/requests/new?from={record.id}")
        assert retry.status_code == 200
        assert f'value="{NORMALISED_MOBILE}"' in retry.get_data(as_text=True)
    for secret in (app.config["CAP_UI_AUTH_TOKEN"], app.config["CAP_INTOUCH_PASSWORD"]):
        assert secret not in html

    history = client.get("/requests")
    assert history.status_code == 200
    assert f'href="/requests/{record.id}"' in history.get_data(as_text=True)


# -- create, through the app -----------------------------------------------------------------


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_create_fault_in_process(tmp_path, kind):
    app = make_app(tmp_path, CAP_READ_TIMEOUT=IN_PROCESS_TIMEOUT)
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    sandbox.inject_fault(kind, count=1, endpoint="create")
    client = signed_in_client(app)

    location = _submit(client)

    _assert_explained(app, client, location, EXPECTED[kind])
    assert sandbox.created_count == 0
    # One POST at most, never retried: a refused connection delivers nothing at all.
    assert len([c for c in sandbox.calls if c["endpoint"] == "create"]) == (0 if kind == "refused" else 1)
    # The fault is used up: the same form, with a fresh key, now goes through.
    retried = client.post("/requests", data={**VALID_FORM, "submission_key": "d" * 32})
    assert retried.status_code == 303
    assert sandbox.created_count == 1


@pytest.fixture
def socket_sandbox():
    """The sandbox served by werkzeug on a real socket; its `timeout` fault never answers."""
    sandbox_app = create_sandbox_app({"SANDBOX_STALL_SECONDS": NEVER_ANSWERS})
    with serve_wsgi(sandbox_app) as base_url:
        yield base_url, sandbox_app.extensions["sandbox"]


def _read_timeout(kind: str) -> float:
    """A client's read timeout over a socket: short for the `timeout` fault (no answer comes), else generous."""
    return UNANSWERED_READ_TIMEOUT if kind == "timeout" else ANSWERED_READ_TIMEOUT


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_create_fault_over_a_socket(tmp_path, socket_sandbox, kind):
    base_url, sandbox = socket_sandbox
    # The app has one read timeout for all its calls. With the `timeout` fault the create gets no
    # answer, but the status page's list call (checking an unknown outcome) must get one: 2 s.
    read_timeout = 2.0 if kind == "timeout" else ANSWERED_READ_TIMEOUT
    app = make_app(tmp_path, _real_mode(base_url), CAP_READ_TIMEOUT=read_timeout)
    sandbox.inject_fault(kind, count=1, endpoint="create")
    client = signed_in_client(app)

    location = _submit(client)

    _assert_explained(app, client, location, OVER_SOCKET[kind])
    assert sandbox.created_count == 0
    # Sent once, never retried (the sandbox logs no call for its `refused` preset).
    assert len([c for c in sandbox.calls if c["endpoint"] == "create"]) == (0 if kind == "refused" else 1)


def test_create_with_the_connection_refused(tmp_path):
    app = make_app(tmp_path, _real_mode(f"http://127.0.0.1:{dead_port()}"))
    client = signed_in_client(app)
    location = _submit(client)
    _assert_explained(app, client, location, REFUSED)


def test_create_with_the_connection_reset_mid_body(tmp_path):
    with serve_reset_mid_body() as (base_url, received):
        app = make_app(tmp_path, _real_mode(base_url))
        client = signed_in_client(app)
        location = _submit(client)
        _assert_explained(app, client, location, MID_BODY)
        # Sent once, never re-sent (the app may then only *read* Capillary's list to reconcile).
        posts = [line for line in received if not line.startswith("GET ")]
        assert posts == ["POST /api_gateway/v2/request-workflow/CUSTOMER-STATUS-CHANGE HTTP/1.1"]


# -- every call, through the client ----------------------------------------------------------

CHANGE = StatusChange(tillId="50682289", storeId="50682288", zoneId="50682286", conceptId="50678331",
                      identifierName="mobile", identifierValue=NORMALISED_MOBILE, label="Suspended",
                      reason="fault matrix")
ENDPOINTS = ("create", "approve", "get", "list")


def _call(client: GatewayClient, endpoint: str, request_id: str):
    if endpoint == "create":
        return client.create_request(build_payload(CHANGE, "https://eu.api.capillarytech.com", "Basic x"), "maker")
    if endpoint == "approve":
        return client.decide(request_id, "approved", "checked by the fault matrix", "checker")
    if endpoint == "get":
        return client.get_request(request_id, "maker")
    return client.list_requests("maker", limit=10)


def _check_typed_error(caught: pytest.ExceptionInfo, expect: Expect) -> None:
    error = caught.value
    assert type(error) is expect.error
    assert expect.words in error.message
    assert error.may_exist is expect.may_exist
    assert "<html" not in error.message.lower()  # an HTML error page never leaks into a message
    assert len(error.message) < 600
    if expect.error is errors.RateLimited:
        assert error.retry_after == 2


@pytest.fixture
def inproc_sandbox():
    """A sandbox app reached through the in-process adapter."""
    sandbox_app = create_sandbox_app({})
    return sandbox_app, sandbox_app.extensions["sandbox"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_client_fault_in_process(inproc_sandbox, endpoint, kind):
    sandbox_app, sandbox = inproc_sandbox
    session = requests.Session()
    mount_sandbox(session, sandbox_app)
    client = GatewayClient(SANDBOX_BASE_URL, "50672", timeout=(1.0, IN_PROCESS_TIMEOUT), session=session)
    request_id = sandbox.seed_request()
    sandbox.inject_fault(kind, count=1, endpoint=endpoint)

    with pytest.raises(errors.GatewayError) as caught:
        _call(client, endpoint, request_id)

    _check_typed_error(caught, EXPECTED[kind])
    assert sandbox.get_request(request_id)["state"] == "AdminTask"  # the fault decided nothing
    assert sandbox.created_count == 0
    # Never retried: the faulted call reached the sandbox once (a refused one not at all).
    assert len([c for c in sandbox.calls if c["endpoint"] == endpoint]) == (0 if kind == "refused" else 1)
    _call(client, endpoint, request_id)  # the fault was used up: the next call works


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("kind", WIRE_KINDS)
def test_client_wire_fault_over_a_socket(socket_sandbox, endpoint, kind):
    base_url, sandbox = socket_sandbox
    request_id = sandbox.seed_request()
    sandbox.inject_fault(kind, count=1, endpoint=endpoint)

    with pytest.raises(errors.GatewayError) as caught:
        _call(GatewayClient(base_url, "50672", timeout=(5.0, _read_timeout(kind))), endpoint, request_id)

    _check_typed_error(caught, OVER_SOCKET[kind])
    assert sandbox.get_request(request_id)["state"] == "AdminTask"
    assert len([c for c in sandbox.calls if c["endpoint"] == endpoint]) == (0 if kind == "refused" else 1)
    _call(GatewayClient(base_url, "50672", timeout=(5.0, ANSWERED_READ_TIMEOUT)), endpoint, request_id)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_client_connection_refused(endpoint):
    client = GatewayClient(f"http://127.0.0.1:{dead_port()}", "50672", timeout=(5.0, ANSWERED_READ_TIMEOUT))
    with pytest.raises(errors.GatewayError) as caught:
        _call(client, endpoint, "5d1e0b1c-62a7-11ee-aa6d-0aaee4e533d2")
    _check_typed_error(caught, REFUSED)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_client_connection_reset_mid_body(endpoint):
    with serve_reset_mid_body() as (base_url, received):
        client = GatewayClient(base_url, "50672", timeout=(5.0, ANSWERED_READ_TIMEOUT))
        with pytest.raises(errors.GatewayError) as caught:
            _call(client, endpoint, "5d1e0b1c-62a7-11ee-aa6d-0aaee4e533d2")
        _check_typed_error(caught, MID_BODY)
        assert len(received) == 1  # not retried, whatever the method


# -- malformed answers over a real socket (security finding 4) ---------------------------------

_RID = "5d1e0b1c-62a7-11ee-aa6d-0aaee4e533d2"


def _answer(**fields) -> bytes:
    import json

    return json.dumps({"data": {"requestId": _RID, "state": "AdminTask", "requestType": "customer-status-change",
                                **fields}}).encode()


def _deep_details(depth: int) -> bytes:
    # Built as text: Python's own json could not write it (deeper than its recursion limit).
    head = '{"data": {"requestId": "' + _RID + '", "state": "AdminTask", "details": '
    return (head + '{"a": ' * depth + "1" + "}" * depth + "}}").encode()


MALFORMED_ANSWERS = {
    "a body nested 100000 deep": b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "details nested 900 deep": _deep_details(900),
    "userId Infinity": _answer().replace(b'"state"', b'"userId": Infinity, "state"'),
    "userId 1e30": _answer(userId=1e30),
    "startTime 9999 with an offset": _answer(startTime="9999-12-31T23:59:59-10:00"),
    "another request's requestId": _answer().replace(_RID.encode(), b"0f1e2d3c-0000-11ee-aa6d-0aaee4e533d2"),
}
UNREADABLE = Expect(errors.UnreadableResponse, "answer", True)


@pytest.mark.parametrize("endpoint", ["get", "approve"])
@pytest.mark.parametrize("garble", MALFORMED_ANSWERS)
def test_client_malformed_answer_is_unreadable(endpoint, garble):
    body = MALFORMED_ANSWERS[garble]

    def gateway(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    with serve_wsgi(gateway) as base_url:
        client = GatewayClient(base_url, "50672", timeout=(5.0, ANSWERED_READ_TIMEOUT))
        with pytest.raises(errors.GatewayError) as caught:
            _call(client, endpoint, _RID)
    _check_typed_error(caught, UNREADABLE)


# -- the app's own database failing ----------------------------------------------------------


def _sqlite_app(tmp_path):
    # ``timeout`` is pysqlite's busy timeout: how long a write waits for a lock before failing.
    path = tmp_path / "locked.sqlite3"
    app = make_app(tmp_path, {"DATABASE_URL": f"sqlite:///{path}?timeout=0.2"})
    return app, path


def _count_records(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(TrackedRequest)).all())


@pytest.mark.parametrize("lock", ["EXCLUSIVE", "IMMEDIATE"])
def test_sqlite_locked_during_submission_sends_nothing(tmp_path, lock):
    """EXCLUSIVE blocks reads and writes; IMMEDIATE lets the duplicate check read but not the insert."""
    app, path = _sqlite_app(tmp_path)
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    client = signed_in_client(app)
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute(f"BEGIN {lock}")
        response = client.post("/requests", data={**VALID_FORM, "submission_key": SUBMISSION_KEY})
        html = response.get_data(as_text=True)
        assert response.status_code == 503
        assert "The app&#39;s database is not available" in html
        assert "Nothing was sent to Capillary" in html
        assert "Customer status requests" in html  # in the app's layout
        assert sandbox.calls == [] and sandbox.created_count == 0
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert _count_records(app) == 0
    # Once the database is back, the same form goes through.
    again = client.post("/requests", data={**VALID_FORM, "submission_key": SUBMISSION_KEY})
    assert again.status_code == 303
    assert sandbox.created_count == 1 and _count_records(app) == 1


def test_sqlite_locked_after_sending_keeps_the_record_and_says_it_was_sent(tmp_path):
    """The database fails while Capillary is answering: the stored record survives as `sending`."""
    app, path = _sqlite_app(tmp_path)
    sandbox_app = app.extensions["sandbox_app"]
    sandbox = sandbox_app.extensions["sandbox"]
    locker = sqlite3.connect(path, isolation_level=None)
    locked = threading.Event()
    serve = sandbox_app.wsgi_app

    def lock_while_capillary_answers(environ, start_response):
        # In-process, the sandbox answers in the app's own thread: the lock is taken after
        # Capillary created the request and before the app reads the answer.
        answer = serve(environ, start_response)
        if environ["REQUEST_METHOD"] == "POST" and not locked.is_set():
            locker.execute("BEGIN EXCLUSIVE")
            locked.set()
        return answer

    sandbox_app.wsgi_app = lock_while_capillary_answers
    try:
        response = signed_in_client(app).post("/requests", data={**VALID_FORM, "submission_key": SUBMISSION_KEY})
        assert locked.is_set()
        html = response.get_data(as_text=True)
        assert response.status_code == 503
        assert "was sent to Capillary" in html
        assert "Nothing was sent" not in html
    finally:
        if locked.is_set():
            locker.execute("ROLLBACK")
        locker.close()
    assert sandbox.created_count == 1
    record = _only_record(app)
    assert record.state == "sending"  # to be reconciled against Capillary's list
    _assert_nothing_lost(record)


@pytest.fixture
def pg_database():
    """A throw-away PostgreSQL database on the real server; yields (SQLAlchemy URL, name)."""
    name = f"faults_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_refuses(name: str, refuse: bool) -> None:
    """Make the server refuse (or accept again) connections to database ``name``, dropping current ones."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if refuse else "true"}')
        if refuse:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))


@pytest.mark.postgres
def test_postgres_down_during_submission_sends_nothing(tmp_path, pg_database):
    url, name = pg_database
    app = make_app(tmp_path, {"DATABASE_URL": url})
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    client = signed_in_client(app)
    assert client.get("/requests").status_code == 200  # the pool holds a live connection now

    _postgres_refuses(name, True)
    try:
        response = client.post("/requests", data={**VALID_FORM, "submission_key": SUBMISSION_KEY})
        html = response.get_data(as_text=True)
        assert response.status_code == 503
        assert "The app&#39;s database is not available" in html
        assert "Nothing was sent to Capillary" in html
        assert sandbox.calls == [] and sandbox.created_count == 0
        assert client.get("/requests").status_code == 503
    finally:
        _postgres_refuses(name, False)

    assert _count_records(app) == 0
    again = client.post("/requests", data={**VALID_FORM, "submission_key": SUBMISSION_KEY})
    assert again.status_code == 303
    assert sandbox.created_count == 1 and _count_records(app) == 1
    with app.app_context():
        db.engine.dispose()
