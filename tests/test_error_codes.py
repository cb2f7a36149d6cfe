"""Capillary's request-workflow error codes 2001–2030 (docs/CAPILLARY_API.md §1.5), through the app's pages.

Every documented code, answered with HTTP 400 and the v2 envelope (the sandbox's ``code-N``
faults), must become its own kind in the client, be worded on the status page (a create), on the
approvals page (a decision) and in a bulk file's results (a row), and leave the record in the
right state: surely not created (``failed_to_submit``), a decision not applied (its claim freed,
except after 2002). 2013 marks a person's own token rejected exactly like a 401; the deployment's
token failing, and the deployment's own configuration codes, are reported to administrators.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid

import pytest
from markupsafe import escape
from sqlalchemy import select

from extensions import db
from gateway import errors
from gateway.client import GatewayClient
from gateway.payload import StatusChange, build_payload
from models import AuditEvent, Decision
from sandbox import create_app as create_sandbox_app
from sandbox.errors import CODES
from sandbox.transport import SANDBOX_BASE_URL, mount_sandbox
from services.bulk import runner
from services.lifecycle.wording import ADVICE, CODE_WORDS
from services.people import accounts
from tests.bulk_helpers import make_batch
from tests.helpers import ANSWERED_READ_TIMEOUT, VALID_FORM, make_app, signed_in_client
from tests.lifecycle_helpers import decide_in_capillary, real_mode_environ, record, submit
from tests.live_server import serve_wsgi
from tests.test_tokens import MAKER_TOKEN

CODES_AS_TEXT = errors.DOCUMENTED_CODES
MESSAGE = "Checked the till receipts"


def _html(response) -> str:
    return response.get_data(as_text=True)


def _shown(text) -> str:
    """``text`` as a page shows it (HTML-escaped; a lazy string made plain first)."""
    return str(escape(str(text)))


def _todo(code: str) -> str:
    if code == "2013":  # a refused token: what to do depends on whose (here the shared one)
        return str(ADVICE["token_rejected"])
    words = CODE_WORDS[code]
    return str(words.todo or ADVICE[errors.CODE_KINDS[code].kind])


def _events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory):
    """One app for the per-code page tests (an app and a sign-in are most of a test's cost).

    On a SQLite file of its own even in the PostgreSQL run: conftest drops per-test schemas.
    """
    folder = tmp_path_factory.mktemp("codes")
    return make_app(folder, {"DATABASE_URL": f"sqlite:///{folder / 'codes.sqlite3'}"})


@pytest.fixture(scope="module")
def people(shared_app):
    return signed_in_client(shared_app, "agent"), signed_in_client(shared_app, "checker")


@pytest.fixture
def sandbox(shared_app):
    state = shared_app.extensions["sandbox_app"].extensions["sandbox"]
    state.clear_faults()
    yield state
    state.clear_faults()


def test_every_documented_code_has_words_a_kind_and_a_sandbox_fault():
    customer_codes = {"8013", "8015"}  # the customer look-up's (tests/test_sandbox_customers.py)
    assert set(CODE_WORDS) == set(errors.CODE_KINDS) == {str(code) for code in CODES} - customer_codes
    assert len(CODES_AS_TEXT) == 23  # 2001–2030 as the error-code page lists them


# -- the client: a code decides the kind, whatever the HTTP status ---------------------------------


@pytest.fixture(scope="module")
def inproc():
    sandbox_app = create_sandbox_app({})
    client = GatewayClient(SANDBOX_BASE_URL, "50672", timeout=(5.0, ANSWERED_READ_TIMEOUT),
                           mount=lambda session: mount_sandbox(session, sandbox_app))
    return client, sandbox_app.extensions["sandbox"]


CHANGE = StatusChange(tillId="50682289", storeId="50682288", zoneId="50682286", conceptId="50678331",
                      identifierName="mobile", identifierValue="919780375690", label="Suspended", reason="codes")


@pytest.mark.parametrize("endpoint", ["create", "approve", "get", "list"])
@pytest.mark.parametrize("code", CODES_AS_TEXT)
def test_each_code_becomes_its_kind_on_every_call(inproc, code, endpoint):
    client, state = inproc
    request_id = state.seed_request()
    state.inject_fault(f"code-{code}", endpoint=endpoint)
    calls = {
        "create": lambda: client.create_request(build_payload(CHANGE, "https://h.example", "Basic x"), "maker"),
        "approve": lambda: client.decide(request_id, "approved", "ok", "checker"),
        "get": lambda: client.get_request(request_id, "maker"),
        "list": lambda: client.list_requests("maker"),
    }
    with pytest.raises(errors.GatewayError) as caught:
        calls[endpoint]()
    error = caught.value
    assert type(error) is errors.CODE_KINDS[code]
    assert (error.code, error.status, error.detail, error.may_exist) == (code, 400, CODES[int(code)], False)
    assert f"error code {code} (HTTP 400)" in error.message


def _answer_server(status: int, body: bytes, content_type: str = "application/json"):
    """A gateway that answers every call with ``status`` and ``body`` (a shape the sandbox never sends)."""
    def app(environ, start_response):
        start_response(f"{status} X", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]
    return serve_wsgi(app)


@pytest.mark.parametrize(("status", "body", "kind"), [
    (400, {"errors": [{"status": False, "code": 2013, "message": "Verification failed"}]}, errors.TokenRejected),
    (200, {"errors": [{"status": False, "code": 2001, "message": "No permission"}]}, errors.AccessDenied),
    (500, {"code": 2024, "message": "Could not deploy"}, errors.WorkflowMisconfigured),
    (403, {"response": {"status": {"code": 2009, "message": "Not supported"}}}, errors.UnsupportedType),
    (401, {"errors": [{"code": "2001"}]}, errors.AccessDenied),  # the code wins over the status
])
def test_a_code_in_any_documented_shape_and_status_decides_the_kind(status, body, kind):
    with _answer_server(status, json.dumps(body).encode()) as base_url:
        with pytest.raises(errors.GatewayError) as caught:
            GatewayClient(base_url, "1", timeout=(5.0, ANSWERED_READ_TIMEOUT)).list_requests("t")
    assert type(caught.value) is kind and caught.value.may_exist is False


def test_an_undocumented_code_keeps_the_status_path_with_the_code_shown():
    body = json.dumps({"errors": [{"status": False, "code": 2999, "message": "Something new"}]}).encode()
    with _answer_server(400, body) as base_url:
        with pytest.raises(errors.GatewayError) as caught:
            GatewayClient(base_url, "1", timeout=(5.0, ANSWERED_READ_TIMEOUT)).list_requests("t")
    error = caught.value
    assert type(error) is errors.GatewayRejected and error.kind == "rejected"
    assert error.code == "2999" and "Something new (code 2999)" in error.message


def test_a_successful_answer_wins_over_a_code_in_it():
    body = json.dumps({"data": [], "errors": [{"code": 2011, "message": "ignored"}]}).encode()
    with _answer_server(200, body) as base_url:
        assert GatewayClient(base_url, "1", timeout=(5.0, ANSWERED_READ_TIMEOUT)).list_requests("t").items == []


# -- a create, on the status page ---------------------------------------------------------------


@pytest.mark.parametrize("code", CODES_AS_TEXT)
def test_a_create_refused_with_each_code_is_explained_on_the_status_page(shared_app, people, sandbox, code):
    agent, _ = people
    sandbox.inject_fault(f"code-{code}", endpoint="create")
    pk = submit(agent, VALID_FORM, key=uuid.uuid4().hex)
    saved = record(shared_app, pk)
    assert saved.state == "failed_to_submit"  # a documented code is a refusal: surely not created
    assert (saved.error_code, saved.error_status, saved.error_kind) == (code, 400, errors.CODE_KINDS[code].kind)
    html = _html(agent.get(f"/requests/{pk}"))
    assert _shown(CODE_WORDS[code].what) in html
    # The codes and Capillary's own words only in the details line, never in the prose.
    assert "Details for Capillary's support:" in html
    assert _shown(f"HTTP 400 · error {code} · {CODES[int(code)]}") in html
    assert f"Capillary answered code {code}" not in html
    assert "No. Nothing will happen to the customer." in html
    assert _shown(_todo(code)) in html
    reported = "it was reported to the app" in html
    assert reported is (errors.CODE_KINDS[code].kind in errors.ADMIN_KINDS)
    assert "Edit and retry" in html


def test_the_words_are_in_the_readers_language(shared_app, sandbox):
    agent = signed_in_client(shared_app, "agent")
    agent.post("/language", data={"language": "es"})
    sandbox.inject_fault("code-2008", endpoint="create")
    pk = submit(agent, VALID_FORM, key=uuid.uuid4().hex)
    html = _html(agent.get(f"/requests/{pk}"))
    assert _shown(CODE_WORDS["2008"].what) not in html  # not the English
    assert "Datos para el soporte de Capillary:" in html and "HTTP 400 · error 2008" in html
    assert "No. El estado del cliente no cambiará." in html


# -- a decision, on the approvals page -----------------------------------------------------------


@pytest.mark.parametrize("code", CODES_AS_TEXT)
def test_a_decision_refused_with_each_code_is_explained_on_the_approvals_page(shared_app, people, sandbox, code):
    agent, checker = people
    pk = submit(agent, VALID_FORM, key=uuid.uuid4().hex)
    request_id = record(shared_app, pk).request_id
    sandbox.inject_fault(f"code-{code}", endpoint="approve")
    form = {"decision": "approved", "message": MESSAGE, "step": "confirm"}

    response = checker.post(f"/approvals/{pk}", data=form)

    assert response.status_code == 409
    html = _html(response)
    assert "Capillary did not take the decision" in html
    assert _shown(CODE_WORDS[code].what) in html
    assert f"Capillary answered code {code}" in html
    assert "Nothing was changed." in html
    with shared_app.app_context():
        claim = db.session.scalars(select(Decision).where(Decision.tracked_pk == pk)).one()
        assert (claim.status, claim.error_code) == ("failed", code)
    assert record(shared_app, pk).state == "AdminTask"
    assert "The decision was not applied: " + _shown(CODE_WORDS[code].what) in _html(agent.get(f"/requests/{pk}"))

    again = checker.post(f"/approvals/{pk}", data=form)
    if code == "2002":
        # Capillary said it was decided already: never sent again, whatever the stale state here says.
        assert again.status_code == 409 and "code 2002" in _html(again)
        assert sandbox.get_request(request_id)["state"] == "AdminTask"
    else:
        assert again.status_code == 303  # surely not applied: the checker may try again
        assert sandbox.get_request(request_id)["state"] == "approved"


def test_2002_after_a_decision_made_in_capillary_shows_that_decision(tmp_path):
    app = make_app(tmp_path)
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    agent, checker = signed_in_client(app, "agent"), signed_in_client(app, "checker")
    pk = submit(agent, VALID_FORM)
    request_id = record(app, pk).request_id
    decide_in_capillary(sandbox, request_id, "rejected", "Not our customer")  # the app does not know yet
    form = {"decision": "approved", "message": MESSAGE, "step": "confirm"}

    response = checker.post(f"/approvals/{pk}", data=form)

    html = _html(response)
    assert response.status_code == 409
    assert "already decided by someone" in html and "code 2002" in html
    assert "The request is now rejected." in html
    assert "“Not our customer”" in html
    assert record(app, pk).state == "rejected"
    puts = [c for c in sandbox.calls if c["endpoint"] == "approve"]
    assert len(puts) == 1  # and never again
    assert checker.post(f"/approvals/{pk}", data=form).status_code == 409
    assert len([c for c in sandbox.calls if c["endpoint"] == "approve"]) == 1


# -- bulk rows -----------------------------------------------------------------------------------


def test_bulk_rows_refused_with_each_code_are_explained(tmp_path):
    app = make_app(tmp_path)
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    for code in CODES_AS_TEXT:
        sandbox.inject_fault(f"code-{code}", endpoint="create")
    batch_id = make_batch(app, len(CODES_AS_TEXT))
    with app.app_context():
        assert runner.run_batch(batch_id) == runner.FINISHED
    admin = signed_in_client(app, "admin")

    rows = list(csv.DictReader(io.StringIO(_html(admin.get(f"/bulk/{batch_id}/results.csv")))))

    assert sandbox.created_count == 0
    seen = set()
    for row in rows:
        assert (row["state"], row["requestId"], row["downstreamRequestId"]) == ("Not submitted", "", "")
        code = re.search(r"Capillary answered code (\d{4})", row["error"]).group(1)
        assert row["error"].startswith(str(CODE_WORDS[code].what))
        seen.add(code)
    assert seen == set(CODES_AS_TEXT)  # each row got its own code, and each is worded
    page = _html(admin.get(f"/bulk/{batch_id}"))
    first = re.search(r'href="/requests/(\d+)"', page).group(1)
    row_page = _html(admin.get(f"/requests/{first}"))
    assert "HTTP 400 · error 20" in row_page and "No. Nothing will happen to the customer." in row_page


# -- whose token: 2013 like 401 ------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["code-2013", "401"])
def test_2013_marks_a_persons_own_token_rejected_like_a_401(tmp_path, fault):
    app = make_app(tmp_path)
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    agent = signed_in_client(app, "agent")
    assert agent.post("/profile/token", data={"token": MAKER_TOKEN}).status_code == 303
    sandbox.inject_fault(fault, endpoint="create")
    pk = submit(agent, VALID_FORM)
    with app.app_context():
        assert accounts.find_user("agent").token_state() == "rejected"
    assert len(_events(app, "token.rejected")) == 1
    assert _events(app, "gateway.token_rejected") == []  # the person's own, not the deployment's
    html = _html(agent.get(f"/requests/{pk}"))
    assert "marked as rejected" in html
    assert record(app, pk).state == "failed_to_submit"


def test_2013_on_a_checkers_own_token_marks_it_too(tmp_path):
    app = make_app(tmp_path)
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    agent, checker = signed_in_client(app, "agent"), signed_in_client(app, "checker")
    assert checker.post("/profile/token", data={"token": MAKER_TOKEN}).status_code == 303
    pk = submit(agent, VALID_FORM)
    sandbox.inject_fault("code-2013", endpoint="approve")
    html = _html(checker.post(f"/approvals/{pk}", data={"decision": "approved", "message": MESSAGE,
                                                         "step": "confirm"}))
    assert "Your own Capillary token is now marked as rejected" in html
    with app.app_context():
        assert accounts.find_user("checker").token_state() == "rejected"


def test_the_deployments_token_refused_is_reported_to_administrators_once(tmp_path, caplog):
    app = make_app(tmp_path)
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    agent = signed_in_client(app, "agent")
    sandbox.inject_fault("code-2013", count=3, endpoint="create")
    for _ in range(3):
        submit(agent, VALID_FORM, key=uuid.uuid4().hex)
    with app.app_context():
        assert accounts.find_user("agent").token_state() == "none"  # nobody's own token is blamed
    events = _events(app, "gateway.token_rejected")
    assert len(events) == 1  # three failures, one report (per ten minutes)
    assert "code 2013" in events[0].detail and events[0].actor_name == "Capillary"
    assert [r for r in caplog.records if "gateway.token_rejected" in r.getMessage()][0].levelname == "WARNING"
    audit = _html(signed_in_client(app, "admin").get("/admin/audit"))
    assert "Capillary rejected the deployment" in audit and "code 2013" in audit


def test_configuration_codes_are_reported_to_administrators(tmp_path):
    app = make_app(tmp_path)
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    agent = signed_in_client(app, "agent")
    for code in ("2024", "2026", "2009", "2008"):
        sandbox.inject_fault(f"code-{code}", endpoint="create")
        submit(agent, VALID_FORM, key=uuid.uuid4().hex)
    details = [event.detail for event in _events(app, "gateway.misconfigured")]
    assert len(details) == 3
    assert any("code 2024" in d for d in details) and any("code 2026" in d for d in details)
    assert not any("code 2008" in d for d in details)  # an invalid payload is the person's to fix


# -- reads: the last known state stays ------------------------------------------------------------


def test_a_code_on_a_refresh_keeps_the_last_known_state(tmp_path):
    app = make_app(tmp_path, CAP_STATUS_MIN_REFRESH_SECONDS=0)
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    agent = signed_in_client(app, "agent")
    pk = submit(agent, VALID_FORM)
    sandbox.inject_fault("code-2021", endpoint="get")
    agent.post(f"/requests/{pk}/refresh")
    saved = record(app, pk)
    assert saved.state == "AdminTask" and saved.refresh_error == CODE_WORDS["2021"].what


def test_an_undocumented_code_is_shown_as_capillary_gave_it(tmp_path):
    body = json.dumps({"errors": [{"status": False, "code": 2999, "message": "Something new"}]}).encode()
    with _answer_server(400, body) as base_url:
        app = make_app(tmp_path, real_mode_environ(base_url, f"sqlite:///{tmp_path / 'real.sqlite3'}"),
                       SCHEMA_SETUP="create_all")
        agent = signed_in_client(app, "agent")
        pk = submit(agent, VALID_FORM)
        html = _html(agent.get(f"/requests/{pk}"))
    saved = record(app, pk)
    assert (saved.state, saved.error_kind, saved.error_code) == ("failed_to_submit", "rejected", "2999")
    assert "Something new (code 2999)" in html
    assert _shown(ADVICE["rejected"]) in html
