"""The sandbox's customer look-up and status log (sandbox/customers.py), over a real socket.

The documented shapes and v2 error envelope, the status log growing when an approved request is
applied, the look-up faults (timeout, 401, 8015, unreadable), and the app's customer client
(gateway/customers.py) reading all of it.
"""

from __future__ import annotations

import pytest
import requests

from gateway import customers as c
from gateway.payload import intouch_basic_authorization
from sandbox import create_app
from tests.helpers import ANSWERED_READ_TIMEOUT, NEVER_ANSWERS, UNANSWERED_READ_TIMEOUT
from tests.live_server import serve_wsgi
from tests.test_sandbox import CREATE, GW, create_body, decision_body

LOOKUP = "/v2/customers/lookup/customerDetails"
TILL = {"Authorization": intouch_basic_authorization("sandbox.till", "pw"), "Accept": "application/json"}
ASHA = {"source": "INSTORE", "identifierName": "mobile", "identifierValue": "919780375690", "embed": "mlp"}
GATEWAY = {"X-CAP-API-AUTH-ORG-ID": "50672", "X-CAP-UI-AUTH-TOKEN": "maker-token"}


@pytest.fixture(scope="module")
def served():
    app = create_app({"SANDBOX_STALL_SECONDS": NEVER_ANSWERS})
    with serve_wsgi(app) as base_url:
        yield base_url, app.extensions["sandbox"]


@pytest.fixture
def sandbox(served):
    base_url, state = served
    state.reset()
    return base_url, state


def get(base_url, path, params=None, headers=TILL):
    return requests.get(base_url + path, params=params, headers=headers, timeout=ANSWERED_READ_TIMEOUT)


def client(base_url, read=ANSWERED_READ_TIMEOUT):
    return c.CustomerClient(base_url, lambda: TILL["Authorization"], timeout=(2.0, read))


def test_look_up_answers_the_documented_fields(sandbox):
    base_url, state = sandbox
    body = get(base_url, LOOKUP, ASHA).json()
    assert body["id"] == 1001 and body["warnings"] == []
    profile = body["profiles"][0]
    assert (profile["firstName"], profile["lastName"], profile["source"]) == ("Asha", "Rao", "INSTORE")
    assert profile["attribution"]["createdBy"]["type"] == "TILL" and profile["attribution"]["createDate"]
    assert {"type": "mobile", "value": "919780375690"} in profile["identifiers"]
    assert body["loyaltyInfo"]["loyaltyType"] == "loyalty"
    assert body["loyaltyProgramDetails"][0]["currentSlab"]
    assert "loyaltyProgramDetails" not in get(base_url, LOOKUP, {**ASHA, "embed": ""}).json()
    assert [call["endpoint"] for call in state.customer_calls] == ["lookup", "lookup"]
    assert state.calls == []  # the gateway's own call log is untouched


@pytest.mark.parametrize(("params", "code"), [
    ({**ASHA, "identifierValue": "919000000000"}, 8015),
    ({**ASHA, "identifierValue": "12"}, 8013),
    ({**ASHA, "identifierName": "nickname"}, 8013),
    ({**ASHA, "source": "CARRIER_PIGEON"}, 8003),
])
def test_look_up_errors_use_the_v2_envelope(sandbox, params, code):
    base_url, _ = sandbox
    response = get(base_url, LOOKUP, params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == code and response.json()["errors"][0]["status"] is False


def test_the_till_credentials_are_required(sandbox):
    base_url, _ = sandbox
    response = get(base_url, LOOKUP, ASHA, headers={"Accept": "application/json"})
    assert response.status_code == 401 and response.json()["errors"][0]["code"] == 401


def test_status_log_is_oldest_first_with_one_active_entry(sandbox):
    base_url, _ = sandbox
    meera = get(base_url, "/v2/customers/1003/statusLog").json()
    assert [(e["label"], e["status"], e["isActive"]) for e in meera["data"]] == [
        ("Active", "ACTIVE", False), ("Suspended", "SUSPENDED", True)]
    assert meera["errors"] == [] and meera["data"][0]["entityId"] == 1003
    missing = get(base_url, "/v2/customers/999999/statusLog")
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == 8015


def test_an_applied_change_appends_to_the_status_log(sandbox):
    base_url, _ = sandbox
    created = requests.post(base_url + CREATE, json=create_body(label="Fraud suspected"), headers=GATEWAY,
                            timeout=ANSWERED_READ_TIMEOUT).json()["data"]
    requests.put(base_url + CREATE, json=decision_body(created["requestId"]),
                 headers={**GATEWAY, "X-CAP-UI-AUTH-TOKEN": "checker-token"}, timeout=ANSWERED_READ_TIMEOUT)
    log = get(base_url, "/v2/customers/1001/statusLog").json()["data"]
    assert [(e["label"], e["isActive"]) for e in log] == [("Active", False), ("Fraud suspected", True)]
    assert log[-1]["status"] == "FRAUD_SUSPECTED" and log[-1]["prevLabel"] == "Active"
    assert log[-1]["reason"] == "testing"
    found = client(base_url).find("INSTORE", "mobile", "919780375690")
    assert found.current.label == "Fraud suspected" and found.history[1].label == "Active"


def test_the_client_reads_the_sandbox(sandbox):
    base_url, _ = sandbox
    found = client(base_url).find("INSTORE", "mobile", "919780375690")
    assert (found.id, found.name, found.current.label, found.loyalty_type) == ("1001", "Asha Rao", "Active", "loyalty")
    assert found.tier and found.member_since and found.registered_at == "Sandbox store till"
    with pytest.raises(c.CustomerNotFound):
        client(base_url).find("INSTORE", "mobile", "919000000000")


@pytest.mark.parametrize(("fault", "kind"), [
    ("code-8015", c.CustomerNotFound), ("401", c.CredentialsRefused), ("unreadable", c.LookupUnreadable),
    ("500", c.LookupFailed), ("code-8013", c.InvalidIdentifier)])
def test_look_up_faults_reach_the_client_as_their_kinds(sandbox, fault, kind):
    base_url, state = sandbox
    state.inject_fault(fault, endpoint="lookup")
    with pytest.raises(kind):
        client(base_url).find("INSTORE", "mobile", "919780375690")
    assert client(base_url).find("INSTORE", "mobile", "919780375690").name == "Asha Rao"  # one call only


def test_a_look_up_timeout_fault_times_out(sandbox):
    base_url, state = sandbox
    state.inject_fault("timeout", endpoint="lookup")
    with pytest.raises(c.LookupTimeout):
        client(base_url, read=UNANSWERED_READ_TIMEOUT).find("INSTORE", "mobile", "919780375690")


def test_a_status_log_fault_leaves_the_customer_without_a_status(sandbox):
    base_url, state = sandbox
    state.inject_fault("503", endpoint="statuslog")
    found = client(base_url).find("INSTORE", "mobile", "919780375690")
    assert found.name == "Asha Rao" and found.current is None and found.status_problem == "failed"


def test_a_fault_for_any_gateway_call_never_hits_the_customer_api(sandbox):
    base_url, state = sandbox
    state.inject_fault("500")
    assert client(base_url).find("INSTORE", "mobile", "919780375690").name == "Asha Rao"
    assert state.pending_faults() == [{"kind": "500", "endpoint": "any", "remaining": 1}]
    assert requests.get(base_url + GW + "/requests", headers=GATEWAY, timeout=5).status_code == 500
