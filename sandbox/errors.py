"""The v2 error envelope every sandbox error uses, and the exception that carries one.

Capillary's v2 APIs answer errors as ``{"errors": [{"status": false, "code": ..., "message": ...}]}``
(docs/CAPILLARY_API.md §5). The request-workflow pages document no error bodies at all (§1.5), so
using this envelope, with the HTTP status as ``code``, is the sandbox's choice.
"""

from __future__ import annotations

from flask import Response, jsonify


class GatewayError(Exception):
    """An error answer: HTTP ``status`` and one or more human messages."""

    def __init__(self, status: int, *messages: str, headers: dict[str, str] | None = None):
        super().__init__("; ".join(messages))
        self.status = status
        self.messages = list(messages) or ["Error"]
        self.headers = headers or {}


def envelope(code: int | str, message: str) -> dict:
    """Return one entry of the ``errors`` list."""
    return {"status": False, "code": code, "message": message}


def error_response(status: int, *messages: str, headers: dict[str, str] | None = None) -> Response:
    """Return a JSON error response in the v2 envelope, one entry per message."""
    body = {"errors": [envelope(status, message) for message in messages or ("Error",)]}
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def handle_gateway_error(error: GatewayError) -> Response:
    """Flask error handler turning a raised :class:`GatewayError` into its response."""
    return error_response(error.status, *error.messages, headers=error.headers)
