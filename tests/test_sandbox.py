"""The sandbox gateway, over a real socket (``serve_wsgi``) and through the in-process adapter."""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
import requests

from sandbox import create_app, faults
from sandbox.faults import FAULT_KINDS
from sandbox.state import CALL_LOG_SIZE, FOREIGN_USER_ID
from sandbox.transport import SANDBOX_BASE_URL, SandboxAdapter, mount_sandbox
from tests.helpers import NEVER_ANSWERS, UNANSWERED_READ_TIMEOUT
from tests.live_server import serve_wsgi

GW = "/api_gateway/v2/request-workflow"
CREATE = f"{GW}/CUSTOMER-STATUS-CHANGE"
ORG = "50672"
MAKER, CHECKER = "maker-token", "checker-token"
ASHA = "919780375690"
TASK = "IntouchAPITask-Payload"
DELETE = object()  # marks a field to remove in _with()


def create_body(*, value: str = ASHA, label: str = "Suspended", name: str = "mobile", source: str = "INSTORE",
                **entity: str) -> dict:
    """A valid create body (§1.3), for the customer ``name``=``value``."""
    return {
        "entityInfo": {"tillId": "50682289", "storeId": "50682288", "zoneId": "50682286",
                       "conceptId": "50678331", **entity},
        "payload": {TASK: {
            "hostname": "https://eu.api.capillarytech.com",
            "path": "/v2/customers/lookup/status",
            "method": "PUT",
            "pathParams": {},
            "queryParams": {"source": source, "accountId": "", "use_async": "false",
                            "identifierName": name, "identifierValue": value},
            "body": {"reason": "testing", "label": label},
            "headers": {"Authorization": "Basic c3RvcmUuc2VydmVyOjhh", "content-type": "application/json"},
        }},
    }


def decision_body(request_id: str, decision: str = "approved", message: str = "checked") -> dict:
    return {"requestId": request_id, "actionName": "AdminTask",
            "payload": {"AdminTask-Payload": {"actionDecision": decision, "actionMessage": message}}}


def _with(document: dict, path: tuple, value) -> dict:
    """A deep copy of ``document`` with the field at ``path`` set to ``value`` (or removed)."""
    changed = copy.deepcopy(document)
    node = changed
    for key in path[:-1]:
        node = node[key]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return changed


def _jwt(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def _messages(response: requests.Response) -> str:
    errors = response.json()["errors"]
    assert all(e["status"] is False and e["code"] == response.status_code for e in errors)
    return " | ".join(e["message"] for e in errors)


class Gateway:
    """Calls the sandbox gateway with the documented headers through one session."""

    def __init__(self, session: requests.Session, base_url: str):
        self.session = session
        self.base_url = base_url

    def call(self, method: str, path: str, *, token: str | None = MAKER, org: str | None = ORG,
             timeout=(2, 5), **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if org is not None:
            headers["X-CAP-API-AUTH-ORG-ID"] = org
        if token is not None:
            headers["X-CAP-UI-AUTH-TOKEN"] = token
        return self.session.request(method, self.base_url + path, headers=headers, timeout=timeout, **kwargs)

    def create(self, body: dict | None = None, **kwargs) -> requests.Response:
        return self.call("POST", CREATE, json=create_body() if body is None else body, **kwargs)

    def created_id(self, body: dict | None = None, **kwargs) -> str:
        response = self.create(body, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()["data"]["requestId"]

    def decide(self, request_id: str, decision: str = "approved", token: str = CHECKER) -> requests.Response:
        return self.call("PUT", CREATE, token=token, json=decision_body(request_id, decision))

    def get(self, request_id: str, **kwargs) -> requests.Response:
        return self.call("GET", f"{GW}/requests/{request_id}", **kwargs)

    def list(self, *, timeout=(2, 5), **params) -> requests.Response:
        return self.call("GET", f"{GW}/requests", params=params, timeout=timeout)

    def list_ids(self, **params) -> list[str]:
        response = self.list(**params)
        assert response.status_code == 200, response.text
        return [item["requestId"] for item in response.json()["data"]]


@pytest.fixture(scope="module")
def sandbox_app():
    """The sandbox; over a socket its `timeout` fault holds the answer longer than any test."""
    return create_app({"SANDBOX_STALL_SECONDS": NEVER_ANSWERS})


@pytest.fixture(scope="module")
def live_url(sandbox_app):
    with serve_wsgi(sandbox_app) as base_url:
        yield base_url


@pytest.fixture
def state(sandbox_app):
    state = sandbox_app.extensions["sandbox"]
    state.reset()
    return state


@pytest.fixture(params=["socket", "adapter"])
def gw(request, sandbox_app, state):
    """The gateway over a real socket, then through the in-process adapter."""
    with requests.Session() as session:
        if request.param == "socket":
            yield Gateway(session, request.getfixturevalue("live_url"))
        else:
            yield Gateway(session, mount_sandbox(session, sandbox_app))


@pytest.fixture
def inproc(sandbox_app, state):
    """The gateway through the in-process adapter only."""
    with requests.Session() as session:
        yield Gateway(session, mount_sandbox(session, sandbox_app))


@pytest.fixture
def sock(live_url, state):
    """The gateway over a real socket only."""
    with requests.Session() as session:
        yield Gateway(session, live_url)


def _customer(state, name: str) -> dict:
    return next(c for c in state.customers() if c["name"] == name)


# -- create (§1) ---------------------------------------------------------------------------------


def test_create_answers_the_documented_shape(gw, state):
    body = create_body()
    response = gw.create(body)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    data = response.json()["data"]
    assert list(data) == ["requestId", "userId", "userName", "requestType", "state", "startTime", "endTime", "details"]
    assert uuid.UUID(data["requestId"]).version == 1
    assert isinstance(data["userId"], int) and data["userName"]
    assert (data["requestType"], data["state"], data["endTime"]) == ("customer-status-change", "AdminTask", None)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", data["startTime"])
    assert data["details"] == {TASK: body["payload"][TASK], "ValidateMakerAccess_Output": True,
                               "ValidatePayload_Output": True}
    # Echoed, inner Authorization included, as Capillary does.
    assert data["details"][TASK]["headers"]["Authorization"] == "Basic c3RvcmUuc2VydmVyOjhh"
    assert state.created_count == 1
    assert state.get_request(data["requestId"]) == data


def test_user_id_is_stable_per_token_and_read_from_jwt_claims(inproc):
    first, again, other = (inproc.create(token=t).json()["data"] for t in (MAKER, MAKER, CHECKER))
    assert first["userId"] == again["userId"] != other["userId"]
    assert first["userName"] == again["userName"]
    jwt = inproc.create(token=_jwt({"sub": "232134", "username": "asha.manager@example.com"})).json()["data"]
    assert (jwt["userId"], jwt["userName"]) == (232134, "asha.manager@example.com")
    named = inproc.create(token=_jwt({"userId": 77, "sub": "till.manager"})).json()["data"]
    assert (named["userId"], named["userName"]) == (77, "till.manager")


@pytest.mark.parametrize(
    ("org", "token", "missing"),
    [(None, MAKER, "X-CAP-API-AUTH-ORG-ID"), (ORG, None, "X-CAP-UI-AUTH-TOKEN"), (ORG, "", "X-CAP-UI-AUTH-TOKEN"),
     ("", MAKER, "X-CAP-API-AUTH-ORG-ID")],
)
def test_create_without_gateway_headers_is_401(gw, state, org, token, missing):
    response = gw.create(org=org, token=token)
    assert response.status_code == 401
    assert missing in _messages(response)
    assert state.created_count == 0


INVALID_FIELDS = [
    (("entityInfo",), DELETE, "entityInfo"),
    (("entityInfo", "tillId"), "", "entityInfo.tillId"),
    (("entityInfo", "storeId"), 50682288, "entityInfo.storeId"),
    (("entityInfo", "zoneId"), DELETE, "entityInfo.zoneId"),
    (("entityInfo", "conceptId"), "  ", "entityInfo.conceptId"),
    (("payload",), {}, TASK),
    (("payload", TASK, "hostname"), DELETE, "hostname"),
    (("payload", TASK, "hostname"), "<https://eu.api.capillarytech.com>", "hostname"),
    (("payload", TASK, "path"), "/v2/customers/status", ".path"),
    (("payload", TASK, "method"), "POST", ".method"),
    (("payload", TASK, "queryParams"), DELETE, "queryParams"),
    (("payload", TASK, "queryParams", "identifierName"), "phone", "identifierName"),
    (("payload", TASK, "queryParams", "identifierValue"), "", "identifierValue"),
    (("payload", TASK, "queryParams", "source"), DELETE, "queryParams.source"),
    (("payload", TASK, "body"), DELETE, ".body"),
    (("payload", TASK, "body", "label"), "", "body.label"),
    (("payload", TASK, "body", "reason"), DELETE, "body.reason"),
    (("payload", TASK, "headers"), {"content-type": "application/json"}, "headers.Authorization"),
    (("payload", TASK, "headers"), "Basic abc", ".headers"),
]


@pytest.mark.parametrize(("path", "value", "field"), INVALID_FIELDS, ids=lambda v: None)
def test_create_with_an_invalid_field_is_400_naming_it(gw, state, path, value, field):
    response = gw.create(_with(create_body(), path, value))
    assert response.status_code == 400
    assert field in _messages(response)
    assert state.created_count == 0


def test_create_reports_every_invalid_field_at_once(inproc):
    body = _with(_with(create_body(), ("entityInfo", "tillId"), ""), ("payload", TASK, "method"), "GET")
    messages = _messages(inproc.create(body))
    assert "entityInfo.tillId" in messages and ".method must be PUT" in messages


@pytest.mark.parametrize(
    ("data", "words"),
    [(b"{not json", "not valid JSON"), (b"", "not valid JSON"), (b"[1, 2]", "JSON object")],
)
def test_create_with_an_unusable_body_is_400(gw, state, data, words):
    response = gw.call("POST", CREATE, data=data, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert words in _messages(response)
    assert state.created_count == 0


@pytest.mark.parametrize(("request_type", "words"),
                         [("POINTS-REDEMPTION", "not simulated"), ("customer-status-change", "Unknown request type")])
def test_create_of_another_request_type_is_400(gw, state, request_type, words):
    response = gw.call("POST", f"{GW}/{request_type}", json=create_body())
    assert response.status_code == 400
    assert words in _messages(response)
    assert state.created_count == 0


@pytest.mark.parametrize(("method", "path", "status"),
                         [("GET", CREATE, 405), ("DELETE", CREATE, 405), ("POST", f"{GW}/requests/x/y", 404),
                          ("POST", "/v2/api_gateway/v2/request-workflow/CUSTOMER-STATUS-CHANGE", 404)])
def test_wrong_method_or_path_answers_json_error(gw, method, path, status):
    response = gw.call(method, path, json=create_body())
    assert response.status_code == status
    assert response.json()["errors"][0]["code"] == status


# -- approve / reject (§2) -------------------------------------------------------------------------


def test_approve_runs_the_task_and_changes_the_customer_label(gw, state):
    request_id = gw.created_id()
    assert _customer(state, "Asha Rao")["label"] == "Active"
    response = gw.decide(request_id, "approved")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["state"] == "approved" and data["endTime"] is not None
    details = data["details"]
    assert details["AdminTask-Payload"] == {"actionDecision": "approved", "actionMessage": "checked"}
    assert details["AdminTask_Output"] == "approved"
    assert details["ValidateCheckerAccess_Output"] is True
    output = details["IntouchAPITask_Output"]
    assert output["status"] == 200.0 and output["body"] == {"warnings": []}
    assert {k: output["headers"][k] for k in ("status_code", "success", "fail", "uri_path")} == {
        "status_code": ["200"], "success": ["1"], "fail": ["0"], "uri_path": ["/v2/customers/{id}/status"]}
    assert len(output["headers"]["X-CAP-REQUEST-ID"]) == 1
    asha = _customer(state, "Asha Rao")
    assert (asha["label"], asha["status"]) == ("Suspended", "Suspended")
    assert gw.get(request_id).json()["data"] == data


def _failed_output(gw, body: dict) -> dict:
    data = gw.decide(gw.created_id(body)).json()["data"]
    assert data["state"] == "failed"
    assert data["details"]["AdminTask_Output"] == "approved"
    output = data["details"]["IntouchAPITask_Output"]
    assert (output["headers"]["success"], output["headers"]["fail"]) == (["0"], ["1"])
    return output


def test_approve_for_an_unknown_customer_fails_with_8015(gw):
    output = _failed_output(gw, create_body(value="910000000000"))
    assert output["headers"]["status_code"] == ["8015"]
    assert output["body"] == {"errors": [{"status": False, "code": 8015,
                                          "message": "Customer not found for the given identifiers"}]}


@pytest.mark.parametrize(("value", "label"), [("919812345673", "Active"), ("919812345674", "Active"),
                                              (ASHA, "Deleted")])
def test_approve_touching_deletion_statuses_fails_with_1032(gw, state, value, label):
    before = state.customers()
    output = _failed_output(gw, create_body(value=value, label=label))
    assert output["body"]["errors"][0]["code"] == "UPDATECUSTOMERSTATUS_1032"
    assert "pending deletion or deleted status not allowed" in output["body"]["errors"][0]["message"]
    assert state.customers() == before


def test_approve_with_an_invalid_source_fails_with_8003(gw, state):
    output = _failed_output(gw, create_body(source="NOT_A_SOURCE"))
    assert output["body"]["errors"][0]["code"] == 8003
    assert _customer(state, "Asha Rao")["label"] == "Active"


def test_approve_with_an_unknown_label_fails(gw, state):
    output = _failed_output(gw, create_body(label="Gold"))
    assert "Invalid label 'Gold'" in output["body"]["errors"][0]["message"]
    assert _customer(state, "Asha Rao")["label"] == "Active"


def test_approve_finds_customers_by_other_identifiers(inproc, state):
    body = create_body(name="email", value="ROHAN.DAS@example.com", label="Fraud suspected")
    assert inproc.decide(inproc.created_id(body)).json()["data"]["state"] == "approved"
    assert _customer(state, "Rohan Das")["status"] == "Fraud suspected"


def test_reject_ends_the_request_without_running_the_task(gw, state):
    request_id = gw.created_id()
    data = gw.decide(request_id, "rejected").json()["data"]
    assert data["state"] == "rejected" and data["endTime"] is not None
    assert data["details"]["AdminTask_Output"] == "rejected"
    assert data["details"]["AdminTask-Payload"]["actionDecision"] == "rejected"
    assert data["details"]["ValidateCheckerAccess_Output"] is True
    assert "IntouchAPITask_Output" not in data["details"]
    assert _customer(state, "Asha Rao")["label"] == "Active"


@pytest.mark.parametrize("second", ["approved", "rejected"])
def test_deciding_twice_is_400(gw, state, second):
    request_id = gw.created_id()
    assert gw.decide(request_id, "approved").status_code == 200
    response = gw.decide(request_id, second)
    assert response.status_code == 400
    assert _messages(response) == f"Request {request_id} is not waiting for an admin task (state: approved)"
    assert state.get_request(request_id)["details"]["AdminTask_Output"] == "approved"


def test_self_approval_is_403_only_when_forbidden(gw, state):
    request_id = gw.created_id()
    state.set_forbid_self_approval(True)
    response = gw.decide(request_id, "approved", token=MAKER)
    assert response.status_code == 403
    assert state.get_request(request_id)["state"] == "AdminTask"
    assert gw.decide(request_id, "approved", token=CHECKER).status_code == 200
    state.set_forbid_self_approval(False)
    assert gw.decide(gw.created_id(), "rejected", token=MAKER).status_code == 200


def test_decide_an_unknown_request_is_404(gw):
    response = gw.decide(str(uuid.uuid1()))
    assert response.status_code == 404
    assert "not found" in _messages(response)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [(("requestId",), DELETE, "requestId"), (("actionName",), "adminTask", "actionName"),
     (("payload",), {}, "AdminTask-Payload"),
     (("payload", "AdminTask-Payload", "actionDecision"), "maybe", "actionDecision"),
     (("payload", "AdminTask-Payload", "actionMessage"), DELETE, "actionMessage")],
)
def test_decide_with_an_invalid_field_is_400_naming_it(gw, state, path, value, field):
    request_id = gw.created_id()
    response = gw.call("PUT", CREATE, token=CHECKER, json=_with(decision_body(request_id), path, value))
    assert response.status_code == 400
    assert field in _messages(response)
    assert state.get_request(request_id)["state"] == "AdminTask"


def test_decide_needs_the_gateway_headers(gw):
    request_id = gw.created_id()
    response = gw.call("PUT", CREATE, token=None, json=decision_body(request_id))
    assert response.status_code == 401


def test_concurrent_approvals_decide_exactly_once(inproc, sandbox_app, state):
    request_id = inproc.created_id()
    statuses, barrier = [], threading.Barrier(8)

    def approve():
        with requests.Session() as session:
            mine = Gateway(session, mount_sandbox(session, sandbox_app))
            barrier.wait()
            statuses.append(mine.decide(request_id).status_code)

    threads = [threading.Thread(target=approve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [400] * 7


# -- get (§3) ----------------------------------------------------------------------------------


def test_get_returns_the_request_or_404(gw):
    created = gw.create().json()["data"]
    assert gw.get(created["requestId"]).json() == {"data": created}
    missing = gw.get("no-such-request")
    assert missing.status_code == 404
    assert "no-such-request" in _messages(missing)
    assert gw.get(created["requestId"], token=None).status_code == 401


# -- list (§4) ---------------------------------------------------------------------------------


def test_list_pages_through_everything_newest_first(gw, state):
    made = [gw.created_id() for _ in range(12)]
    pages = [gw.list(limit=5, PageNo=n).json() for n in range(4)]
    assert [p["pagination"] for p in pages] == [
        {"totalElements": 12, "totalPages": 3, "numberOfElements": n, "number": i} for i, n in enumerate((5, 5, 2, 0))
    ]
    listed = [item["requestId"] for page in pages for item in page["data"]]
    assert listed == made[::-1]  # desc by default; creation order breaks same-second ties
    assert gw.list_ids(limit=100, sortOrder="asc") == made
    assert len(gw.list_ids()) == 10  # default limit


def _seed_filter_set(state) -> dict[str, str]:
    return {
        "old": state.seed_request(start_time="2023-10-01T10:00:00", state="approved",
                                  entity_info={"storeId": "S1"}),
        "mid": state.seed_request(start_time="2023-10-03T09:00:00", state="failed",
                                  entity_info={"tillId": "T2", "zoneId": "Z2"}, user_id=232134),
        "new": state.seed_request(start_time="2023-10-05T23:59:59", state="AdminTask",
                                  entity_info={"conceptId": "C3"}),
        "rej": state.seed_request(start_time="2023-10-04T12:00:00", state="rejected",
                                  end_time="2023-10-04T12:01:00", entity_info={"storeId": "S1"}),
    }


def test_list_filters_as_documented(gw, state):
    ids = _seed_filter_set(state)

    def listed(**params) -> set[str]:
        found = set(gw.list_ids(**params))
        return {name for name, request_id in ids.items() if request_id in found}

    assert listed(states="AdminTask,failed") == {"new", "mid"}
    assert listed(states="approved") == {"old"}
    assert listed(storeId="S1") == {"old", "rej"}
    assert listed(tillId="T2") == listed(zoneId="Z2") == {"mid"}
    assert listed(conceptId="C3") == {"new"}
    assert listed(userId=232134) == {"mid"}
    assert listed(userId=FOREIGN_USER_ID) == {"old", "new", "rej"}
    assert listed(startDate="2023-10-03", endDate="2023-10-04") == {"mid", "rej"}  # inclusive
    assert listed(startDate="2023-10-05") == {"new"}
    assert listed(endDate="2023-10-01") == {"old"}
    assert listed(requestType="CUSTOMER-STATUS-CHANGE") == set(ids)
    assert listed(requestType="POINTS-REDEMPTION") == set()
    # The doc's example URL sends unused filters empty.
    assert listed(conceptId="", zoneId="", storeId="", endDate="", PageNo="", states="AdminTask") == {"new"}


def test_list_sorts_by_start_or_end_date(gw, state):
    ids = _seed_filter_set(state)
    order = {v: k for k, v in ids.items()}
    assert [order[i] for i in gw.list_ids(sortBy="startDate", sortOrder="asc")] == ["old", "mid", "rej", "new"]
    assert [order[i] for i in gw.list_ids(sortBy="startDate")] == ["new", "rej", "mid", "old"]
    # Requests without an endTime come last either way.
    assert [order[i] for i in gw.list_ids(sortBy="endDate", sortOrder="asc")] == ["old", "mid", "rej", "new"]
    assert [order[i] for i in gw.list_ids(sortBy="endDate", sortOrder="desc")] == ["rej", "mid", "old", "new"]


@pytest.mark.parametrize(
    ("params", "words"),
    [({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "ten"}, "limit"),
     ({"PageNo": "-1"}, "PageNo"), ({"PageNo": "first"}, "PageNo"), ({"sortBy": "created"}, "sortBy"),
     ({"sortOrder": "up"}, "sortOrder"), ({"states": "AdminTask,Completed"}, "Completed"),
     ({"startDate": "2023/10/03"}, "startDate"), ({"endDate": "03-10-2023"}, "endDate"),
     ({"startDate": "2023-10-05", "endDate": "2023-10-01"}, "startDate must not be after endDate"),
     ({"userId": "abc"}, "userId"), ({"requestType": "GIFT"}, "requestType")],
)
def test_list_with_bad_values_is_400(gw, params, words):
    response = gw.list(**params)
    assert response.status_code == 400
    assert words in _messages(response)


def test_list_needs_the_gateway_headers(gw):
    assert gw.call("GET", f"{GW}/requests", org=None).status_code == 401


# -- auto-approval (§6) --------------------------------------------------------------------------


def test_auto_approve_approves_and_runs_at_creation(gw, state):
    state.set_auto_approve(True)
    data = gw.create(create_body(label="Internal")).json()["data"]
    assert data["state"] == "approved" and data["endTime"] is not None
    assert data["details"]["IntouchAPITask_Output"]["status"] == 200.0
    assert "AdminTask-Payload" not in data["details"]  # as in the doc's auto-approved example
    assert _customer(state, "Asha Rao")["label"] == "Internal"
    assert state.created_count == 1
    failed = gw.create(create_body(value="910000000000")).json()["data"]
    assert failed["state"] == "failed"
    assert gw.decide(data["requestId"]).status_code == 400


def test_create_app_reads_the_environment_only_when_standalone(monkeypatch):
    monkeypatch.setenv("SANDBOX_AUTO_APPROVE", "yes")
    monkeypatch.setenv("SANDBOX_LATENCY_MS", "5")
    monkeypatch.setenv("SANDBOX_STALL_SECONDS", "2.5")
    standalone = create_app()
    assert standalone.extensions["sandbox"].settings() == {
        "auto_approve": True, "forbid_self_approval": False, "latency_ms": 5}
    assert standalone.config["SANDBOX_STALL_SECONDS"] == 2.5
    embedded = create_app({"SANDBOX_LATENCY_MS": 7})
    assert embedded.extensions["sandbox"].settings()["auto_approve"] is False
    assert embedded.extensions["sandbox"].settings()["latency_ms"] == 7
    assert embedded.extensions["sandbox"] is not standalone.extensions["sandbox"]
    monkeypatch.setenv("SANDBOX_AUTO_APPROVE", "perhaps")
    with pytest.raises(ValueError, match="SANDBOX_AUTO_APPROVE"):
        create_app()


# -- faults ------------------------------------------------------------------------------------


def _no_data(response):
    return "data" not in response.json()


def _not_json(response):
    with pytest.raises(ValueError):
        response.json()
    return True


HTTP_FAULTS = {
    **{code: (int(code), lambda r: r.json()["errors"][0]["code"] == r.status_code)
       for code in ("500", "502", "503", "504", "401", "403", "404", "409")},
    "429": (429, lambda r: r.headers["Retry-After"] == "2" and r.json()["errors"][0]["code"] == 429),
    "400-empty": (400, lambda r: r.json() == {}),
    "400-json": (400, lambda r: r.json()["errors"][0]["status"] is False),
    "html": (500, lambda r: r.headers["Content-Type"].startswith("text/html") and "<html>" in r.text),
    "empty": (200, lambda r: r.content == b""),
    "truncated": (200, lambda r: r.text.startswith('{"data": {') and _not_json(r)),
    "no-data": (200, _no_data),
    "not-json": (200, lambda r: r.headers["Content-Type"].startswith("text/plain") and _not_json(r)),
    "unreadable": (200, lambda r: r.headers["Content-Type"].startswith("text/plain") and _not_json(r)),
}


def test_every_fault_kind_is_tested():
    assert set(FAULT_KINDS) == set(HTTP_FAULTS) | {"timeout", "reset", "refused", "huge"}


@pytest.mark.parametrize("kind", list(HTTP_FAULTS))
def test_http_fault_replaces_one_create_through_the_adapter(inproc, state, kind):
    status, check = HTTP_FAULTS[kind]
    state.inject_fault(kind)
    response = inproc.create()
    assert response.status_code == status
    assert check(response)
    assert state.created_count == 0  # the fault came before the normal work
    assert state.calls[-1]["endpoint"] == "create"  # but the call did arrive
    assert state.pending_faults() == []
    assert inproc.create().status_code == 200


@pytest.mark.parametrize("kind", ["429", "html", "503", "truncated", "400-empty"])
def test_http_faults_over_a_socket(sock, state, kind):
    status, check = HTTP_FAULTS[kind]
    state.inject_fault(kind, endpoint="list")
    response = sock.list()
    assert response.status_code == status
    assert check(response)


@pytest.fixture
def stalls(monkeypatch) -> list[float]:
    """The sandbox's stalls (faults and latency), in seconds, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(faults, "time", SimpleNamespace(sleep=slept.append))
    return slept


@pytest.mark.parametrize("timeout", [0.3, (2, 0.3)])
def test_timeout_fault_raises_read_timeout_after_the_read_timeout(inproc, state, stalls, timeout):
    state.inject_fault("timeout", endpoint="create")
    with pytest.raises(requests.ReadTimeout) as caught:
        inproc.create(timeout=timeout)
    assert stalls == [0.3]  # the caller's read timeout, not the sandbox's long stall
    assert "read timeout=0.3" in str(caught.value)
    assert state.created_count == 0
    assert inproc.create().status_code == 200
    assert stalls == [0.3]


def test_timeout_fault_shorter_than_the_read_timeout_answers_504():
    app = create_app({"SANDBOX_STALL_SECONDS": 0.05})
    app.extensions["sandbox"].inject_fault("timeout")
    with requests.Session() as session:
        response = Gateway(session, mount_sandbox(session, app)).list(timeout=(1, 2))
    assert response.status_code == 504


def test_timeout_fault_over_a_socket_stalls_past_the_read_timeout(sock, state):
    state.inject_fault("timeout", endpoint="get")
    with pytest.raises(requests.ReadTimeout):
        sock.get("anything", timeout=(5, UNANSWERED_READ_TIMEOUT))
    assert [call["endpoint"] for call in state.calls] == ["get"]  # it arrived, and no answer came


def test_reset_fault_raises_connection_error_after_sending(gw, state):
    state.inject_fault("reset", endpoint="create")
    with pytest.raises(requests.ConnectionError) as caught:
        gw.create()
    assert "Connection aborted" in str(caught.value)
    assert state.calls[-1]["endpoint"] == "create"  # the request had been sent
    assert state.created_count == 0
    assert gw.create().status_code == 200


def test_refused_fault_raises_connection_error(gw, state):
    state.inject_fault("refused", endpoint="approve")
    request_id = gw.created_id()
    with pytest.raises(requests.ConnectionError):
        gw.decide(request_id)
    assert state.get_request(request_id)["state"] == "AdminTask"
    assert gw.decide(request_id).status_code == 200


def test_refused_fault_in_process_looks_like_nothing_was_sent(inproc, state):
    state.inject_fault("refused")
    with pytest.raises(requests.ConnectionError) as caught:
        inproc.create()
    assert "Connection refused" in str(caught.value)
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)
    assert state.calls == []


def test_reset_fault_in_process_comes_from_a_connection_reset(inproc, state):
    state.inject_fault("reset")
    with pytest.raises(requests.ConnectionError) as caught:
        inproc.list()
    assert isinstance(caught.value.__cause__, ConnectionResetError)


def test_huge_fault_sends_about_30_mb(inproc, state):
    state.inject_fault("huge", count=2)
    response = inproc.create()
    declared = int(response.headers["Content-Length"])
    assert declared >= 30 * 1024 * 1024
    assert len(response.content) == declared
    assert response.content.startswith(b'{"padding": "xxx')
    # A careful client can stop after the first chunk.
    with inproc.create(stream=True) as streamed:
        assert len(next(streamed.iter_content(64 * 1024))) == 64 * 1024
    assert state.created_count == 0


def test_faults_match_their_endpoint_and_count(inproc, state):
    state.inject_fault("500", count=2, endpoint="get")
    assert state.pending_faults() == [{"kind": "500", "endpoint": "get", "remaining": 2}]
    request_id = inproc.created_id()
    assert inproc.list().status_code == 200
    assert [inproc.get(request_id).status_code for _ in range(3)] == [500, 500, 200]
    state.inject_fault("503", endpoint="approve")
    state.inject_fault("401")
    assert inproc.decide(request_id).status_code == 503
    assert inproc.list().status_code == 401
    state.inject_fault("404")
    state.clear_faults()
    assert state.pending_faults() == []


@pytest.mark.parametrize(("kind", "count", "endpoint"), [("oops", 1, "any"), ("500", 0, "any"), ("500", 1, "delete")])
def test_inject_fault_refuses_bad_values(state, kind, count, endpoint):
    with pytest.raises(ValueError):
        state.inject_fault(kind, count, endpoint)
    assert state.pending_faults() == []


def test_latency_is_added_and_bounded_by_the_read_timeout(inproc, state, stalls):
    state.set_latency_ms(150)
    assert inproc.list().status_code == 200
    assert stalls == [0.15]
    with pytest.raises(requests.ReadTimeout):
        inproc.list(timeout=(1, 0.05))
    assert stalls == [0.15, 0.05]  # no longer than the caller waits
    with pytest.raises(ValueError):
        state.set_latency_ms(-1)


# -- adapter -----------------------------------------------------------------------------------


def test_adapter_returns_a_real_response(sandbox_app, state):
    with requests.Session() as session:
        assert mount_sandbox(session, sandbox_app) == SANDBOX_BASE_URL
        assert isinstance(session.get_adapter(SANDBOX_BASE_URL + "/x"), SandboxAdapter)
        url = f"{SANDBOX_BASE_URL}{GW}/requests?limit=3"
        response = session.get(url, headers={"X-CAP-API-AUTH-ORG-ID": ORG, "X-CAP-UI-AUTH-TOKEN": MAKER}, timeout=1)
    assert response.status_code == 200 and response.reason == "OK"
    assert response.url == url and response.request.url == url
    assert response.encoding == "utf-8"
    assert response.json()["pagination"]["totalElements"] == 0
    assert response.text.startswith('{"data"')
    assert state.calls[-1]["query"] == {"limit": "3"}
    # Sent by the adapter itself (a Session would overwrite it), the time is measured: an unset
    # one is exactly zero.
    prepared = requests.Request("GET", url, headers={"X-CAP-API-AUTH-ORG-ID": ORG,
                                                     "X-CAP-UI-AUTH-TOKEN": MAKER}).prepare()
    direct = SandboxAdapter(sandbox_app).send(prepared, timeout=1)
    assert direct.status_code == 200 and direct.elapsed > timedelta(0)


# -- control endpoints and state -------------------------------------------------------------------


def test_control_state_settings_and_reset(gw, state):
    shown = gw.call("GET", "/_sandbox/state").json()
    assert shown["settings"] == {"auto_approve": False, "forbid_self_approval": False, "latency_ms": 0}
    assert len(shown["customers"]) == 8 and shown["created_count"] == shown["request_count"] == 0
    assert {f["kind"] for f in shown["fault_kinds"]} == set(FAULT_KINDS)
    changed = gw.call("POST", "/_sandbox/settings", json={"auto_approve": True, "latency_ms": 1})
    assert changed.json()["settings"] == {"auto_approve": True, "forbid_self_approval": False, "latency_ms": 1}
    assert state.settings()["auto_approve"] is True
    bad = gw.call("POST", "/_sandbox/settings", json={"auto_approve": "yes", "colour": "red", "latency_ms": -5})
    assert bad.status_code == 400
    assert all(w in _messages(bad) for w in ("auto_approve", "colour", "latency_ms"))
    gw.created_id()
    assert gw.call("GET", "/_sandbox/state").json()["created_count"] == 1
    assert _customer(state, "Asha Rao")["label"] == "Suspended"  # auto-approved
    assert gw.call("POST", "/_sandbox/reset").status_code == 200
    assert (state.created_count, state.request_count, state.calls) == (0, 0, [])
    assert state.settings()["auto_approve"] is False
    assert _customer(state, "Asha Rao")["label"] == "Active"


def test_control_faults(gw, state):
    added = gw.call("POST", "/_sandbox/faults", json={"kind": "503", "count": 2, "endpoint": "create"})
    assert added.status_code == 201
    assert added.json()["pending_faults"] == [{"kind": "503", "endpoint": "create", "remaining": 2}]
    assert gw.call("POST", "/_sandbox/faults", json={"kind": "teapot"}).status_code == 400
    assert gw.call("POST", "/_sandbox/faults", json={"kind": "500", "endpoint": "nowhere"}).status_code == 400
    assert gw.create().status_code == 503
    assert state.pending_faults()[0]["remaining"] == 1
    assert gw.call("DELETE", "/_sandbox/faults").json() == {"pending_faults": []}
    assert gw.create().status_code == 200


def test_control_seeds_a_foreign_request(gw, state):
    seeded = gw.call("POST", "/_sandbox/requests", json={
        "identifierValue": "919780375691", "label": "Active", "reason": "from the UI",
        "startTime": "2023-10-04T16:29:19", "entityInfo": {"storeId": "S9"}})
    assert seeded.status_code == 201
    data = seeded.json()["data"]
    assert (data["state"], data["userId"], data["startTime"]) == ("AdminTask", FOREIGN_USER_ID, "2023-10-04T16:29:19")
    assert data["details"][TASK]["queryParams"]["identifierValue"] == "919780375691"
    assert gw.list_ids(storeId="S9") == [data["requestId"]]
    assert state.created_count == 0  # seeds were not made through the create endpoint
    assert gw.decide(data["requestId"]).json()["data"]["state"] == "approved"
    assert _customer(state, "Vikram Shah")["label"] == "Active"
    for bad in ({"state": "Completed"}, {"startTime": "yesterday"}, {"userId": "x"}, {"colour": 1}):
        assert gw.call("POST", "/_sandbox/requests", json=bad).status_code == 400


def test_control_call_log(gw, state):
    request_id = gw.created_id()
    gw.get(request_id)
    calls = gw.call("GET", "/_sandbox/calls").json()["calls"]
    assert [(c["method"], c["endpoint"]) for c in calls] == [("POST", "create"), ("GET", "get")]
    assert calls[0]["path"] == CREATE
    assert calls[0]["headers"]["x-cap-api-auth-org-id"] == ORG
    assert calls[0]["headers"]["x-cap-ui-auth-token"] == MAKER
    assert calls[0]["body"] == create_body()
    assert calls[1]["body"] is None
    assert len(gw.call("GET", "/_sandbox/calls?clear=1").json()["calls"]) == 2
    assert state.calls == []


def test_bytes_header_values_arrive_as_text(gw, state):
    # requests accepts bytes header values; a socket sends their bytes, so the adapter must too.
    assert gw.create(token=None, headers={"X-CAP-UI-AUTH-TOKEN": MAKER.encode()}).status_code == 200
    assert state.calls[-1]["headers"]["x-cap-ui-auth-token"] == MAKER


def test_call_log_keeps_the_last_500(state):
    for number in range(CALL_LOG_SIZE + 10):
        state.record_call({"n": number})
    calls = state.calls
    assert len(calls) == CALL_LOG_SIZE
    assert (calls[0]["n"], calls[-1]["n"]) == (10, CALL_LOG_SIZE + 9)


def test_seeded_decided_requests_carry_their_outcome(state):
    approved = state.get_request(state.seed_request(state="approved", start_time="2023-10-04T16:29:19"))
    assert approved["endTime"] == "2023-10-04T16:34:19"
    assert approved["details"]["IntouchAPITask_Output"]["status"] == 200.0
    failed = state.get_request(state.seed_request(state="failed"))
    assert failed["details"]["IntouchAPITask_Output"]["body"]["errors"][0]["code"] == 8015
    rejected = state.get_request(state.seed_request(state="rejected"))
    assert rejected["details"]["AdminTask_Output"] == "rejected"
    assert _customer(state, "Asha Rao")["label"] == "Active"  # seeds never touch customers
    with pytest.raises(ValueError):
        state.seed_request(state="Completed")


def test_state_hands_out_copies(state):
    request_id = state.seed_request()
    state.get_request(request_id)["state"] = "approved"
    state.customers()[0]["label"] = "Gone"
    assert state.get_request(request_id)["state"] == "AdminTask"
    assert state.customers()[0]["label"] == "Active"
    assert state.get_request("nope") is None
