"""Hardening that applies to every response: headers, cookies, proxies, debug, sign-in limits.

- Security headers on every response: a CSP with no inline script and ``frame-ancestors
  'none'``, ``nosniff``, ``Referrer-Policy: strict-origin-when-cross-origin`` (keeps the
  same-origin Referer that Flask-WTF's strict HTTPS check needs), HSTS when served over HTTPS,
  and ``Cache-Control: no-store`` on pages (they show customer data).
- The session cookie is HttpOnly and SameSite=Lax everywhere; Secure, with the ``__Host-``
  name prefix, outside the sandbox and debug mode.
- ``CAP_PROXY_FIX`` wraps the app in Werkzeug's ProxyFix with the given number of trusted
  proxies, so the client address (rate limits, audit trail) and scheme (HSTS) are right.
- Debug mode is refused in real mode: the debugger would run code for anyone who reaches it.
- The sign-in rate limit counts in memory by default and in Redis when ``REDIS_URL`` is set
  (shared by every worker, surviving restarts).
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from extensions import limiter

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",  # for browsers that predate frame-ancestors
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()",
}
HSTS = "max-age=31536000; includeSubDomains"


def init_app(app: Flask) -> None:
    """Apply the hardening to ``app`` (call after the settings are loaded)."""
    sandbox = app.config["SANDBOX_MODE"]
    if app.debug and not sandbox:
        raise SystemExit("Configuration error: debug mode must be off outside the sandbox "
                         "(unset FLASK_DEBUG / do not pass --debug).")
    secure = not (sandbox or app.debug)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        # __Host- makes the browser refuse the cookie unless Secure, Path=/ and without Domain.
        SESSION_COOKIE_NAME="__Host-session" if secure else "session",
        SESSION_COOKIE_PATH="/",
        # Sessions are browser-session cookies; should one be made permanent, it still ends here.
        PERMANENT_SESSION_LIFETIME=app.config.get("CAP_SESSION_MAX_HOURS", 12) * 3600,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_SAMESITE="Lax",
    )
    proxies = app.config.get("CAP_PROXY_FIX")
    if proxies:
        x_for, x_proto, x_host, x_port, x_prefix = proxies
        # Flask's documented way to wrap the app; mypy sees assigning to a method.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=x_for, x_proto=x_proto, x_host=x_host,  # type: ignore[method-assign]
                                x_port=x_port, x_prefix=x_prefix)
    _init_limiter(app)
    app.after_request(_security_headers)


def _init_limiter(app: Flask) -> None:
    # Redis when configured: one count for every worker, kept across restarts. If Redis is down
    # the limiter counts in memory (extensions.py) rather than locking everyone out.
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    limiter.init_app(app)


def _security_headers(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response
