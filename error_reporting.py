"""Optional error reporting with sentry-sdk, when ``SENTRY_DSN`` is set; off otherwise.

What an event carries: the error's type and message, its stack (file, function, line; never
local variables), the request's method and path (no query string, body, cookies or headers
except a few harmless ones), the request id, the person's numeric id, and the breadcrumbs of
log lines before it. Before it leaves the server (:func:`scrub_event`) every string in it is
cleaned of:

- the deployment's secrets (every setting in ``config.SECRET_SETTINGS`` and the Intouch
  ``Authorization`` value made from the till credentials);
- anything shaped like a credential: ``Bearer``/``Basic`` values, JWTs (people's own tokens);
- anything shaped like a customer identifier: e-mail addresses and runs of 7+ digits, spaces
  allowed between them (mobile numbers, card numbers, external ids made of digits);
- and the value of any field whose name says it holds one (``identifierValue``, ``password``,
  ``token``, ``cookie``...).
"""

from __future__ import annotations

import re

from flask import Flask

FILTERED = "[Filtered]"
# Request headers worth keeping: none holds a credential or a customer's data.
KEPT_HEADERS = {"user-agent", "x-request-id", "content-type", "accept", "accept-language", "host"}
# Fields whose values are never sent, whatever they look like (compared lower-case).
SENSITIVE_FIELDS = {
    "identifiervalue", "identifier_value", "password", "passwd", "token", "ui_token", "authorization",
    "cookie", "cookies", "set-cookie", "secret", "csrf_token", "session", "x-cap-ui-auth-token",
    "mobile", "email", "externalid", "cardnumber", "accountid", "account_id", "data", "query_string",
}
_SHAPES = re.compile(
    r"(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"  # Authorization values
    r"|eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"  # JWTs
    r"|[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"  # e-mail addresses
    r"|(?<![A-Za-z0-9])\+?\d(?:\d| (?=\d)){6,}(?![A-Za-z0-9])"  # phone and card numbers, digit ids
)
# Sentry's own fields: ids and times it needs as they are (a hex id may hold a run of digits).
STRUCTURAL_FIELDS = {"event_id", "trace_id", "span_id", "parent_span_id", "timestamp", "start_timestamp",
                     "release", "sdk", "platform", "level", "lineno", "colno"}


def init_app(app: Flask) -> None:
    """Start sentry-sdk for this process when ``SENTRY_DSN`` is set."""
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration

    secrets = _secret_values(app)

    def before_send(event, _hint):
        return scrub_event(event, secrets)

    sentry_sdk.init(
        dsn=dsn,
        environment=app.config.get("SENTRY_ENVIRONMENT") or "production",
        integrations=[FlaskIntegration()],
        # Nothing about people, no bodies, no local variables (they hold payloads, tokens and
        # identifiers), no SQL parameters; before_send cleans what is left.
        data_collection={"user_info": False, "http_bodies": [], "stack_frame_variables": False,
                         "database_query_data": False},
        before_send=before_send,
        before_send_transaction=lambda _event, _hint: None,  # errors only, no performance data
    )


def _secret_values(app: Flask) -> list[str]:
    from config import SECRET_SETTINGS

    values = [str(app.config.get(name) or "") for name in SECRET_SETTINGS]
    values += [key.strip() for key in str(app.config.get("CAP_TOKEN_KEY") or "").split(",")]
    config = app.config
    if config.get("CAP_INTOUCH_USERNAME") and config.get("CAP_INTOUCH_PASSWORD"):
        from gateway.payload import intouch_basic_authorization

        values.append(intouch_basic_authorization(config["CAP_INTOUCH_USERNAME"], config["CAP_INTOUCH_PASSWORD"]))
    # Longest first, so a secret containing another is replaced whole; very short ones are not secrets.
    return sorted({value for value in values if len(value) >= 6}, key=len, reverse=True)


def scrub_event(event: dict, secrets: list[str]) -> dict:
    """Return the event with request details cut down and every secret or identifier replaced."""
    request_info = event.get("request")
    if isinstance(request_info, dict):
        headers = request_info.get("headers") or {}
        event["request"] = {
            "method": request_info.get("method"),
            "url": str(request_info.get("url") or "").split("?", 1)[0],
            "headers": {name: value for name, value in headers.items() if name.lower() in KEPT_HEADERS},
        }
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    return _clean(event, secrets)


def _clean(value, secrets: list[str], key: str = ""):
    if key in STRUCTURAL_FIELDS:
        return value
    if key.lower() in SENSITIVE_FIELDS and value not in (None, "", [], {}):
        return FILTERED
    if isinstance(value, dict):
        return {k: _clean(v, secrets, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item, secrets) for item in value]
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, FILTERED)
        return _SHAPES.sub(FILTERED, value)
    return value
