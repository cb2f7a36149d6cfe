"""Fault-injection matrix after submission: status refresh (get), sync and the checker console
(list), and approve/reject (approve), each hit by every sandbox fault preset.

For each: no 5xx, a clear "could not refresh: …" (or "did not take the decision: …") message,
the last known state kept and shown, and the gateway asked once (never hammered). The create
path's matrix is in tests/test_fault_matrix.py; the bulk runner's 429/Retry-After pause is
tested in tests/test_bulk_runner.py; Capillary's documented error codes in tests/test_error_codes.py.
"""

from __future__ import annotations

import re
import uuid

import pytest
from markupsafe import escape

from extensions import db
from models import Decision, TrackedRequest
from services.lifecycle.wording import KIND_WHAT
from tests.helpers import VALID_FORM, make_app, signed_in_client
from tests.lifecycle_helpers import allow_next_poll
from tests.test_fault_matrix import EXPECTED, HTTP_KINDS, IN_PROCESS_TIMEOUT

WAITING = "Waiting for approval"


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory):
    """One app for the module (creating one and signing in is most of a test's cost).

    On a SQLite file of its own even in the PostgreSQL run: conftest drops the per-test schemas
    after each test, and this database must outlive one.
    """
    folder = tmp_path_factory.mktemp("lifecycle")
    return make_app(folder, {"DATABASE_URL": f"sqlite:///{folder / 'lifecycle.sqlite3'}"},
                    CAP_READ_TIMEOUT=IN_PROCESS_TIMEOUT)


@pytest.fixture(scope="module")
def people(shared_app):
    return signed_in_client(shared_app, "agent"), signed_in_client(shared_app, "checker")


@pytest.fixture
def app(shared_app):
    return shared_app


@pytest.fixture
def sandbox(app):
    state = app.extensions["sandbox_app"].extensions["sandbox"]
    state.clear_faults()
    state.clear_calls()
    yield state
    state.clear_faults()


@pytest.fixture
def pending(app, people, sandbox):
    """A new request made by the agent, waiting for a checker: ``(agent client, record id)``."""
    agent, _ = people
    response = agent.post("/requests", data={**VALID_FORM, "submission_key": uuid.uuid4().hex})
    assert response.status_code == 303
    pk = int(re.search(r"/requests/(\d+)$", response.headers["Location"]).group(1))
    assert _record(app, pk).state == "AdminTask"
    sandbox.clear_calls()
    return agent, pk


@pytest.fixture
def checker(people):
    return people[1]


def _worded(expect) -> str:
    """How pages word the failure (by its kind, services/lifecycle/wording.py), in English."""
    return str(KIND_WHAT[expect.error.kind])


def _record(app, pk: int) -> TrackedRequest:
    with app.app_context():
        found = db.session.get(TrackedRequest, pk)
        db.session.expunge(found)
        return found


def _calls(sandbox, endpoint: str) -> int:
    return len([c for c in sandbox.calls if c["endpoint"] == endpoint])


def _delivered(kind: str) -> int:
    """How many calls a faulted call leaves in the sandbox's log (a refused one never arrives)."""
    return 0 if kind == "refused" else 1


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_refresh_fault_keeps_the_last_known_state(app, sandbox, pending, kind):
    agent, pk = pending
    expect = EXPECTED[kind]
    sandbox.clear_calls()
    sandbox.inject_fault(kind, count=1, endpoint="get")
    allow_next_poll(app, pk)  # the per-request poll limit would otherwise skip the gateway

    response = agent.post(f"/requests/{pk}/refresh")
    assert response.status_code == 303
    page = agent.get(response.headers["Location"])
    html = page.get_data(as_text=True)

    assert page.status_code == 200
    record = _record(app, pk)
    assert record.state == "AdminTask"  # the last known state stays
    assert record.refresh_error == _worded(expect)  # worded by kind, translated when shown
    assert "Could not refresh" in html
    assert str(escape(record.refresh_error)) in html
    assert WAITING in html
    assert _calls(sandbox, "get") == _delivered(kind)  # asked once, not retried

    # Within the poll limit, viewing the page again does not ask again (no hammering).
    agent.get(f"/requests/{pk}/live")
    assert _calls(sandbox, "get") == _delivered(kind)
    # The next refresh works and clears the message.
    allow_next_poll(app, pk)
    assert agent.post(f"/requests/{pk}/refresh").status_code == 303
    assert _record(app, pk).refresh_error is None
    assert "Could not refresh" not in agent.get(f"/requests/{pk}").get_data(as_text=True)


@pytest.mark.parametrize("kind", ["timeout", "500", "429", "html", "huge", "reset", "refused", "no-data"])
def test_live_status_fragment_fault_keeps_the_last_known_state(app, sandbox, pending, kind):
    agent, pk = pending
    sandbox.inject_fault(kind, count=1, endpoint="get")
    allow_next_poll(app, pk)
    response = agent.get(f"/requests/{pk}/live")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Could not refresh" in html and WAITING in html
    assert _record(app, pk).refresh_error == _worded(EXPECTED[kind])


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_sync_fault_is_reported_and_changes_nothing(tmp_path, kind):
    app = make_app(tmp_path, CAP_READ_TIMEOUT=IN_PROCESS_TIMEOUT)  # its own: a sync touches every record
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    agent = signed_in_client(app, "agent")
    response = agent.post("/requests", data={**VALID_FORM, "submission_key": "e" * 32})
    pk = int(re.search(r"/requests/(\d+)$", response.headers["Location"]).group(1))
    before = _record(app, pk)
    sandbox.clear_calls()
    sandbox.inject_fault(kind, count=50, endpoint="list")  # every list call of the run fails
    sandbox.inject_fault(kind, count=50, endpoint="get")  # and so does the one-by-one fallback

    result = app.test_cli_runner().invoke(args=["requests", "sync"])

    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert EXPECTED[kind].words in result.output  # the reason, in the run's one-line report
    after = _record(app, pk)
    assert (after.state, after.request_id) == (before.state, before.request_id)
    # Each failed step is one call; the run does not loop on a failing gateway.
    assert _calls(sandbox, "list") + _calls(sandbox, "get") <= 10
    sandbox.clear_faults()
    assert app.test_cli_runner().invoke(args=["requests", "sync"]).exit_code == 0


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_checker_console_fault_shows_what_was_last_known(app, sandbox, pending, checker, kind):
    _, pk = pending
    sandbox.inject_fault(kind, count=1, endpoint="list")

    response = checker.get("/approvals?sort=newest")  # this module's earlier requests wait too
    html = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "Could not refresh" in html
    assert str(escape(_worded(EXPECTED[kind]))) in html
    assert f"/approvals/{pk}" in html  # the request last known to be waiting is still listed


@pytest.mark.parametrize("kind", HTTP_KINDS)
def test_approve_fault_is_explained_and_never_sent_twice(app, sandbox, pending, checker, kind):
    _, pk = pending
    expect = EXPECTED[kind]
    request_id = _record(app, pk).request_id
    sandbox.clear_calls()
    sandbox.inject_fault(kind, count=1, endpoint="approve")
    form = {"decision": "approved", "message": "Checked the till receipts", "step": "confirm"}

    response = checker.post(f"/approvals/{pk}", data=form)

    assert response.status_code < 500
    html = (checker.get(response.headers["Location"]) if response.status_code == 303 else response).get_data(
        as_text=True)
    assert str(escape(_worded(expect))) in html
    assert _calls(sandbox, "approve") == _delivered(kind)
    assert sandbox.get_request(request_id)["state"] == "AdminTask"  # the fault kept Capillary unchanged
    assert _record(app, pk).state == "AdminTask"
    with app.app_context():
        claims = db.session.scalars(db.select(Decision).where(Decision.tracked_pk == pk)).all()
        assert [c.status for c in claims] == ["unknown" if expect.may_exist else "failed"]

    again = checker.post(f"/approvals/{pk}", data=form)
    if expect.may_exist:
        # It may have reached Capillary: no second PUT until a refresh settles it.
        assert again.status_code == 409
        assert "Nothing was sent again" in again.get_data(as_text=True)
        assert _calls(sandbox, "approve") == _delivered(kind)
    else:
        # Surely not applied: the checker may try again, and now it goes through.
        assert again.status_code == 303
        assert sandbox.get_request(request_id)["state"] == "approved"


# -- malformed answers (security finding 4) ---------------------------------------------------------


def _nested(depth: int) -> dict:
    inner: dict = {"leaf": True}
    for _ in range(depth):
        inner = {"next": inner}
    return inner


# How a hostile or broken gateway may garble a GET answer that is otherwise well formed.
MALFORMED = {
    "userId Infinity": lambda req, other: req.update(userId=float("inf")),
    "userId 1e30": lambda req, other: req.update(userId=1e30),
    "startTime 9999 with an offset": lambda req, other: req.update(startTime="9999-12-31T23:59:59-10:00"),
    "another request's requestId": lambda req, other: req.update(requestId=other),
    "details nested 250 deep": lambda req, other: req.update(details=_nested(250)),
}


@pytest.mark.parametrize("garble", MALFORMED)
def test_a_malformed_answer_is_unreadable_and_the_record_stays_viewable(app, sandbox, people, pending, garble):
    agent, pk = pending
    other = agent.post("/requests", data={**VALID_FORM, "submission_key": uuid.uuid4().hex})
    other_pk = int(re.search(r"/requests/(\d+)$", other.headers["Location"]).group(1))
    request_id, other_id = _record(app, pk).request_id, _record(app, other_pk).request_id
    sandbox.update_request(request_id, lambda req, customers: MALFORMED[garble](req, other_id))
    allow_next_poll(app, pk)

    response = agent.post(f"/requests/{pk}/refresh")
    assert response.status_code == 303
    record = _record(app, pk)
    assert (record.state, record.request_id) == ("AdminTask", request_id)  # kept as last known
    assert record.refresh_error and "answer" in record.refresh_error
    for _attempt in range(2):  # the page keeps opening, also after a second look at Capillary
        page = agent.get(f"/requests/{pk}")
        assert page.status_code == 200 and WAITING in page.get_data(as_text=True)
        allow_next_poll(app, pk)
        assert agent.get(f"/requests/{pk}/live").status_code == 200
    assert _record(app, other_pk).request_id == other_id  # the other record is untouched
