"""Gateway credentials in the sandbox: Basic and OAuth (docs/CAPILLARY_API.md §7.2, §7.3).

Every request-workflow page lists "Basic or OAuth" as a prerequisite. Sandbox's choices:

- Without configured credentials (``SANDBOX_GATEWAY_USERNAME``/``SANDBOX_GATEWAY_PASSWORD``,
  ``SANDBOX_OAUTH_KEY``/``SANDBOX_OAUTH_SECRET``) an ``Authorization`` or OAuth header is
  accepted and ignored, and the UI token is required (the sandbox as it always was).
- With them, every gateway call must carry valid Basic credentials (the password as given, or
  its md5 as lowercase hex: the app sends §7.2's md5 form, the OpenAPI says plain Basic) or an
  OAuth token this sandbox issued and that has not expired, in ``X-CAP-API-OAUTH-TOKEN`` or
  ``CAP-API-ACCESS-TOKEN``; anything else is 401 with code 2013. With valid credentials the
  ``X-CAP-UI-AUTH-TOKEN`` may be empty, as in Capillary's own cURL sample: the maker is then
  the Basic user or the OAuth key.
- ``POST /v3/oauth/token/generate`` with ``{"key", "secret"}`` answers
  ``{"data": {"accessToken", "ttlSeconds"}, "errors": null}``; a wrong pair is 401.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json

from flask import Blueprint, Response, current_app, jsonify, request

from sandbox.errors import GatewayError, coded, handle_gateway_error

OAUTH_HEADERS = ("X-CAP-API-OAUTH-TOKEN", "CAP-API-ACCESS-TOKEN")
CREDENTIALS_CODE = 2013

bp = Blueprint("oauth", __name__, url_prefix="/v3/oauth")
bp.register_error_handler(GatewayError, handle_gateway_error)


def _config() -> dict:
    return current_app.config


def basic_configured() -> bool:
    """Whether this sandbox checks Basic credentials."""
    return bool(_config()["SANDBOX_GATEWAY_USERNAME"] and _config()["SANDBOX_GATEWAY_PASSWORD"])


def oauth_configured() -> bool:
    """Whether this sandbox issues and checks OAuth tokens."""
    return bool(_config()["SANDBOX_OAUTH_KEY"] and _config()["SANDBOX_OAUTH_SECRET"])


def gateway_principal() -> str | None:
    """Check the call's gateway credentials; return who they name, or None when none are configured.

    :raises GatewayError: 401 with code 2013 when credentials are configured and these are not valid.
    """
    if not (basic_configured() or oauth_configured()):
        return None
    if basic_configured():
        user = _basic_user(request.headers.get("Authorization", ""))
        if user is not None:
            return user
    if oauth_configured():
        state = current_app.extensions["sandbox"]
        for name in OAUTH_HEADERS:
            token = request.headers.get(name, "").strip()
            if token and state.oauth_token_valid(token):
                return _config()["SANDBOX_OAUTH_KEY"]
    raise coded(CREDENTIALS_CODE, "Verification failed: invalid or missing Basic or OAuth credentials",
                status=401)


def _basic_user(header: str) -> str | None:
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    wanted_user, wanted_password = _config()["SANDBOX_GATEWAY_USERNAME"], _config()["SANDBOX_GATEWAY_PASSWORD"]
    accepted = (wanted_password, hashlib.md5(wanted_password.encode("utf-8")).hexdigest())  # noqa: S324 - §7.2's scheme
    if hmac.compare_digest(user, wanted_user) and any(hmac.compare_digest(password, a) for a in accepted):
        return user
    return None


@bp.post("/token/generate")
def generate_token() -> Response:
    """§7.3: exchange the OAuth key and secret for a token that lasts ``SANDBOX_OAUTH_TTL_SECONDS``."""
    try:
        body = json.loads(request.get_data() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise GatewayError(400, "Request body is not valid JSON") from None
    key = body.get("key") if isinstance(body, dict) else None
    secret = body.get("secret") if isinstance(body, dict) else None
    if not oauth_configured():
        raise GatewayError(401, "OAuth is not configured in this sandbox "
                                "(set SANDBOX_OAUTH_KEY and SANDBOX_OAUTH_SECRET)")
    if not (isinstance(key, str) and isinstance(secret, str)
            and hmac.compare_digest(key, _config()["SANDBOX_OAUTH_KEY"])
            and hmac.compare_digest(secret, _config()["SANDBOX_OAUTH_SECRET"])):
        raise GatewayError(401, "Invalid key or secret")
    ttl = int(_config()["SANDBOX_OAUTH_TTL_SECONDS"])
    token = current_app.extensions["sandbox"].issue_oauth_token(ttl)
    return jsonify({"data": {"accessToken": token, "ttlSeconds": ttl}, "errors": None})
