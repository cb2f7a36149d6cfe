"""The request-workflow contract as JSON Schemas (tests/data), checked on both sides of a real socket.

The schemas are written from the documented tables (docs/CAPILLARY_API.md §1–§4): four calls
(create, approve/reject, get, list) and their four answers, plus the error envelope (§1.5).
What the client and the app send is validated from the sandbox's call log; what the sandbox
answers is read over HTTP and validated; Capillary's own examples validate too, and bodies
that break the contract do not (so the schemas can fail).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from gateway.auth import GatewayBasicAuth
from gateway.client import GatewayClient
from gateway.payload import StatusChange, build_payload, intouch_basic_authorization
from sandbox import create_app as create_sandbox_app
from sandbox.errors import CODES
from tests.helpers import ANSWERED_READ_TIMEOUT, VALID_FORM, make_app, signed_in_client
from tests.lifecycle_helpers import allow_next_poll, real_mode_environ, submit
from tests.live_server import serve_wsgi

DATA = Path(__file__).parent / "data"
GW = "/api_gateway/v2/request-workflow"
CREATE = f"{GW}/CUSTOMER-STATUS-CHANGE"
ORG, MAKER, CHECKER = "50672", "maker-jwt", "checker-jwt"


def _registry() -> Registry:
    resources = []
    for path in DATA.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


REGISTRY = _registry()


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((DATA / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=REGISTRY)


CALLS = {endpoint: validator(f"call_{endpoint}") for endpoint in ("create", "decide", "get", "list")}
ANSWERS = {name: validator(f"answer_{name}") for name in ("create", "decide", "get", "list", "error")}


def assert_valid(checker: Draft202012Validator, document) -> None:
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in checker.iter_errors(document)]
    assert problems == [], problems


def assert_invalid(checker: Draft202012Validator, document) -> None:
    assert not checker.is_valid(document)


CHANGE = StatusChange(tillId="50682289", storeId="50682288", zoneId="50682286", conceptId="50678331",
                      identifierName="mobile", identifierValue="919780375690", label="Suspended",
                      reason="contract test")
_CALL_SCHEMA = {"create": "create", "approve": "decide", "get": "get", "list": "list"}


def _logged(state) -> list[tuple[str, dict]]:
    """The sandbox's log as (schema name, call) pairs."""
    return [(_CALL_SCHEMA[c["endpoint"]], {k: c[k] for k in ("method", "path", "query", "headers", "body")})
            for c in state.calls]


@pytest.fixture
def socket_sandbox():
    app = create_sandbox_app({"SANDBOX_GATEWAY_USERNAME": "gw.user", "SANDBOX_GATEWAY_PASSWORD": "gw-pass"})
    with serve_wsgi(app) as base_url:
        yield base_url, app.extensions["sandbox"]


# -- what the client and the app send ---------------------------------------------------------------


def _client(base_url: str) -> GatewayClient:
    return GatewayClient(base_url, ORG, timeout=(5.0, ANSWERED_READ_TIMEOUT),
                         auth=GatewayBasicAuth("gw.user", "gw-pass"))


def test_the_clients_four_calls_match_the_documented_requests(socket_sandbox):
    base_url, state = socket_sandbox
    client = _client(base_url)
    payload = build_payload(CHANGE, "https://eu.api.capillarytech.com",
                            intouch_basic_authorization("store.server", "server123"))
    created = client.create_request(payload, MAKER)
    client.get_request(created.requestId, MAKER)
    client.list_requests(CHECKER, states=["AdminTask"], start_date="2023-10-03", store_id="50682288",
                         till_id="50682289", sort_order="asc", limit=25, page=0)
    client.decide(created.requestId, "approved", "checked", CHECKER)

    logged = _logged(state)
    assert [name for name, _ in logged] == ["create", "get", "list", "decide"]
    for name, call in logged:
        assert_valid(CALLS[name], call)


def test_what_the_app_sends_through_its_pages_matches_the_documented_requests(tmp_path, socket_sandbox):
    base_url, state = socket_sandbox
    environ = real_mode_environ(base_url, f"sqlite:///{tmp_path / 'real.sqlite3'}")
    environ.update(CAP_GATEWAY_USERNAME="gw.user", CAP_GATEWAY_PASSWORD="gw-pass")
    app = make_app(tmp_path, environ, SCHEMA_SETUP="create_all")
    agent, checker = signed_in_client(app, "agent"), signed_in_client(app, "checker")
    pk = submit(agent, VALID_FORM)
    allow_next_poll(app, pk)
    agent.get(f"/requests/{pk}")
    checker.get("/approvals")
    checker.post(f"/approvals/{pk}", data={"decision": "rejected", "message": "Not enough evidence", "step": "confirm"})
    assert app.test_cli_runner().invoke(args=["requests", "sync"]).exit_code == 0

    logged = _logged(state)
    assert {name for name, _ in logged} == {"create", "get", "list", "decide"}
    for name, call in logged:
        assert_valid(CALLS[name], call)


@pytest.mark.parametrize(("name", "path", "value"), [
    ("create", ("method",), "PUT"),
    ("create", ("headers", "x-cap-api-auth-org-id"), "fifty"),
    ("create", ("body", "payload", "IntouchAPITask-Payload", "method"), "POST"),
    ("decide", ("body", "actionName"), "adminTask"),
    ("decide", ("body", "payload", "AdminTask-Payload", "actionDecision"), "maybe"),
    ("get", ("path",), f"{GW}/requests/a/b"),
    ("list", ("query", "PageNo"), "-1"),
    ("list", ("query", "pageNo"), "1"),
])
def test_a_call_that_breaks_the_contract_is_refused_by_its_schema(socket_sandbox, name, path, value):
    base_url, state = socket_sandbox
    client = _client(base_url)
    created = client.create_request(build_payload(CHANGE, "https://h.example", "Basic eA=="), MAKER)
    client.get_request(created.requestId, MAKER)
    client.list_requests(MAKER)
    client.decide(created.requestId, "approved", "ok", CHECKER)
    call = copy.deepcopy(dict(_logged(state))[name])
    assert_valid(CALLS[name], call)
    node = call
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert_invalid(CALLS[name], call)


# -- what the sandbox answers -----------------------------------------------------------------------


class Gateway:
    """Plain HTTP calls to the socket sandbox, with the documented headers and Basic auth."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.auth = ("gw.user", "gw-pass")
        self.session.headers.update({"X-CAP-API-AUTH-ORG-ID": ORG, "X-CAP-UI-AUTH-TOKEN": MAKER})

    def create(self, identifier: str = "919780375690", label: str = "Suspended") -> requests.Response:
        body = build_payload(CHANGE.__class__(**{**CHANGE.__dict__, "identifierValue": identifier, "label": label}),
                             "https://eu.api.capillarytech.com",
                             intouch_basic_authorization("store.server", "server123"))
        return self.session.post(self.base_url + CREATE, json=body, timeout=5)

    def decide(self, request_id: str, decision: str = "approved") -> requests.Response:
        body = {"requestId": request_id, "actionName": "AdminTask",
                "payload": {"AdminTask-Payload": {"actionDecision": decision, "actionMessage": "checked"}}}
        return self.session.put(self.base_url + CREATE, json=body, headers={"X-CAP-UI-AUTH-TOKEN": CHECKER},
                                timeout=5)


def test_the_sandbox_answers_match_the_documented_answers(socket_sandbox):
    base_url, state = socket_sandbox
    gw = Gateway(base_url)
    answers = []
    created = gw.create().json()
    answers.append(("create", created))
    request_id = created["data"]["requestId"]
    answers.append(("get", gw.session.get(f"{base_url}{GW}/requests/{request_id}", timeout=5).json()))
    answers.append(("decide", gw.decide(request_id).json()))  # approved: Asha Rao is suspended
    answers.append(("decide", gw.decide(gw.create(label="Active").json()["data"]["requestId"], "rejected").json()))
    answers.append(("decide", gw.decide(gw.create(identifier="910000000000").json()["data"]["requestId"]).json()))
    state.inject_fault("failed-744", endpoint="approve")
    documented_failure = gw.decide(gw.create(label="Internal").json()["data"]["requestId"]).json()
    answers.append(("decide", documented_failure))
    state.set_auto_approve(True)
    answers.append(("create", gw.create(label="Active").json()))
    state.seed_request(request_type="POINTS-REDEMPTION", state="failed")
    answers.append(("list", gw.session.get(f"{base_url}{GW}/requests", params={"limit": 100}, timeout=5).json()))

    states = [a["data"]["state"] for name, a in answers if name != "list"]
    assert states == ["AdminTask", "AdminTask", "approved", "rejected", "failed", "failed", "approved"]
    assert {item["requestType"] for item in answers[-1][1]["data"]} == {"customer-status-change", "points-redemption"}
    for name, answer in answers:
        assert_valid(ANSWERS[name], answer)
    output = documented_failure["data"]["details"]["IntouchAPITask_Output"]
    assert output["status"] == 200.0 and output["headers"]["status_code"] == ["744"]
    assert output["body"]["response"]["status"]["message"] == "All requests have failed due to errors"


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_fault_answers_the_documented_envelope(socket_sandbox, code):
    base_url, state = socket_sandbox
    state.inject_fault(f"code-{code}", endpoint="create")
    response = Gateway(base_url).create()
    assert response.status_code == 400
    assert_valid(ANSWERS["error"], response.json())
    assert response.json()["errors"][0]["code"] == code


def test_the_sandboxs_own_errors_answer_the_documented_envelope(socket_sandbox):
    base_url, state = socket_sandbox
    gw = Gateway(base_url)
    request_id = gw.create().json()["data"]["requestId"]
    gw.decide(request_id)
    refused = [
        gw.decide(request_id),  # 2002
        gw.session.get(f"{base_url}{GW}/requests/nope", timeout=5),  # 2007
        gw.session.post(base_url + CREATE, json={}, timeout=5),  # 2008
        gw.session.get(f"{base_url}{GW}/requests", params={"sortBy": "x"}, timeout=5),  # 2011
        requests.get(f"{base_url}{GW}/requests", headers={"X-CAP-API-AUTH-ORG-ID": ORG}, timeout=5),  # 2013
    ]
    assert [r.json()["errors"][0]["code"] for r in refused] == [2002, 2007, 2008, 2011, 2013]
    for response in refused:
        assert_valid(ANSWERS["error"], response.json())


# -- Capillary's own examples validate; broken ones do not -------------------------------------------

TASK = {"hostname": "https://eu.api.capillarytech.com", "path": "/v2/customers/lookup/status", "method": "PUT",
        "pathParams": {}, "queryParams": {"source": "INSTORE", "accountId": "", "use_async": "false",
                                          "identifierName": "mobile", "identifierValue": "919780375690"},
        "body": {"reason": "testing", "label": "Suspended"},
        "headers": {"Authorization": "Basic xxx", "content-type": "application/json"}}
CREATED_EXAMPLE = {"data": {  # §1.4's example
    "requestId": "113cff87-62a5-11ee-aa6d-0aaee4e533d2", "userId": 232134, "userName": "maker@example.com",
    "requestType": "customer-status-change", "state": "AdminTask", "startTime": "2023-10-04T16:29:19",
    "endTime": None, "details": {"IntouchAPITask-Payload": TASK, "ValidateMakerAccess_Output": True,
                                 "ValidatePayload_Output": True}}}
APPROVED_EXAMPLE = {"data": {  # §2.4's approved status change
    **CREATED_EXAMPLE["data"], "state": "approved", "endTime": "2023-10-04T16:40:02",
    "details": {**CREATED_EXAMPLE["data"]["details"],
                "AdminTask-Payload": {"actionDecision": "approved", "actionMessage": "approving the request"},
                "AdminTask_Output": "approved", "ValidateCheckerAccess_Output": True,
                "IntouchAPITask_Output": {"status": 200.0, "body": {"warnings": []}, "headers": {
                    "uri_path": ["/v2/customers/{id}/status"], "org_id": ["50672"], "status_code": ["200"],
                    "success": ["1"], "fail": ["0"], "till": ["pun.01"],
                    "X-CAP-REQUEST-ID": ["bd4e3f5b-8c8e-4e0f-9df6-1f0c2a4b5c6d"]}}}}}


def test_capillarys_examples_match_the_schemas():
    assert_valid(ANSWERS["create"], CREATED_EXAMPLE)
    assert_valid(ANSWERS["get"], CREATED_EXAMPLE)
    assert_valid(ANSWERS["decide"], APPROVED_EXAMPLE)
    assert_valid(ANSWERS["list"], {"data": [CREATED_EXAMPLE["data"], APPROVED_EXAMPLE["data"]],
                                   "pagination": {"totalElements": 2, "totalPages": 1, "numberOfElements": 2,
                                                  "number": 0}})
    assert_valid(ANSWERS["error"], {})  # the documented 400 example


@pytest.mark.parametrize(("name", "change"), [
    ("create", lambda d: d["data"].update(state="Completed")),
    ("create", lambda d: d["data"].update(userId="232134")),
    ("get", lambda d: d["data"]["details"].pop("ValidatePayload_Output")),
    ("decide", lambda d: d["data"]["details"].pop("IntouchAPITask_Output")),
    ("decide", lambda d: d["data"]["details"]["IntouchAPITask_Output"]["headers"].pop("X-CAP-REQUEST-ID")),
    ("decide", lambda d: d["data"].update(endTime=None)),
    ("list", lambda d: d.pop("pagination")),
    ("error", lambda d: d.update(errors=[{"status": True, "code": 2008, "message": "x"}])),
])
def test_answers_that_break_the_contract_fail_their_schema(name, change):
    base = {"create": CREATED_EXAMPLE, "get": CREATED_EXAMPLE, "decide": APPROVED_EXAMPLE,
            "list": {"data": [], "pagination": {"totalElements": 0, "totalPages": 0, "numberOfElements": 0,
                                                "number": 0}},
            "error": {"errors": [{"status": False, "code": 2008, "message": "x"}]}}[name]
    document = copy.deepcopy(base)
    assert_valid(ANSWERS[name], document)
    change(document)
    assert_invalid(ANSWERS[name], document)
