"""The gateway client over a real socket against the standalone sandbox."""

import json
from pathlib import Path

import pytest

from gateway import errors
from gateway.client import GatewayClient
from gateway.payload import StatusChange, build_payload, intouch_basic_authorization
from sandbox import create_app as create_sandbox_app
from tests.helpers import (
    ANSWERED_READ_TIMEOUT,
    NEVER_ANSWERS,
    UNANSWERED_READ_TIMEOUT,
    make_app,
    signed_in_client,
)
from tests.live_server import serve_wsgi

GOLDEN = json.loads((Path(__file__).parent / "data" / "golden_create_payload.json").read_text())


@pytest.fixture
def live_sandbox():
    """The sandbox on a real socket; its `timeout` fault holds the answer longer than any test."""
    app = create_sandbox_app({"SANDBOX_STALL_SECONDS": NEVER_ANSWERS})
    with serve_wsgi(app) as base_url:
        yield base_url, app.extensions["sandbox"]


def _client(base_url, read_timeout: float = ANSWERED_READ_TIMEOUT, **kwargs):
    return GatewayClient(base_url, "50672", timeout=(5.0, read_timeout), **kwargs)


def _change(**overrides):
    values = dict(tillId="50682289", storeId="50682288", zoneId="50682286", conceptId="50678331",
                  identifierName="mobile", identifierValue="919780375690", label="Suspended", reason="testing")
    values.update(overrides)
    return StatusChange(**values)


def test_create_sends_documented_request_and_parses_answer(live_sandbox):
    base_url, state = live_sandbox
    payload = build_payload(_change(), "https://eu.api.capillarytech.com",
                            intouch_basic_authorization("store.server", "server123"))
    info = _client(base_url).create_request(payload, "ui-jwt")
    call = state.calls[-1]
    assert call["method"] == "POST"
    assert call["path"] == "/api_gateway/v2/request-workflow/CUSTOMER-STATUS-CHANGE"
    headers = {k.lower(): v for k, v in call["headers"].items()}
    assert headers["x-cap-api-auth-org-id"] == "50672"
    assert headers["x-cap-ui-auth-token"] == "ui-jwt"
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert call["body"] == GOLDEN
    assert info.state == "AdminTask"
    assert info.requestType == "customer-status-change"
    assert info.validate_maker_access is True and info.validate_payload is True
    assert isinstance(info.userId, int)


def test_get_decide_and_list_round_trip(live_sandbox):
    base_url, _ = live_sandbox
    client = _client(base_url)
    payload = build_payload(_change(), "https://h", "Basic x")
    created = client.create_request(payload, "maker")
    assert client.get_request(created.requestId, "maker").state == "AdminTask"
    decided = client.decide(created.requestId, "approved", "ok by checker", "checker")
    assert decided.state == "approved"
    page = client.list_requests("checker", states=["approved"], limit=5)
    assert [item.requestId for item in page.items] == [created.requestId]
    assert page.total_elements == 1


def test_app_in_real_mode_sends_exact_request_to_any_server(tmp_path, live_sandbox):
    base_url, state = live_sandbox
    environ = {
        "CAP_GATEWAY_URL": base_url,
        "CAP_ORG_ID": "50672",
        "CAP_UI_AUTH_TOKEN": "real-mode-token",
        "CAP_INTOUCH_HOST": "https://eu.api.capillarytech.com",
        "CAP_INTOUCH_USERNAME": "store.server",
        "CAP_INTOUCH_PASSWORD": "server123",
        "SECRET_KEY": "s" * 32,
        "CAP_TOKEN_KEY": "ZmRmX2tleV9mb3JfdGVzdHNfb25seV8zMmJ5dGVzISE=",
    }
    app = make_app(tmp_path, environ)
    form = {"tillId": "50682289", "storeId": "50682288", "zoneId": "50682286", "conceptId": "50678331",
            "identifierName": "mobile", "identifierValue": "+91 97803 75690", "label": "Suspended",
            "reason": "testing", "source": "INSTORE", "accountId": "", "submission_key": "b" * 32}
    response = signed_in_client(app).post("/requests", data=form)
    assert response.status_code == 303
    call = state.calls[-1]
    assert (call["method"], call["path"]) == ("POST", "/api_gateway/v2/request-workflow/CUSTOMER-STATUS-CHANGE")
    assert call["body"] == GOLDEN
    headers = {k.lower(): v for k, v in call["headers"].items()}
    assert headers["x-cap-api-auth-org-id"] == "50672"
    assert headers["x-cap-ui-auth-token"] == "real-mode-token"


def test_timeout_over_socket_is_unknown_outcome(live_sandbox):
    base_url, state = live_sandbox
    state.inject_fault("timeout", count=1, endpoint="create")
    with pytest.raises(errors.GatewayTimeout) as caught:
        _client(base_url, UNANSWERED_READ_TIMEOUT).create_request(build_payload(_change(), "https://h", "Basic x"), "t")
    assert caught.value.may_exist is True
    assert [c["endpoint"] for c in state.calls] == ["create"]  # it was sent (so it may exist)


def test_refused_connection_is_unreachable_and_surely_not_created():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(errors.GatewayUnreachable) as caught:
        _client(f"http://127.0.0.1:{port}").create_request({}, "t")
    assert caught.value.may_exist is False


@pytest.mark.parametrize(
    ("fault", "error", "may_exist"),
    [
        ("401", errors.TokenRejected, False),
        ("403", errors.AccessDenied, False),
        ("400-empty", errors.GatewayRejected, False),
        ("500", errors.GatewayServerError, True),
        ("503", errors.GatewayUnavailable, False),
        ("not-json", errors.UnreadableResponse, True),
        ("no-data", errors.UnreadableResponse, True),
        ("429", errors.RateLimited, False),
    ],
)
def test_status_and_body_faults_map_to_typed_errors(live_sandbox, fault, error, may_exist):
    base_url, state = live_sandbox
    state.inject_fault(fault, count=1, endpoint="create")
    with pytest.raises(error) as caught:
        _client(base_url).create_request(build_payload(_change(), "https://h", "Basic x"), "t")
    assert caught.value.may_exist is may_exist
    assert caught.value.message
    if fault == "429":
        assert caught.value.retry_after == 2


def test_post_is_never_retried_after_sending(live_sandbox):
    base_url, state = live_sandbox
    state.inject_fault("500", count=1, endpoint="create")
    before = len(state.calls)
    with pytest.raises(errors.GatewayServerError):
        _client(base_url).create_request(build_payload(_change(), "https://h", "Basic x"), "t")
    assert len(state.calls) - before == 1


def test_connections_are_reused_per_thread(live_sandbox):
    base_url, _ = live_sandbox
    client = _client(base_url)
    client.list_requests("t")
    first = client.transport.session()
    client.list_requests("t")
    assert client.transport.session() is first


def test_a_trickling_answer_ends_at_the_calls_deadline_as_a_timeout():
    """Security finding 2: one byte every 50 ms passes every read timeout; the deadline still ends the call."""
    from tests.wire_faults import serve_trickle

    body = json.dumps({"data": {"requestId": "5d1e0b1c-62a7-11ee-aa6d-0aaee4e533d2", "state": "AdminTask",
                                "pad": "x" * 400}}).encode()
    with serve_trickle(0.05, body) as (base_url, sent):
        client = GatewayClient(base_url, "50672", timeout=(5.0, 2.0), deadline=1.0)
        with pytest.raises(errors.GatewayTimeout) as caught:
            client.get_request("5d1e0b1c-62a7-11ee-aa6d-0aaee4e533d2", "ui-jwt")
    assert caught.value.kind == "timeout" and caught.value.may_exist
    # The client hung up long before the whole answer came (it takes 25 s at this pace).
    assert len(sent) == 1 and sent[0] < len(body)
