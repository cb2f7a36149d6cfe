"""A ``requests`` transport adapter that serves calls to the sandbox app in-process.

The main app must never call its own HTTP server, so this adapter turns a
``PreparedRequest`` into a WSGI environ, runs the sandbox app in the calling thread and wraps
the answer in a real ``requests.Response``. Usage::

    session = requests.Session()
    base_url = mount_sandbox(session, sandbox_app)  # "http://sandbox.invalid"
    session.get(base_url + "/api_gateway/v2/request-workflow/requests", timeout=(3, 15), ...)

The read timeout passed to ``send`` is honoured: added latency or the ``timeout`` fault stall
for at most that long, then ``requests.ReadTimeout`` is raised. The ``reset`` and ``refused``
faults raise ``requests.ConnectionError`` as a real socket would (see :mod:`sandbox.faults`).
Nothing is shared between calls, so one adapter is safe to use from many threads.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.exceptions import ProtocolError
from werkzeug.test import EnvironBuilder, run_wsgi_app

from sandbox.faults import TRANSPORT_KEY

SANDBOX_BASE_URL = "http://sandbox.invalid"  # .invalid can never resolve to a real host


class SandboxAdapter(BaseAdapter):
    """Serve every request sent through it to the WSGI ``app`` (normally a sandbox app)."""

    def __init__(self, app):
        super().__init__()
        self.app = app

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        """Run ``request`` through the app; return a ``requests.Response`` or raise like a socket would."""
        read_timeout = _read_timeout(timeout)
        # The app reads the timeout and reports a dropped connection through this dict.
        channel: dict[str, Any] = {"read_timeout": read_timeout, "abort": None}
        started = time.perf_counter()
        app_iter, status, headers = run_wsgi_app(self.app, _environ(request, channel), buffered=False)
        if channel["abort"] is not None:
            _close(app_iter)
            raise _transport_error(channel["abort"], request, read_timeout)

        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.partition(" ")[2]
        response.headers = CaseInsensitiveDict()
        for name, value in headers.items():
            # Repeated headers are folded the way urllib3 does.
            known = response.headers.get(name)
            response.headers[name] = value if known is None else f"{known}, {value}"
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = _WSGIBody(app_iter)
        response.url = request.url
        response.request = request
        # requests types this as HTTPAdapter; any adapter's send() sets it (see HTTPAdapter.build_response).
        response.connection = self  # type: ignore[assignment]
        response.elapsed = timedelta(seconds=time.perf_counter() - started)
        return response

    def close(self) -> None:
        """Nothing to release: there are no connections."""


def mount_sandbox(session: requests.Session, app, base_url: str = SANDBOX_BASE_URL) -> str:
    """Route ``session``'s calls under ``base_url`` to ``app`` in-process; return ``base_url``."""
    session.mount(base_url.rstrip("/") + "/", SandboxAdapter(app))
    return base_url


def _read_timeout(timeout) -> float | None:
    """The read part of a requests timeout: a number, a (connect, read) tuple or urllib3 Timeout."""
    if isinstance(timeout, tuple):
        if len(timeout) != 2:
            raise ValueError(f"Invalid timeout {timeout}. Pass a (connect, read) timeout tuple, or a single float.")
        timeout = timeout[1]
    elif timeout is not None and not isinstance(timeout, (int, float)):
        timeout = getattr(timeout, "read_timeout", None)
    return float(timeout) if isinstance(timeout, (int, float)) else None


def _environ(request: requests.PreparedRequest, channel: dict) -> dict:
    assert request.url is not None and request.method is not None  # a prepared request has both
    parts = urlsplit(request.url)
    builder = EnvironBuilder(
        path=parts.path or "/",
        base_url=f"{parts.scheme}://{parts.netloc}",
        query_string=parts.query,
        method=request.method,
        # requests allows bytes values: a socket sends them as they are and the server reads
        # them as Latin-1 (PEP 3333); werkzeug would write "b'...'" instead.
        headers=[(name, value.decode("latin-1") if isinstance(value, bytes) else value)
                 for name, value in request.headers.items()],
        data=_body_bytes(request.body),
    )
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    environ[TRANSPORT_KEY] = channel
    return environ


def _body_bytes(body) -> bytes:
    # requests allows bytes, str, file-like objects and iterables of chunks as a body.
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else data
    return b"".join(c.encode("utf-8") if isinstance(c, str) else c for c in body)


def _transport_error(kind: str, request, read_timeout: float | None) -> requests.RequestException:
    # Shaped like what requests raises on a real socket, so client code that inspects the
    # exception (type, args, repr) sees the same thing in-process.
    host = urlsplit(request.url).hostname
    if kind == "timeout":
        return requests.ReadTimeout(
            f"HTTPConnectionPool(host='{host}', port=80): Read timed out. (read timeout={read_timeout})",
            request=request,
        )
    if kind == "refused":
        error = requests.ConnectionError(
            f"HTTPConnectionPool(host='{host}', port=80): Max retries exceeded with url: "
            f"{request.path_url} (Caused by NewConnectionError('Failed to establish a new "
            "connection: [Errno 111] Connection refused'))",
            request=request,
        )
        error.__cause__ = ConnectionRefusedError(111, "Connection refused")
        return error
    reset = ConnectionResetError(104, "Connection reset by peer")
    error = requests.ConnectionError(ProtocolError("Connection aborted.", reset), request=request)
    error.__cause__ = reset
    return error


def _close(app_iter) -> None:
    close = getattr(app_iter, "close", None)
    if close is not None:
        close()


class _WSGIBody:
    """A file-like ``raw`` for requests.Response, read lazily from the WSGI app's iterable."""

    def __init__(self, app_iter):
        self._app_iter = app_iter
        self._chunks = iter(app_iter)
        self._chunk = b""
        self._pos = 0
        self.closed = False

    def read(self, amt: int | None = None, **_ignored) -> bytes:
        """Return up to ``amt`` bytes (all that is left when None); b"" at the end."""
        parts, wanted = [], amt if amt is not None else float("inf")
        while wanted > 0 and not self.closed:
            if self._pos >= len(self._chunk):
                chunk = next(self._chunks, None)
                if chunk is None:
                    self.close()
                    break
                self._chunk, self._pos = chunk, 0
                continue
            end = self._pos + int(min(wanted, len(self._chunk) - self._pos))
            parts.append(self._chunk[self._pos:end])
            wanted -= end - self._pos
            self._pos = end
        return b"".join(parts)

    def close(self) -> None:
        """Stop reading and let the app clean up."""
        if not self.closed:
            self.closed = True
            self._chunk = b""
            _close(self._app_iter)

    def release_conn(self) -> None:
        """requests calls this when a response is closed; there is no connection to release."""
