"""Fault presets: what the next matching gateway call does instead of its normal work.

A fault is queued by kind (see :data:`FAULT_KINDS`) for one endpoint (:data:`ENDPOINTS`).
Most kinds are plain HTTP answers; ``code-2001`` … ``code-2030`` answer 400 with one of
Capillary's documented request-workflow codes in the v2 envelope (docs/CAPILLARY_API.md §1.5).
The *task* fault ``failed-744`` is not an answer: the next approval (or auto-approval) runs
normally, but its Intouch task fails in the documented failed shape (§2.4). Three kinds act on
the connection itself:

- ``timeout``: stall. In-process (through :mod:`sandbox.transport`) the stall lasts at most the
  caller's read timeout, then the adapter raises ``requests.ReadTimeout``. Over a real socket
  the server stalls ``SANDBOX_STALL_SECONDS`` (default 30) and then answers 504.
- ``reset``: in-process, the adapter raises ``requests.ConnectionError`` (from a
  ``ConnectionResetError``) after the request was handled. Over a socket served by werkzeug
  the sandbox shuts the client socket down (``environ["werkzeug.socket"]``) before answering,
  so the client sees the connection close with no response (``RemoteDisconnected``, a
  ``ConnectionResetError``). Under other servers it sends the first bytes of a body and then
  raises from the response iterator, which makes the server drop the connection.
- ``refused``: in-process, the adapter raises ``requests.ConnectionError`` (from a
  ``ConnectionRefusedError``) and the call is not logged, as if nothing had been sent. A socket
  that has already been accepted cannot be refused, so over a socket it behaves like ``reset``.

The in-process adapter and the app talk through a small dict it puts in the WSGI environ
under :data:`TRANSPORT_KEY`: ``{"read_timeout": float | None, "abort": None}``; the app sets
``abort`` to ``"timeout"``, ``"reset"`` or ``"refused"`` and the adapter raises accordingly.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

from flask import Response, jsonify

from sandbox.errors import CODES, error_response

TRANSPORT_KEY = "sandbox.transport"
ENDPOINTS = ("create", "approve", "get", "list", "lookup", "statuslog", "any")
# The customer API's endpoints (sandbox/customers.py): only faults queued for them by name hit them.
CUSTOMER_ENDPOINTS = frozenset({"lookup", "statuslog"})
HUGE_BYTES = 30 * 1024 * 1024

def N_(text: str) -> str:  # noqa: N802 - the usual name of the gettext no-op marker
    """Mark a description for the app's catalog (its trainer page shows it translated); the
    sandbox's own JSON answers keep the English."""
    return text


PRESETS = {
    "timeout": N_("Stall longer than the client's read timeout."),
    "500": N_("500 Internal Server Error, JSON error envelope."),
    "502": N_("502 Bad Gateway, JSON error envelope."),
    "503": N_("503 Service Unavailable, JSON error envelope."),
    "504": N_("504 Gateway Timeout, JSON error envelope."),
    "401": N_("401 Unauthorized, JSON error envelope (token invalid or expired)."),
    "403": N_("403 Forbidden, JSON error envelope (access missing)."),
    "404": N_("404 Not Found, JSON error envelope."),
    "409": N_("409 Conflict, JSON error envelope."),
    "429": N_("429 Too Many Requests with Retry-After: 2."),
    "400-empty": N_("400 with the body {} (the only documented error example)."),
    "400-json": N_("400 with a v2 error envelope."),
    "html": N_("500 with an HTML error page."),
    "empty": N_("200 with an empty body."),
    "truncated": N_("200 with JSON cut off midway."),
    "no-data": N_("200 with JSON that lacks 'data'."),
    "not-json": N_("200 with text/plain garbage."),
    "unreadable": N_("200 with text/plain garbage (same as not-json)."),
    "huge": N_("200 with a ~30 MB JSON body."),
    "reset": N_("The connection is reset after the request was sent."),
    "refused": N_("The connection is refused before anything is sent."),
    "failed-744": N_("The next approval runs, but the task fails as in Capillary's documented example: "
                     "HTTP 200, a status_code 744 header and a v1.1 body."),
    # Capillary's request-workflow codes (§1.5), each answered with 400 and the v2 envelope.
    "code-2001": N_("Code 2001: the Capillary user has no permission."),
    "code-2002": N_("Code 2002: the workflow was already completed by a user."),
    "code-2005": N_("Code 2005: the organisation header is missing or invalid."),
    "code-2007": N_("Code 2007: wrong request ID or action name."),
    "code-2008": N_("Code 2008: invalid payload."),
    "code-2009": N_("Code 2009: request type not supported."),
    "code-2011": N_("Code 2011: the list cannot be sorted on that field."),
    "code-2012": N_("Code 2012: invalid sort order."),
    "code-2013": N_("Code 2013: verification failed (invalid credentials or identity service down)."),
    "code-2014": N_("Code 2014: earning entity ID missing or invalid."),
    "code-2015": N_("Code 2015: invalid goodwill points."),
    "code-2018": N_("Code 2018: invalid maximum goodwill points property."),
    "code-2019": N_("Code 2019: invalid auto-approval property."),
    "code-2020": N_("Code 2020: workflow configuration not supported."),
    "code-2021": N_("Code 2021: no workflow for this ID, or it is inactive."),
    "code-2022": N_("Code 2022: the URI could not be built from the payload."),
    "code-2023": N_("Code 2023: the task's headers could not be parsed."),
    "code-2024": N_("Code 2024: the workflow could not be built or deployed."),
    "code-2026": N_("Code 2026: the organisation header is missing."),
    "code-2027": N_("Code 2027: hostname missing in the workflow's extension properties."),
    "code-2028": N_("Code 2028: path missing in the workflow's extension properties."),
    "code-2029": N_("Code 2029: method missing in the workflow's extension properties."),
    "code-2030": N_("Code 2030: the upload to the file service failed."),
    # The customer API's codes (§10), queued for the look-up.
    "code-8015": N_("Code 8015: no customer has this identifier (customer look-up)."),
    "code-8013": N_("Code 8013: the identifier is invalid (customer look-up)."),
}
FAULT_KINDS = tuple(PRESETS)
# Faults that change how the next approved task runs instead of answering the call.
TASK_FAULTS = frozenset({"failed-744"})
# The customer API's codes (§10): meant for the look-up, not Capillary's request-workflow codes.
CUSTOMER_FAULTS = frozenset({"code-8015", "code-8013"})
CODE_PREFIX = "code-"

_STATUS_MESSAGES = {
    500: "Internal server error",
    502: "Bad gateway: upstream service did not answer",
    503: "Service temporarily unavailable",
    504: "Gateway timeout: upstream service took too long",
    401: "Invalid or expired X-CAP-UI-AUTH-TOKEN",
    403: "User does not have access to perform this action",
    404: "Resource not found",
    409: "Conflict: the resource was changed by another request",
}

_HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>"
    "<body><center><h1>500 Internal Server Error</h1></center><hr><center>nginx</center>"
    "</body></html>\n"
)
_TRUNCATED = '{"data": {"requestId": "5d1e0b1c-62a7-11ee-aa6d-0aaee4e533d2", "userId": 23213'
_GARBAGE = "OK\x07 ::: upstream=ok; <<binary 0x1f8b0800>> ¯\\_(ツ)_/¯ #@!%&\n"


def describe() -> list[dict]:
    """Return every preset as ``{"kind", "description"}``, for the trainer page."""
    return [{"kind": kind, "description": text} for kind, text in PRESETS.items()]


def stall(environ: dict, seconds: float) -> bool:
    """Sleep like a slow upstream; return True if the in-process caller's read timeout ran out.

    Over a socket there is no caller timeout to see, so the full ``seconds`` are slept.
    """
    channel = environ.get(TRANSPORT_KEY)
    read_timeout = channel.get("read_timeout") if channel else None
    if channel and read_timeout is not None and seconds > read_timeout:
        time.sleep(read_timeout)
        channel["abort"] = "timeout"
        return True
    if seconds > 0:
        time.sleep(seconds)
    return False


def fault_response(kind: str, environ: dict, stall_seconds: float) -> Response:
    """Return what a call hit by fault ``kind`` answers (possibly after acting on the connection)."""
    if kind == "timeout":
        if stall(environ, stall_seconds):
            return Response(status=504)  # discarded: the adapter raises ReadTimeout
        return error_response(504, "Gateway timeout: upstream service took too long")
    if kind in ("reset", "refused"):
        return _drop_connection(environ, kind)
    if kind.startswith(CODE_PREFIX):
        code = int(kind.removeprefix(CODE_PREFIX))
        return error_response(400, CODES[code], code=code)
    if kind.isdigit() and int(kind) in _STATUS_MESSAGES:
        return error_response(int(kind), _STATUS_MESSAGES[int(kind)])
    if kind == "429":
        return error_response(429, "Too many requests", headers={"Retry-After": "2"})
    if kind == "400-empty":
        return Response("{}", status=400, mimetype="application/json")
    if kind == "400-json":
        return error_response(400, "Bad request: the request could not be processed")
    if kind == "html":
        return Response(_HTML_PAGE, status=500, mimetype="text/html")
    if kind == "empty":
        return Response(b"", status=200, mimetype="application/json")
    if kind == "truncated":
        return Response(_TRUNCATED, status=200, mimetype="application/json")
    if kind == "no-data":
        return jsonify({"warnings": []})
    if kind in ("not-json", "unreadable"):
        return Response(_GARBAGE, status=200, mimetype="text/plain")
    if kind == "huge":
        return _huge_response()
    raise ValueError(f"unknown fault kind {kind!r}")


def _drop_connection(environ: dict, kind: str) -> Response:
    channel = environ.get(TRANSPORT_KEY)
    if channel is not None:
        channel["abort"] = kind
        return Response(status=204)  # discarded: the adapter raises ConnectionError
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        # shutdown() works even while the server still holds file objects on the socket
        # (close() would not). Writing the answer then fails, which werkzeug treats as a
        # dropped connection and ignores.
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return Response(status=204)
    return Response(_abort_after_first_bytes(), status=200, mimetype="application/json")


def _abort_after_first_bytes() -> Iterator[bytes]:
    yield b'{"data": '
    raise ConnectionResetError("sandbox fault: connection reset")


def _huge_response() -> Response:
    # Streamed in 1 MiB chunks with a Content-Length, so a careful client can refuse it early.
    head, tail = b'{"padding": "', b'"}'
    chunk = b"x" * (1024 * 1024)
    count = HUGE_BYTES // len(chunk)

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(count):
            yield chunk
        yield tail

    length = len(head) + count * len(chunk) + len(tail)
    return Response(body(), status=200, mimetype="application/json",
                    headers={"Content-Length": str(length)})
