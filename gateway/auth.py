"""Gateway-level credentials sent beside the UI token: Basic or OAuth (docs/CAPILLARY_API.md §7.2, §7.3).

Both are :class:`requests.auth.AuthBase` objects, so ``requests`` applies them to every call
(and to nothing else). Neither ever follows a redirect with a credential in it.
"""

from __future__ import annotations

import json
import threading
import time

import requests
from requests.auth import AuthBase

from gateway.errors import GatewayCredentialsRejected, GatewayError, GatewayTimeout, UnreadableResponse
from gateway.payload import intouch_basic_authorization
from gateway.transport import bounded_timeout, environment_session, read_body

# What a page shows instead of a credential's value.
MASKED = "••••••"


class GatewayBasicAuth(AuthBase):
    """Send ``Authorization: Basic base64(user:md5(password))`` on every gateway call."""

    header_name = "Authorization"

    def __init__(self, username: str, password: str):
        self._header = intouch_basic_authorization(username, password)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header_name] = self._header
        return request


class GatewayOAuth(AuthBase):
    """Send an OAuth token got from ``POST /v3/oauth/token/generate``, cached for its ttlSeconds.

    :param session: what fetches the token (default: its own :func:`gateway.transport.environment_session`).
    :param header_name: the header the token goes in.
    """

    # Refresh a little early so a token never expires in flight.
    EARLY_SECONDS = 30

    def __init__(self, token_url: str, key: str, secret: str, timeout: tuple[float, float], *,
                 header_name: str = "X-CAP-API-OAUTH-TOKEN", session: requests.Session | None = None,
                 deadline: float | None = None):
        self._url, self._key, self._secret, self._timeout = token_url, key, secret, timeout
        self._deadline = deadline  # seconds the whole token call may take (gateway/transport.py)
        self.header_name = header_name
        self._session = session or environment_session(token_url)
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header_name] = self.token()
        return request

    def token(self) -> str:
        """Return a valid token, fetching a new one when the cached one is (nearly) expired."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._token, ttl = self._fetch()
                self._expires_at = time.monotonic() + max(ttl - self.EARLY_SECONDS, ttl / 2)
            return self._token

    def forget(self) -> None:
        """Drop the cached token (e.g. after Capillary refused it), so the next call fetches one."""
        with self._lock:
            self._token, self._expires_at = None, 0.0

    def _fetch(self) -> tuple[str, float]:
        timeout, deadline = bounded_timeout(self._timeout, self._deadline)
        try:
            # Never follow a redirect: it would carry the key and secret to another address.
            response = self._session.post(self._url, json={"key": self._key, "secret": self._secret},
                                          timeout=timeout, allow_redirects=False, stream=True)
            raw = read_body(response, "Capillary's OAuth token URL", deadline, timeout[1])
        except (requests.RequestException, GatewayTimeout) as exc:
            # Before any gateway call: nothing was sent, whatever the token URL did.
            raise GatewayError("Could not get an OAuth token from Capillary.", detail=str(exc)) from exc
        if response.status_code in (401, 403):
            raise GatewayCredentialsRejected("Capillary refused the OAuth key and secret (CAP_OAUTH_KEY, "
                                             "CAP_OAUTH_SECRET).", status=response.status_code)
        if response.is_redirect or 300 <= response.status_code < 400:
            # The deployment's settings are wrong (the token URL, or a proxy in front of it): an
            # administrator must fix them, as for refused credentials. Nothing was sent there.
            raise GatewayCredentialsRejected(
                f"Capillary's OAuth token URL answered with a redirect ({response.status_code}), which is never "
                "followed with the key and secret. Check CAP_OAUTH_TOKEN_URL (or CAP_INTOUCH_HOST).",
                status=response.status_code)
        try:
            data = json.loads(raw)["data"]
            return str(data["accessToken"]), float(data.get("ttlSeconds") or 300)
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise UnreadableResponse("Capillary's OAuth token answer could not be read.") from exc
