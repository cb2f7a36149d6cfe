"""Security headers on every response, cookie flags, proxies, debug mode, and no inline script anywhere."""

from __future__ import annotations

import base64
import re
import zlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from extensions import db
from models import TrackedRequest, User
from security import CONTENT_SECURITY_POLICY
from tests.helpers import make_app, signed_in_client
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


def test_every_post_route_needs_a_csrf_token(tmp_path):
    """ASVS 4.2.2: no state-changing request is accepted without the session's CSRF token."""
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    client = signed_in_client(app, "admin")
    posts = [rule for rule in app.url_map.iter_rules() if "POST" in rule.methods]
    assert len(posts) > 10
    for rule in posts:
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "1", rule.rule)
        response = client.post(path, data={"username": "agent", "password": "help-desk-sandbox"})
        if response.status_code == 404 and rule.arguments:
            continue  # refused, and the page to show again is for a record that does not exist
        assert response.status_code == 400, (rule.rule, response.status_code)
        assert "expired" in response.get_data(as_text=True).lower(), rule.rule
    with app.app_context():  # nothing was done
        assert db.session.scalar(select(func.count()).select_from(TrackedRequest)) == 0
        assert db.session.scalar(select(func.count()).select_from(User)) == 4


def test_no_session_identifier_travels_in_a_url(app, client):
    """ASVS 3.1.1: the session lives in its cookie only, never in links or redirects."""
    cookie = client.get_cookie("session").value
    signature = cookie.rsplit(".", 1)[-1]
    for path in ("/", "/requests/new", "/requests", "/profile", "/sandbox"):
        response = client.get(path)
        urls = re.findall(r'(?:href|action|src)="([^"]*)"', response.get_data(as_text=True))
        urls.append(response.headers.get("Location", ""))
        assert not [url for url in urls if signature in url or "session=" in url], path
