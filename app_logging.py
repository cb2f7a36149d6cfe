"""Structured logs: a request id on every line, one line per request, JSON lines on request.

``LOG_FORMAT=json`` writes one JSON object per line (``ts``, ``level``, ``logger``, ``message``,
``request_id``, ``user_id`` and the request's ``method``/``path``/``status``/``duration_ms``/
``ip``); ``text`` (the default) writes the same as readable text. The request line never holds
headers, bodies or the query string: those can carry credentials and customer identifiers.
The request id comes from a well-formed ``X-Request-ID`` header (set by a proxy) or is made
here, and is sent back in ``X-Request-ID``.

No value can forge a log line: control characters (a decoded ``%0a`` in a path, a CR, an escape
sequence, a Unicode line separator) are written escaped, as ``\n``, ``\x1b``, ``\u2028``; a
traceback keeps its lines, each after the first indented, so none can pass for a new entry.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request

request_log = logging.getLogger("app.request")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# Attributes a request line adds through ``extra``; the JSON formatter includes these.
FIELDS = ("method", "path", "status", "duration_ms", "ip")
# What could end a line or rewrite one on a terminal: C0 and C1 controls, DEL, and the Unicode
# line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def init_app(app: Flask) -> None:
    """Install the request hooks and, outside tests, the log handler and format."""
    # First of all before-request hooks, so the id exists for everything that logs after it.
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_end)
    if app.testing:
        return  # tests read records through pytest's caplog
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter() if app.config.get("LOG_FORMAT") == "json" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_app_handler", False)]:
        root.removeHandler(old)
    handler._app_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))


def request_id() -> str:
    """Return the current request's id (made on first use)."""
    if "request_id" not in g:
        supplied = request.headers.get("X-Request-ID", "")
        g.request_id = supplied if _REQUEST_ID.fullmatch(supplied) else uuid.uuid4().hex
    return g.request_id


def _begin() -> None:
    g.request_started = time.perf_counter()
    request_id()


def _end(response):
    rid = request_id()
    response.headers["X-Request-ID"] = rid
    started = g.get("request_started")
    duration = round((time.perf_counter() - started) * 1000, 1) if started else None
    fields = {"method": request.method, "path": request.path, "status": response.status_code,
              "duration_ms": duration, "ip": request.remote_addr or ""}
    level = logging.DEBUG if request.endpoint == "static" else logging.INFO
    request_log.log(level, "%s %s %s %sms", request.method, request.path, response.status_code, duration,
                    extra=fields)
    return response


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\x1b``, ``\\u2028``)."""
    def escaped(match: re.Match) -> str:
        char = match.group()
        return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")

    return _CONTROL.sub(escaped, text)


def _indented(text: str) -> str:
    """A traceback's lines kept, controls inside them escaped, each line after the first indented."""
    return "\n  ".join(escape_controls(line) for line in text.split("\n"))


class RequestContextFilter(logging.Filter):
    """Add ``request_id`` and ``user_id`` to every record made during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = ""
        record.user_id = None
        if has_request_context():
            record.request_id = g.get("request_id", "")
            user = g.get("_login_user")
            record.user_id = getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", ""),
            "user_id": getattr(record, "user_id", None),
        }
        entry.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # json escapes C0 controls itself; the rest (C1, DEL, U+2028/9) would split some readers' lines.
        return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(entry, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """Readable lines with the request id."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The entry; a traceback another handler cached on the record is indented here too."""
        cached = record.exc_text
        record.exc_text = _indented(cached) if cached and not record.exc_info else None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging.Formatter's name
        """The line with the message's control characters escaped (one entry, one line)."""
        record.message = escape_controls(record.message)
        return super().formatMessage(record)

    def formatException(self, ei) -> str:  # noqa: N802 - logging.Formatter's name
        """The traceback, each line after the first indented."""
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging.Formatter's name
        """The stack, each line after the first indented."""
        return _indented(super().formatStack(stack_info))
