"""No secret escapes: a full working day with distinctive secrets, then every body, header and log line is searched.

The secrets: the Intouch till password and the Authorization value made from it, the shared
maker and checker UI tokens, people's own tokens, people's passwords, SECRET_KEY,
CAP_TOKEN_KEY and the gateway credentials. The scenario signs in every role, submits, fails in
several ways, approves and rejects, changes tokens and people, hits an expired form, and opens
every page of the app as every role. Logs are captured at DEBUG, both as raw records and as the
JSON lines production writes; the session cookie is decoded and searched too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re

from cryptography.fernet import Fernet
from sqlalchemy import select

from app_logging import JsonFormatter, RequestContextFilter
from extensions import db
from gateway.payload import intouch_basic_authorization
from models import TrackedRequest
from services.people import accounts
from tests.helpers import VALID_FORM, make_app
from tests.test_tokens import jwt

TILL_PASSWORD = "TillPass-7f3a9c"  # noqa: S105 - the point of this test
SECRETS = {
    "CAP_UI_AUTH_TOKEN": "SharedMakerToken-QW9r2x",
    "CAP_CHECKER_UI_AUTH_TOKEN": "SharedCheckerToken-ZP4k8m",
    "CAP_INTOUCH_USERNAME": "till.scan",
    "CAP_INTOUCH_PASSWORD": TILL_PASSWORD,
    "SECRET_KEY": "SecretKey-Vb6n1q-" + "s" * 24,
    "CAP_TOKEN_KEY": Fernet.generate_key().decode(),
    "CAP_GATEWAY_PASSWORD": "GatewayPass-Lm5t0w",
    "CAP_OAUTH_SECRET": "OauthSecret-Hj2c7e",
}
PASSWORDS = {
    "scan.agent": ("agent", "AgentPassword-Ty8u3i"),
    "scan.checker": ("checker", "CheckerPassword-Ge9r4d"),
    "scan.maker": ("maker", "MakerPassword-Ka1s5d"),
    "scan.admin": ("admin", "AdminPassword-Ne3w7q"),
}
OWN_TOKENS = {
    "scan.agent": jwt(username="agent.person@example.com", exp=2_000_000_000, nonce="OwnAgentToken-Pp0o9i"),
    "scan.checker": jwt(username="checker.person@example.com", exp=2_000_000_000, nonce="OwnCheckerToken-Rr5t6y"),
}
NEW_USER_PASSWORD = "CreatedInAdmin-Uu7j8k"  # noqa: S105
RENEWED_TOKEN = jwt(username="agent.person@example.com", exp=2_000_000_000, nonce="RenewedToken-Cc3v4b")


def _forbidden_values() -> dict[str, str]:
    authorization = intouch_basic_authorization(SECRETS["CAP_INTOUCH_USERNAME"], TILL_PASSWORD)
    values = {name: value for name, value in SECRETS.items() if name != "CAP_INTOUCH_USERNAME"}
    values["Intouch Authorization"] = authorization
    values["Intouch Authorization (base64 part)"] = authorization.split()[1]
    values["md5 of the till password"] = hashlib.md5(TILL_PASSWORD.encode()).hexdigest()  # noqa: S324
    values["CAP_TOKEN_KEY (raw bytes, base64)"] = SECRETS["CAP_TOKEN_KEY"].rstrip("=")
    for name, (_role, password) in PASSWORDS.items():
        values[f"password of {name}"] = password
    for name, token in {**OWN_TOKENS, "renewed": RENEWED_TOKEN}.items():
        values[f"own token of {name}"] = token
        values[f"own token of {name} (claims part)"] = token.split(".")[1]
    values["password set in the admin page"] = NEW_USER_PASSWORD
    return values


class Recorder:
    """Keeps every response's body, headers and decoded session cookie."""

    def __init__(self, app):
        self.app = app
        self.seen: list[tuple[str, str]] = []
        self.serializer = app.session_interface.get_signing_serializer(app)

    def client(self, name: str):
        client = self.app.test_client()
        original = client.open

        def open_and_keep(*args, **kwargs):
            response = original(*args, **kwargs)
            where = f"{name} {kwargs.get('method', 'GET')} {args[0] if args else kwargs.get('path')}"
            self.seen.append((where + " body", response.get_data(as_text=True)))
            self.seen.append((where + " headers", "\n".join(f"{k}: {v}" for k, v in response.headers.items())))
            cookie = client.get_cookie(self.app.config["SESSION_COOKIE_NAME"])
            if cookie is not None and cookie.value:
                self.seen.append((where + " session", json.dumps(self.serializer.loads(cookie.value), default=str)))
            return response

        client.open = open_and_keep
        return client


def _csrf(client, path="/profile") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def _sign_in(client, username):
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": username, "password": PASSWORDS[username][1],
                                           "csrf_token": token})
    assert response.status_code == 303, username


def _submit(client, form, key):
    token = _csrf(client, "/requests/new")
    client.post("/requests/new", data={**form, "csrf_token": token})  # the review page
    return client.post("/requests", data={**form, "submission_key": key, "csrf_token": token})


def _every_get_page(app, client):
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "1", rule.rule)
        with client.get(path) as response:
            # The job probe answers 503 by design here: the test app starts no job threads.
            ok = (200, 503) if rule.endpoint == "health.readyz_jobs" else range(500)
            assert response.status_code in ok, (path, response.status_code)


def test_no_configured_secret_appears_in_any_response_or_log_line(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    app = make_app(tmp_path, SECRETS, WTF_CSRF_ENABLED=True)
    with app.app_context():
        for name, (role, password) in PASSWORDS.items():
            stores = ["50682288 zone=50682286 concept=50678331 till=50682289"] if role == "maker" else []
            accounts.create_user(name, [role], password, stores, actor=None, actor_name="test set-up")
        db.session.commit()
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    recorder = Recorder(app)

    # Before signing in, and a failed sign-in.
    anonymous = recorder.client("anonymous")
    anonymous.get("/")
    anonymous.get("/requests/new")
    anonymous.post("/login", data={"username": "scan.agent", "password": "not the right one",
                                   "csrf_token": _csrf(anonymous, "/login")})

    agent, checker = recorder.client("agent"), recorder.client("checker")
    maker, admin = recorder.client("maker"), recorder.client("admin")
    for client, name in ((agent, "scan.agent"), (checker, "scan.checker"), (maker, "scan.maker"),
                         (admin, "scan.admin")):
        _sign_in(client, name)

    # Own tokens, then submissions: good, refused by the store scope, and failing in several ways.
    agent.post("/profile/token", data={"token": OWN_TOKENS["scan.agent"], "csrf_token": _csrf(agent)})
    checker.post("/profile/token", data={"token": OWN_TOKENS["scan.checker"], "csrf_token": _csrf(checker)})
    assert _submit(agent, VALID_FORM, "1" * 32).status_code == 303
    assert _submit(agent, {**VALID_FORM, "reason": "second one"}, "2" * 32).status_code == 303
    assert _submit(maker, VALID_FORM, "3" * 32).status_code == 303
    assert _submit(maker, {**VALID_FORM, "storeId": "999"}, "4" * 32).status_code == 422
    for n, fault in enumerate(("500", "not-json", "400-empty", "403", "timeout", "401")):
        sandbox.inject_fault(fault, count=1, endpoint="create")
        _submit(agent, {**VALID_FORM, "reason": f"fault {fault}"}, f"{n + 5}" * 32)
    _submit(agent, VALID_FORM, "b" * 32)  # refused: the own token was just rejected
    agent.post("/profile/token", data={"token": RENEWED_TOKEN, "csrf_token": _csrf(agent)})

    # Decisions.
    with app.app_context():
        pending = db.session.scalars(select(TrackedRequest.id).where(TrackedRequest.state == "AdminTask")).all()
    checker.get("/approvals")
    for pk, decision in zip(pending[:2], ("approved", "rejected"), strict=True):
        token = _csrf(checker, f"/approvals/{pk}")
        checker.post(f"/approvals/{pk}", data={"decision": decision, "message": "checked", "step": "review",
                                               "csrf_token": token})
        checker.post(f"/approvals/{pk}", data={"decision": decision, "message": "checked", "step": "confirm",
                                               "csrf_token": token})

    # People and the admin pages.
    admin.post("/admin/users/new", data={"username": "scan.new", "roles": ["agent"], "password": NEW_USER_PASSWORD,
                                         "csrf_token": _csrf(admin, "/admin/users/new")})
    admin.post("/admin/users/new", data={"username": "scan.bad", "roles": ["agent"], "password": "short",
                                         "csrf_token": _csrf(admin, "/admin/users/new")})
    admin.get("/admin/audit.csv")
    agent.post("/profile/password", data={"current": "wrong current one", "new": "x", "confirm": "y",
                                          "csrf_token": _csrf(agent)})

    # An expired form, the session endpoints, every page as every role, then sign-out.
    agent.post("/requests/new", data=VALID_FORM)  # no CSRF token: "this form expired"
    agent.post("/session/keep-alive", headers={"Accept": "application/json", "X-CSRFToken": _csrf(agent)})
    agent.get("/session/status", headers={"Accept": "application/json"})
    for client in (agent, checker, maker, admin, anonymous):
        _every_get_page(app, client)
    for client in (agent, checker, maker, admin):
        client.post("/logout", data={"csrf_token": _csrf(client)})

    # The scenario really ran: requests were made, decided and failed.
    with app.app_context():
        states = set(db.session.scalars(select(TrackedRequest.state)))
    assert {"approved", "rejected", "failed_to_submit", "unknown"} <= states
    assert sandbox.created_count >= 3
    bodies = "\n".join(text for where, text in recorder.seen if where.endswith("body"))
    for words in ("Capillary rejected your own token", "This form expired", "You can only submit for your own",
                  "The username or password is not right", "Audit trail", "set (hidden)"):
        assert words in bodies, words
    sent_tokens = {{k.lower(): v for k, v in call["headers"].items()}.get("x-cap-ui-auth-token")
                   for call in sandbox.calls}
    assert {OWN_TOKENS["scan.agent"], OWN_TOKENS["scan.checker"], SECRETS["CAP_UI_AUTH_TOKEN"]} <= sent_tokens

    formatter = JsonFormatter()
    context = RequestContextFilter()
    log_lines = []
    for record in caplog.records:
        context.filter(record)
        log_lines.append(formatter.format(record))
    haystacks = [*recorder.seen, *((f"log {i}", line) for i, line in enumerate(log_lines))]
    assert len(recorder.seen) > 300 and log_lines

    leaks = [(where, label) for label, value in _forbidden_values().items()
             for where, text in haystacks if value in text]
    assert leaks == []


def test_the_scan_would_notice_a_leak(tmp_path):
    """The search itself works: a page that did show a secret is caught."""
    app = make_app(tmp_path, SECRETS)
    recorder = Recorder(app)
    client = recorder.client("probe")
    client.get("/login")
    recorder.seen.append(("planted", f"oops {base64.b64encode(b'x').decode()} {SECRETS['CAP_UI_AUTH_TOKEN']}"))
    leaks = [label for label, value in _forbidden_values().items() for _w, text in recorder.seen if value in text]
    assert leaks == ["CAP_UI_AUTH_TOKEN"]
