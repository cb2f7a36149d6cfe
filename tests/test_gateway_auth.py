"""Gateway auth as Capillary documents it (docs/CAPILLARY_API.md §7.2, §7.3): Basic or OAuth on every call.

The app runs in real mode against the sandbox served on a real socket, with the sandbox
checking the same credentials; every call the app makes (create, get, list, approve) must carry
them. OAuth tokens are cached, renewed once after a 401 and never logged; the default
``CAP_GATEWAY_AUTH`` follows the credentials set; ``/readyz`` and the start-up log warn in real
mode without gateway auth.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import uuid

import pytest

from extensions import db
from gateway import errors
from gateway.auth import GatewayOAuth
from gateway.client import GatewayClient
from models import AuditEvent
from sandbox import create_app as create_sandbox_app
from tests.helpers import ANSWERED_READ_TIMEOUT, VALID_FORM, make_app, signed_in_client
from tests.lifecycle_helpers import allow_next_poll, real_mode_environ, record, submit
from tests.live_server import serve_wsgi

GW_USER, GW_PASSWORD = "gateway.user", "gateway-pass-Qx7"
OAUTH_KEY, OAUTH_SECRET = "oauth-key-1", "oauth-secret-Zt4"
MESSAGE = "Checked the till receipts"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def basic_sandbox():
    app = create_sandbox_app({"SANDBOX_GATEWAY_USERNAME": GW_USER, "SANDBOX_GATEWAY_PASSWORD": GW_PASSWORD})
    with serve_wsgi(app) as base_url:
        yield base_url, app.extensions["sandbox"]


@pytest.fixture
def oauth_sandbox():
    app = create_sandbox_app({"SANDBOX_OAUTH_KEY": OAUTH_KEY, "SANDBOX_OAUTH_SECRET": OAUTH_SECRET})
    with serve_wsgi(app) as base_url:
        yield base_url, app.extensions["sandbox"]


def _real_app(tmp_path, base_url: str, **settings):
    environ = real_mode_environ(base_url, f"sqlite:///{tmp_path / 'real.sqlite3'}")
    environ.update(settings)
    return make_app(tmp_path, environ, SCHEMA_SETUP="create_all", CAP_STATUS_MIN_REFRESH_SECONDS=0)


def _every_call(app, tmp_path) -> int:
    """Create, read (status page), list (approvals) and approve through the pages; return the record id."""
    agent, checker = signed_in_client(app, "agent"), signed_in_client(app, "checker")
    pk = submit(agent, VALID_FORM)
    allow_next_poll(app, pk)
    assert agent.get(f"/requests/{pk}").status_code == 200  # get
    assert f"/approvals/{pk}" in checker.get("/approvals").get_data(as_text=True)  # list
    decided = checker.post(f"/approvals/{pk}", data={"decision": "approved", "message": MESSAGE, "step": "confirm"})
    assert decided.status_code == 303, decided.get_data(as_text=True)[:400]
    return pk


def test_basic_credentials_go_on_every_call(tmp_path, basic_sandbox):
    base_url, state = basic_sandbox
    app = _real_app(tmp_path, base_url, CAP_GATEWAY_USERNAME=GW_USER, CAP_GATEWAY_PASSWORD=GW_PASSWORD)
    assert app.config["CAP_GATEWAY_AUTH"] == "basic"  # the default once credentials are set

    pk = _every_call(app, tmp_path)

    assert record(app, pk).state == "approved"
    md5 = hashlib.md5(GW_PASSWORD.encode()).hexdigest()  # noqa: S324 - §7.2's documented scheme
    endpoints = {call["endpoint"] for call in state.calls}
    assert endpoints == {"create", "get", "list", "approve"}
    assert all(call["headers"]["authorization"] == _basic(GW_USER, md5) for call in state.calls)


def test_wrong_basic_credentials_are_refused_and_reported_to_administrators(tmp_path, basic_sandbox):
    base_url, state = basic_sandbox
    app = _real_app(tmp_path, base_url, CAP_GATEWAY_USERNAME=GW_USER, CAP_GATEWAY_PASSWORD="wrong")
    agent = signed_in_client(app, "agent")
    pk = submit(agent, VALID_FORM)
    saved = record(app, pk)
    assert (saved.state, saved.error_code, saved.error_status) == ("failed_to_submit", "2013", 401)
    assert state.created_count == 0
    assert len([c for c in state.calls if c["endpoint"] == "create"]) == 1  # Basic is never re-sent
    with app.app_context():
        events = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "gateway.token_rejected")).all()
    assert len(events) == 1
    assert "could not verify the credentials" in agent.get(f"/requests/{pk}").get_data(as_text=True)


def test_oauth_tokens_go_on_every_call_and_are_fetched_once(tmp_path, oauth_sandbox):
    base_url, state = oauth_sandbox
    app = _real_app(tmp_path, base_url, CAP_OAUTH_KEY=OAUTH_KEY, CAP_OAUTH_SECRET=OAUTH_SECRET,
                    CAP_OAUTH_TOKEN_URL=base_url + "/v3/oauth/token/generate")
    assert app.config["CAP_GATEWAY_AUTH"] == "oauth"

    _every_call(app, tmp_path)

    assert state.oauth_tokens_issued == 1  # cached for its ttlSeconds
    tokens = {call["headers"].get("x-cap-api-oauth-token") for call in state.calls}
    assert len(tokens) == 1 and next(iter(tokens)).startswith("sandbox-oauth-")


def test_the_oauth_header_name_is_a_setting(tmp_path, oauth_sandbox):
    base_url, state = oauth_sandbox
    app = _real_app(tmp_path, base_url, CAP_OAUTH_KEY=OAUTH_KEY, CAP_OAUTH_SECRET=OAUTH_SECRET,
                    CAP_OAUTH_TOKEN_URL=base_url + "/v3/oauth/token/generate", CAP_OAUTH_HEADER="CAP-API-ACCESS-TOKEN")
    submit(signed_in_client(app, "agent"), VALID_FORM)
    headers = state.calls[-1]["headers"]
    assert "cap-api-access-token" in headers and "x-cap-api-oauth-token" not in headers
    assert state.created_count == 1


def test_an_expired_oauth_token_is_renewed_once_and_the_post_applied_once(tmp_path, oauth_sandbox):
    base_url, state = oauth_sandbox
    app = _real_app(tmp_path, base_url, CAP_OAUTH_KEY=OAUTH_KEY, CAP_OAUTH_SECRET=OAUTH_SECRET,
                    CAP_OAUTH_TOKEN_URL=base_url + "/v3/oauth/token/generate")
    agent = signed_in_client(app, "agent")
    submit(agent, VALID_FORM, key=uuid.uuid4().hex)
    state.expire_oauth_tokens()  # Capillary forgot it early: the cached token is now refused (401)
    state.clear_calls()

    pk = submit(agent, VALID_FORM, key=uuid.uuid4().hex)

    assert record(app, pk).state == "AdminTask"
    creates = [c for c in state.calls if c["endpoint"] == "create"]
    assert len(creates) == 2  # refused with 401 (so surely not applied), then sent once more
    assert creates[0]["headers"]["x-cap-api-oauth-token"] != creates[1]["headers"]["x-cap-api-oauth-token"]
    assert state.created_count == 2 and state.oauth_tokens_issued == 2


def test_a_second_401_is_not_retried_again(oauth_sandbox):
    base_url, state = oauth_sandbox
    auth = GatewayOAuth(base_url + "/v3/oauth/token/generate", OAUTH_KEY, OAUTH_SECRET, (5.0, ANSWERED_READ_TIMEOUT))
    client = GatewayClient(base_url, "50672", timeout=(5.0, ANSWERED_READ_TIMEOUT), auth=auth)
    state.inject_fault("401", count=3, endpoint="list")
    with pytest.raises(errors.TokenRejected):
        client.list_requests("maker")
    assert len(state.calls) == 2 and state.oauth_tokens_issued == 2
    state.clear_faults()
    state.inject_fault("500", count=1, endpoint="create")
    with pytest.raises(errors.GatewayServerError):
        client.create_request({}, "maker")
    assert len([c for c in state.calls if c["endpoint"] == "create"]) == 1  # only a 401 is sent again


def test_a_refused_oauth_key_is_the_deployments_problem(tmp_path, oauth_sandbox):
    base_url, state = oauth_sandbox
    app = _real_app(tmp_path, base_url, CAP_OAUTH_KEY=OAUTH_KEY, CAP_OAUTH_SECRET="not-the-secret",
                    CAP_OAUTH_TOKEN_URL=base_url + "/v3/oauth/token/generate")
    agent = signed_in_client(app, "agent")
    pk = submit(agent, VALID_FORM)
    saved = record(app, pk)
    assert (saved.state, saved.error_kind) == ("failed_to_submit", "gateway_credentials")
    assert state.calls == []  # nothing reached the gateway
    html = agent.get(f"/requests/{pk}").get_data(as_text=True)
    assert "An administrator must check the gateway credentials" in html
    assert OAUTH_SECRET not in html and "not-the-secret" not in html


def test_the_oauth_token_is_never_logged(tmp_path, oauth_sandbox, caplog):
    base_url, state = oauth_sandbox
    caplog.set_level(logging.DEBUG)
    app = _real_app(tmp_path, base_url, CAP_OAUTH_KEY=OAUTH_KEY, CAP_OAUTH_SECRET=OAUTH_SECRET,
                    CAP_OAUTH_TOKEN_URL=base_url + "/v3/oauth/token/generate")
    submit(signed_in_client(app, "agent"), VALID_FORM)
    token = state.calls[-1]["headers"]["x-cap-api-oauth-token"]
    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert token not in logged and OAUTH_SECRET not in logged


def test_the_embedded_sandbox_checks_the_credentials_the_app_sends(tmp_path):
    app = make_app(tmp_path, {"CAP_GATEWAY_USERNAME": GW_USER, "CAP_GATEWAY_PASSWORD": GW_PASSWORD})
    state = app.extensions["sandbox_app"].extensions["sandbox"]
    assert app.config["CAP_GATEWAY_AUTH"] == "basic"
    pk = submit(signed_in_client(app, "agent"), VALID_FORM)
    assert record(app, pk).state == "AdminTask"
    assert state.calls[-1]["headers"]["authorization"].startswith("Basic ")
    # The same sandbox refuses a client without them.
    from sandbox.transport import SANDBOX_BASE_URL, mount_sandbox
    bare = GatewayClient(SANDBOX_BASE_URL, "100", mount=lambda s: mount_sandbox(s, app.extensions["sandbox_app"]))
    with pytest.raises(errors.TokenRejected) as caught:
        bare.list_requests("sandbox-maker-token")
    assert caught.value.code == "2013"


# -- settings, /readyz and the start-up log ------------------------------------------------------

REAL = real_mode_environ("https://eucrm.cc.capillarytech.com", "sqlite://")


@pytest.mark.parametrize(("settings", "expected"), [
    ({}, "none"),
    ({"CAP_GATEWAY_USERNAME": "u", "CAP_GATEWAY_PASSWORD": "p"}, "basic"),
    ({"CAP_OAUTH_KEY": "k", "CAP_OAUTH_SECRET": "s"}, "oauth"),
    ({"CAP_GATEWAY_USERNAME": "u", "CAP_GATEWAY_PASSWORD": "p", "CAP_GATEWAY_AUTH": "none"}, "none"),
    ({"CAP_GATEWAY_USERNAME": "u"}, "none"),  # half a credential is none
])
def test_the_default_gateway_auth_follows_the_credentials_set(tmp_path, settings, expected):
    app = make_app(tmp_path, {**REAL, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}", **settings},
                   SCHEMA_SETUP="create_all")
    assert app.config["CAP_GATEWAY_AUTH"] == expected


def test_a_bad_oauth_header_name_stops_start_up(tmp_path):
    with pytest.raises(SystemExit, match="CAP_OAUTH_HEADER"):
        make_app(tmp_path, {"CAP_OAUTH_HEADER": "X Bad: header"})


def test_readyz_and_the_start_up_log_warn_without_gateway_auth_in_real_mode(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    app = make_app(tmp_path, {**REAL, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"},
                   SCHEMA_SETUP="create_all")
    body = app.test_client().get("/readyz").get_json()
    assert body["status"] == "ready"  # a warning, not a failure
    assert "Capillary documents Basic or OAuth as required" in body["warnings"]["gateway_auth"]
    assert any("Capillary documents Basic or OAuth as required" in r.getMessage() and r.levelname == "WARNING"
               for r in caplog.records)


def test_no_warning_with_gateway_auth_or_in_the_sandbox(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    app = make_app(tmp_path, {**REAL, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                              "CAP_GATEWAY_USERNAME": "u", "CAP_GATEWAY_PASSWORD": "p"}, SCHEMA_SETUP="create_all")
    assert "warnings" not in app.test_client().get("/readyz").get_json()
    sandbox_folder = tmp_path / "sandbox"
    sandbox_folder.mkdir()
    assert "warnings" not in make_app(sandbox_folder).test_client().get("/readyz").get_json()
    assert not any("Basic or OAuth" in r.getMessage() for r in caplog.records)


def test_the_oauth_token_fetch_never_follows_a_redirect(tmp_path):
    """Security finding 3: a token URL that redirects must not carry the key and secret anywhere else."""
    elsewhere: list[str] = []

    def other_server(environ, start_response):
        elsewhere.append(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode())
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"data": {"accessToken": "stolen", "ttlSeconds": 300}}']

    with serve_wsgi(other_server) as other_url:
        def redirecting(environ, start_response):
            # 307 keeps the method and body: a client following it would post the secret there.
            start_response("307 Temporary Redirect", [("Location", other_url + "/collect")])
            return [b""]

        with serve_wsgi(redirecting) as token_url:
            auth = GatewayOAuth(token_url + "/v3/oauth/token/generate", OAUTH_KEY, OAUTH_SECRET,
                                (5.0, ANSWERED_READ_TIMEOUT))
            with pytest.raises(errors.GatewayCredentialsRejected) as caught:
                auth.token()
    assert elsewhere == []  # the second server received nothing
    assert caught.value.kind == "gateway_credentials" and caught.value.status == 307
    assert "CAP_OAUTH_TOKEN_URL" in caught.value.message and OAUTH_SECRET not in caught.value.message


def test_a_trickling_token_answer_ends_at_the_deadline_and_nothing_is_sent():
    """Security finding 2, for the token call too: a token URL sending a byte at a time cannot hold a thread."""
    import json

    from tests.wire_faults import serve_trickle

    body = json.dumps({"data": {"accessToken": "t" * 200, "ttlSeconds": 300}}).encode()
    with serve_trickle(0.05, body) as (token_url, sent):
        auth = GatewayOAuth(token_url + "/v3/oauth/token/generate", OAUTH_KEY, OAUTH_SECRET, (5.0, 2.0),
                            deadline=1.0)
        with pytest.raises(errors.GatewayError) as caught:
            auth.token()
    assert type(caught.value) is errors.GatewayError and not caught.value.may_exist  # no call was made
    assert "OAuth token" in caught.value.message
    assert len(sent) == 1 and sent[0] < len(body)  # hung up long before the whole answer
