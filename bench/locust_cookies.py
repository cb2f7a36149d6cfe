"""Shared by the locustfiles: keep the app's Secure session cookie on plain http to 127.0.0.1."""

from __future__ import annotations


def keep_secure_cookies(jar) -> None:
    """Store Secure cookies as sendable over http (a deployment sits behind a TLS proxy; the
    load tests talk to gunicorn directly on 127.0.0.1)."""
    store = jar.set_cookie

    def set_cookie(cookie):
        cookie.secure = False
        store(cookie)

    jar.set_cookie = set_cookie
