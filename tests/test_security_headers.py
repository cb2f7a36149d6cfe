"""Security headers on every response, cookie flags, proxies, debug mode, and no inline script anywhere."""

from __future__ import annotations

import base64
import io
import re
import zlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from extensions import db
from models import Batch, Decision, StatusEvent, TrackedRequest, User
from security import CONTENT_SECURITY_POLICY
from tests.helpers import VALID_FORM, make_app, signed_in_client
from tests.test_config import REAL

ROOT = Path(__file__).resolve().parent.parent


def _check_headers(response):
    headers = response.headers
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])


def test_every_kind_of_response_carries_the_headers(app, client):
    anonymous = app.test_client()
    checker = signed_in_client(app, "checker")
    responses = {
        "sign-in page": anonymous.get("/login"),
        "redirect to sign-in": anonymous.get("/requests"),
        "page": client.get("/requests/new"),
        "404": client.get("/requests/999999"),
        "403": checker.get("/requests/new"),
        "json": client.post("/session/keep-alive", headers={"Accept": "application/json"}),
        "static": client.get("/static/css/app.css"),
    }
    for name, response in responses.items():
        try:
            _check_headers(response)
        except (AssertionError, KeyError) as exc:
            raise AssertionError(f"{name}: {exc!r}") from exc
        finally:
            response.close()


def test_pages_are_not_cached_but_static_files_may_be(client):
    assert client.get("/requests/new").headers["Cache-Control"] == "no-store"
    with client.get("/static/css/app.css") as static:
        assert "no-store" not in static.headers.get("Cache-Control", "")


def test_hsts_only_over_https(app):
    plain = app.test_client().get("/login")
    assert "Strict-Transport-Security" not in plain.headers
    secure = app.test_client().get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def _session_cookie(response):
    cookies = [v for k, v in response.headers.items() if k == "Set-Cookie" and "session=" in v]
    assert cookies, "no session cookie was set"
    return cookies[-1]


def test_session_cookie_flags_in_the_sandbox(app):
    client = app.test_client()
    client.get("/login")
    response = client.post("/login", data={"username": "agent", "password": "help-desk-sandbox"})
    cookie = _session_cookie(response)
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # the sandbox runs over plain http on a laptop


def test_session_cookie_flags_in_real_mode(tmp_path):
    app = make_app(tmp_path, REAL)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    signed_in_client(app, "agent")  # makes the account (real mode seeds nobody)
    client = app.test_client()
    response = client.post("/login", data={"username": "agent", "password": "help-desk-sandbox"},
                           base_url="https://localhost")
    assert response.status_code == 303
    cookie = _session_cookie(response)
    assert cookie.startswith("__Host-session=")  # needs Secure, Path=/ and no Domain (ASVS 3.4.4)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie


def test_the_session_cookie_holds_no_secret(app, client):
    client.post("/profile/token", data={"token": "opaque-session-token-0123456789abcdef"})

    value = client.get_cookie("session").value
    payload = value.split(".")[0] if not value.startswith(".") else value.split(".")[1]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    data = zlib.decompress(raw) if value.startswith(".") else raw
    for secret in ("opaque-session-token", "help-desk-sandbox", app.config["CAP_UI_AUTH_TOKEN"]):
        assert secret.encode() not in data


def test_debug_mode_is_refused_in_real_mode(tmp_path):
    with pytest.raises(SystemExit, match="debug mode must be off"):
        make_app(tmp_path, REAL, DEBUG=True)
    assert make_app(tmp_path, DEBUG=True).debug is True  # the sandbox may debug


def test_proxy_fix_is_off_unless_configured(app):
    response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers  # a client cannot claim https


def test_proxy_fix_trusts_the_configured_proxies(tmp_path):
    app = make_app(tmp_path, {"CAP_PROXY_FIX": "1,1,1,1,0"})
    response = app.test_client().get("/login", headers={"X-Forwarded-Proto": "https",
                                                        "X-Forwarded-For": "198.51.100.7"})
    assert "Strict-Transport-Security" in response.headers


@pytest.mark.parametrize("value", ["yes", "1,1", "-1", "1,1,1,1,x"])
def test_bad_proxy_settings_are_named(tmp_path, value):
    with pytest.raises(SystemExit, match="CAP_PROXY_FIX"):
        make_app(tmp_path, {"CAP_PROXY_FIX": value})


def test_no_template_or_script_relies_on_inline_code():
    """The CSP forbids inline script: no <script> without src, no on*= handlers, no javascript: URLs."""
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        source = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", source, flags=re.IGNORECASE):
            if "src=" not in tag:
                offenders.append(f"{path.name}: inline <script>")
        if re.search(r"<[a-z][^>]*\son[a-z]+\s*=", source, flags=re.IGNORECASE):
            offenders.append(f"{path.name}: on*= handler")
        if "javascript:" in source.lower():
            offenders.append(f"{path.name}: javascript: URL")
        if re.search(r"<[a-z][^>]*\sstyle\s*=", source, flags=re.IGNORECASE):
            offenders.append(f"{path.name}: inline style attribute (blocked by style-src 'self')")
    assert offenders == []


def test_scripts_are_loaded_deferred_from_static(client):
    html = client.get("/requests/new").get_data(as_text=True)
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert 'src="/static/' in tag and "defer" in tag


# Every POST route the app has today (record ids filled in): the sweep below covers any route
# added later too, but none of these may drop out of it unnoticed.
POST_ROUTES = {
    "/login", "/logout", "/language", "/session/keep-alive", "/profile/password", "/profile/token",
    "/profile/token/clear", "/requests/new", "/requests", "/requests/{pk}/refresh", "/requests/{pk}/resend",
    "/requests/{pk}/match", "/approvals/{pk}", "/bulk", "/bulk/{batch}/confirm", "/bulk/{batch}/discard",
    "/admin/users/new", "/admin/users/{user}", "/sandbox/faults", "/sandbox/faults/clear", "/sandbox/reset",
    "/sandbox/seed", "/sandbox/settings",
}
PEOPLE = ("maker", "agent", "checker", "admin")


def _csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def _a_request_and_a_batch(app) -> tuple[int, int]:
    """Submit a request and upload a bulk file through their forms, tokens and all; return their ids."""
    from tests.bulk_helpers import csv_of

    agent = signed_in_client(app, "agent")
    token = _csrf_token(agent.get("/requests/new").get_data(as_text=True))
    created = agent.post("/requests", data={**VALID_FORM, "submission_key": "a" * 32, "csrf_token": token})
    assert created.status_code == 303
    token = _csrf_token(agent.get("/bulk").get_data(as_text=True))
    uploaded = agent.post("/bulk", data={"file": (io.BytesIO(csv_of(2)), "rows.csv"), "csrf_token": token},
                          content_type="multipart/form-data")
    assert uploaded.status_code == 303
    return int(created.headers["Location"].rsplit("/", 1)[1]), int(uploaded.headers["Location"].rsplit("/", 1)[1])


def _stored(app) -> dict:
    """What a form post could change: the rows of each table that holds something people do."""
    with app.app_context():
        counts = {model.__name__: db.session.scalar(select(func.count()).select_from(model))
                  for model in (TrackedRequest, User, Batch, Decision, StatusEvent)}
        counts["batch states"] = db.session.scalars(select(Batch.state)).all()
        counts["user epochs"] = db.session.scalars(select(User.session_epoch).order_by(User.id)).all()
    return counts


def test_every_post_route_needs_a_csrf_token(tmp_path):
    """ASVS 4.2.2: no state-changing request is accepted without the session's CSRF token."""
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    pk, batch_id = _a_request_and_a_batch(app)
    ids = {"pk": pk, "batch_id": batch_id, "user_id": 1}
    people = {name: signed_in_client(app, name) for name in PEOPLE}
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    stored, calls = _stored(app), len(sandbox.calls)

    swept = set()
    for rule in (rule for rule in app.url_map.iter_rules() if "POST" in rule.methods):
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda arg: str(ids[arg.group(1)]), rule.rule)
        swept.add(path)
        answers = {name: client.post(path, data={"username": "agent", "password": "help-desk-sandbox"})
                   for name, client in people.items()}
        statuses = {name: answer.status_code for name, answer in answers.items()}
        # Refused for everyone: the form again ("expired") for whoever may open the page, 403 for the others.
        assert set(statuses.values()) <= {400, 403}, (rule.rule, statuses)
        expired = [name for name, answer in answers.items() if answer.status_code == 400]
        assert expired, (rule.rule, statuses)
        for name in expired:
            assert "expired" in answers[name].get_data(as_text=True).lower(), (rule.rule, name)
    expected = {route.format(pk=pk, batch=batch_id, user=1) for route in POST_ROUTES}
    assert sorted(expected - swept) == []
    assert _stored(app) == stored and len(sandbox.calls) == calls  # nothing was done


def test_a_refused_form_is_not_drawn_again_for_someone_its_page_is_closed_to(tmp_path):
    """A form page shown again after a CSRF failure still needs the page's role (and shows no data)."""
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    pk, _batch_id = _a_request_and_a_batch(app)
    checker, agent, maker = (signed_in_client(app, name) for name in ("checker", "agent", "maker"))
    for client, path, secret in [
        (checker, "/admin/users/1", "Change maker"),  # an administrator's page about a person
        (maker, "/admin/users/new", "Add a person"),
        (agent, f"/approvals/{pk}", "919780375690"),  # the checker's page about a customer
        (checker, "/requests", 'name="identifierValue"'),  # the submitters' form
    ]:
        refused = client.post(path, data={"identifierValue": "9780375690"})
        html = refused.get_data(as_text=True)
        assert refused.status_code == 403, (path, refused.status_code)
        assert "You do not have access to this page" in html
        assert secret not in html, path


def test_no_session_identifier_travels_in_a_url(app, client):
    """ASVS 3.1.1: the session lives in its cookie only, never in links or redirects."""
    cookie = client.get_cookie("session").value
    signature = cookie.rsplit(".", 1)[-1]
    for path in ("/", "/requests/new", "/requests", "/profile", "/sandbox"):
        response = client.get(path)
        urls = re.findall(r'(?:href|action|src)="([^"]*)"', response.get_data(as_text=True))
        urls.append(response.headers.get("Location", ""))
        assert not [url for url in urls if signature in url or "session=" in url], path
