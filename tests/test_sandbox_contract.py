"""The sandbox speaks the rest of the documented contract (docs/CAPILLARY_API.md §1.5, §2.4, §4.2, §7).

Gateway credentials (Basic, OAuth) accepted and, when configured, checked; Capillary's own cURL
sample (Basic with an empty UI token) working then; the approve answer's full downstream header
set; the documented failed shape as a task fault; warnings; requests of other types in the list.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
import requests

from sandbox import create_app
from tests.live_server import serve_wsgi
from tests.test_sandbox import CREATE, GW, create_body, decision_body

USER, PASSWORD = "store.server", "server123"
KEY, SECRET = "client-key", "client-secret"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def served():
    """Start a sandbox with the given settings on a real socket; yield ``(base_url, state)``."""
    servers = []

    def start(**config):
        app = create_app(config)
        context = serve_wsgi(app)
        base_url = context.__enter__()
        servers.append(context)
        return base_url, app.extensions["sandbox"]

    yield start
    for context in servers:
        context.__exit__(None, None, None)


def _post(base_url, *, token="maker-token", org="50672", **headers):  # noqa: S107 - a test token
    sent = {"X-CAP-API-AUTH-ORG-ID": org, "X-CAP-UI-AUTH-TOKEN": token, **headers}
    return requests.post(base_url + CREATE, json=create_body(), headers=sent, timeout=5)


# -- gateway credentials ---------------------------------------------------------------------------


def test_capillarys_own_curl_sample_works_when_basic_is_configured(served):
    base_url, state = served(SANDBOX_GATEWAY_USERNAME=USER, SANDBOX_GATEWAY_PASSWORD=PASSWORD)
    # §1.2: Basic auth, org 0, an *empty* X-CAP-UI-AUTH-TOKEN, Content-Type application/json.
    response = _post(base_url, token="", org="0", Authorization=_basic(USER, PASSWORD))
    assert response.status_code == 200
    assert response.json()["data"]["userName"] == USER  # the maker is the Basic user then
    md5 = hashlib.md5(PASSWORD.encode()).hexdigest()  # noqa: S324 - the app's §7.2 form is accepted too
    assert _post(base_url, token="", Authorization=_basic(USER, md5)).status_code == 200
    assert state.created_count == 2


@pytest.mark.parametrize("headers", [{}, {"Authorization": _basic(USER, "wrong")},
                                     {"Authorization": _basic("someone", PASSWORD)}, {"Authorization": "Bearer x"}])
def test_configured_basic_credentials_are_checked(served, headers):
    base_url, state = served(SANDBOX_GATEWAY_USERNAME=USER, SANDBOX_GATEWAY_PASSWORD=PASSWORD)
    response = _post(base_url, **headers)
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == 2013
    assert state.created_count == 0


def test_without_configured_credentials_basic_is_accepted_and_the_ui_token_still_needed(served):
    base_url, _ = served()
    assert _post(base_url, Authorization=_basic("any", "thing")).status_code == 200
    missing = _post(base_url, token="", Authorization=_basic("any", "thing"))
    assert missing.status_code == 401 and missing.json()["errors"][0]["code"] == 2013


def test_oauth_tokens_are_issued_checked_and_expire(served):
    base_url, state = served(SANDBOX_OAUTH_KEY=KEY, SANDBOX_OAUTH_SECRET=SECRET, SANDBOX_OAUTH_TTL_SECONDS=120)
    refused = requests.post(base_url + "/v3/oauth/token/generate", json={"key": KEY, "secret": "no"}, timeout=5)
    assert refused.status_code == 401
    answer = requests.post(base_url + "/v3/oauth/token/generate", json={"key": KEY, "secret": SECRET}, timeout=5)
    assert answer.status_code == 200
    body = answer.json()
    assert body["errors"] is None and body["data"]["ttlSeconds"] == 120  # §7.3's shape
    token = body["data"]["accessToken"]
    assert _post(base_url, token="", **{"X-CAP-API-OAUTH-TOKEN": token}).json()["data"]["userName"] == KEY
    assert _post(base_url, **{"CAP-API-ACCESS-TOKEN": token}).status_code == 200  # [OVERVIEW]'s spelling
    assert _post(base_url, **{"X-CAP-API-OAUTH-TOKEN": "made-up"}).status_code == 401
    state.expire_oauth_tokens()
    assert _post(base_url, **{"X-CAP-API-OAUTH-TOKEN": token}).status_code == 401


# -- the approve answer ----------------------------------------------------------------------------


def _approve(base_url, request_id: str) -> dict:
    response = requests.put(base_url + CREATE, json=decision_body(request_id), timeout=5,
                            headers={"X-CAP-API-AUTH-ORG-ID": "50672", "X-CAP-UI-AUTH-TOKEN": "checker-token"})
    assert response.status_code == 200
    return response.json()["data"]


def test_an_approve_answer_carries_the_full_downstream_header_set(served):
    base_url, _ = served()
    request_id = _post(base_url).json()["data"]["requestId"]
    output = _approve(base_url, request_id)["details"]["IntouchAPITask_Output"]
    headers = output["headers"]
    assert set(headers) == {"uri_path", "org_id", "status_code", "success", "fail", "till", "X-CAP-REQUEST-ID"}
    assert headers["org_id"] == ["50672"] and headers["status_code"] == ["200"]
    # The till is the user of the task's inner Basic credential (create_body's "store.server:8a…").
    assert headers["till"] == ["store.server"]
    assert all(isinstance(v, list) and len(v) == 1 for v in headers.values())
    assert output["body"] == {"warnings": []}


def test_setting_the_label_a_customer_already_has_succeeds_with_a_warning(served):
    base_url, state = served()
    body = create_body(value="919812345670", label="Suspended")  # Meera Iyer is Suspended already
    created = requests.post(base_url + CREATE, json=body, timeout=5,
                            headers={"X-CAP-API-AUTH-ORG-ID": "50672", "X-CAP-UI-AUTH-TOKEN": "maker-token"})
    data = _approve(base_url, created.json()["data"]["requestId"])
    assert data["state"] == "approved"
    assert data["details"]["IntouchAPITask_Output"]["body"]["warnings"] == [
        {"status": True, "message": "Customer already has the label 'Suspended'"}]


def test_the_documented_failed_shape_is_a_fault_of_the_next_approval_only(served):
    base_url, state = served()
    request_id = _post(base_url).json()["data"]["requestId"]
    state.inject_fault("failed-744")  # any endpoint: only a call that runs the task takes it
    assert requests.get(f"{base_url}{GW}/requests", timeout=5,
                        headers={"X-CAP-API-AUTH-ORG-ID": "1", "X-CAP-UI-AUTH-TOKEN": "t"}).status_code == 200
    assert _post(base_url).status_code == 200  # a create without auto-approval runs no task
    assert state.pending_faults() == [{"kind": "failed-744", "endpoint": "any", "remaining": 1}]
    data = _approve(base_url, request_id)
    assert state.pending_faults() == []
    output = data["details"]["IntouchAPITask_Output"]
    assert data["state"] == "failed" and data["details"]["AdminTask_Output"] == "approved"
    assert output["status"] == 200.0
    assert (output["headers"]["status_code"], output["headers"]["success"], output["headers"]["fail"]) == (
        ["744"], ["0"], ["1"])
    assert "X-Cap-RequestID" in output["headers"]  # the other documented spelling
    item = output["body"]["response"]["responses"]["redemption"][0]["item_status"]
    assert (item["code"], item["message"]) == (744, "Reference number already exists")
    assert next(c for c in state.customers() if c["name"] == "Asha Rao")["label"] == "Active"  # unchanged


def test_auto_approval_takes_the_failed_shape_fault_at_creation(served):
    base_url, state = served(SANDBOX_AUTO_APPROVE=True)
    state.inject_fault("failed-744", endpoint="create")
    data = _post(base_url).json()["data"]
    assert data["state"] == "failed"
    assert data["details"]["IntouchAPITask_Output"]["headers"]["status_code"] == ["744"]


# -- other request types ---------------------------------------------------------------------------


def test_requests_of_other_types_show_in_the_list_and_filter_by_type(served):
    base_url, state = served()
    _post(base_url)
    state.seed_request(request_type="POINTS-REDEMPTION")
    seeded = requests.post(base_url + "/_sandbox/requests", json={"requestType": "EARN-BADGE"}, timeout=5)
    assert seeded.status_code == 201 and seeded.json()["data"]["requestType"] == "earn-badge"
    assert seeded.json()["data"]["details"]["IntouchAPITask-Payload"]["path"] == "/api_gateway/v1/badges/customer/earn"
    headers = {"X-CAP-API-AUTH-ORG-ID": "1", "X-CAP-UI-AUTH-TOKEN": "t"}

    def listed(**params):
        answer = requests.get(f"{base_url}{GW}/requests", params=params, headers=headers, timeout=5)
        return sorted(item["requestType"] for item in answer.json()["data"])

    assert listed() == ["customer-status-change", "earn-badge", "points-redemption"]
    assert listed(requestType="CUSTOMER-STATUS-CHANGE") == ["customer-status-change"]
    assert listed(requestType="POINTS-REDEMPTION") == ["points-redemption"]
    with pytest.raises(ValueError, match="request_type"):
        state.seed_request(request_type="GIFT")
