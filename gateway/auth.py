"""Optional gateway-level credentials sent beside the UI token: Basic or OAuth (§7.2, §7.3)."""

from __future__ import annotations

import threading
import time

import requests

from gateway.errors import GatewayError, TokenRejected, UnreadableResponse
from gateway.payload import intouch_basic_authorization


class BasicAuth:
    """Send ``Authorization: Basic base64(user:md5(password))`` on every gateway call."""

    def __init__(self, username: str, password: str):
        self._header = intouch_basic_authorization(username, password)

    def headers(self, session: requests.Session) -> dict[str, str]:
        """Return the headers to add to a gateway call."""
        return {"Authorization": self._header}


class OAuthToken:
    """Fetch and cache an OAuth token from ``POST /v3/oauth/token/generate`` for its ttlSeconds."""

    # Refresh a little early so a token never expires in flight.
    EARLY_SECONDS = 30

    def __init__(self, token_url: str, key: str, secret: str, timeout: tuple[float, float]):
        self._url, self._key, self._secret, self._timeout = token_url, key, secret, timeout
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def headers(self, session: requests.Session) -> dict[str, str]:
        """Return ``X-CAP-API-OAUTH-TOKEN``, fetching a new token when the cached one is old."""
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._token, ttl = self._fetch(session)
                self._expires_at = time.monotonic() + max(ttl - self.EARLY_SECONDS, ttl / 2)
            return {"X-CAP-API-OAUTH-TOKEN": self._token}

    def _fetch(self, session: requests.Session) -> tuple[str, float]:
        try:
            response = session.post(
                self._url, json={"key": self._key, "secret": self._secret}, timeout=self._timeout
            )
        except requests.RequestException as exc:
            raise GatewayError("Could not get an OAuth token from Capillary.") from exc
        if response.status_code in (401, 403):
            raise TokenRejected("Capillary refused the OAuth key/secret.", status=response.status_code)
        try:
            data = response.json()["data"]
            return str(data["accessToken"]), float(data.get("ttlSeconds") or 300)
        except (ValueError, KeyError, TypeError) as exc:
            raise UnreadableResponse("Capillary's OAuth token answer could not be read.") from exc
