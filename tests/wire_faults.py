"""Real-socket faults the sandbox cannot produce under werkzeug, and a port nobody listens on.

werkzeug's server always hands the sandbox its client socket, so the sandbox's ``reset``
fault there drops the connection *before* any answer. A gateway behind a proxy can also die
*mid-body*: headers and part of the JSON sent, then a TCP reset. :func:`serve_reset_mid_body`
is a tiny raw-socket server doing exactly that, so the client sees it on the wire.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_PARTIAL_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n"
    b'{"data": {"requestId": "5d1e0b1c-62a7-11ee-aa6d-0aaee4e533d2", "state": "Admin'
)


def dead_port() -> int:
    """Return a local TCP port that was free a moment ago (so a connect there is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_request(conn: socket.socket) -> str:
    """Read one whole HTTP request (head and Content-Length body); return its request line."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return ""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head.split(b"\r\n", 1)[0].decode("latin-1")


@contextmanager
def _serving(handle: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """Accept connections on 127.0.0.1 in a thread, each passed to ``handle(conn, stop)`` and then
    closed; yield the base URL. ``stop`` is set when the block ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:  # the accept timeout, or the listener closed
                continue
            try:
                conn.settimeout(5)
                handle(conn, stop)
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@contextmanager
def serve_reset_mid_body() -> Iterator[tuple[str, list[str]]]:
    """Serve on 127.0.0.1: read each request fully, send headers and half a body, then reset.

    Yields ``(base_url, request_lines)``; ``request_lines`` lists every request received, so a
    test can tell how many calls reached the "gateway".
    """
    received: list[str] = []

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        try:
            received.append(_read_request(conn))
            conn.sendall(_PARTIAL_ANSWER)
            # Let the client get the head and start on the body, so the reset lands mid-body.
            time.sleep(0.1)
            # Linger 0: close() sends RST instead of FIN.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass

    with _serving(handle) as base_url:
        yield base_url, received


@contextmanager
def serve_trickle(interval: float, body: bytes) -> Iterator[tuple[str, list[int]]]:
    """Serve on 127.0.0.1: answer each request's head at once, then ``body`` one byte every ``interval`` s.

    Each byte comes well within any read timeout, so only a deadline on the whole call ends it.
    Yields ``(base_url, sent)``: ``sent`` holds, per request, how many body bytes went out before
    the client hung up (``len(body)`` when it waited for all of them).
    """
    sent: list[int] = []
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        count = 0
        try:
            _read_request(conn)
            conn.sendall(head)
            for byte in body:
                if stop.wait(interval):
                    break
                conn.sendall(bytes([byte]))
                count += 1
        except OSError:  # the client hung up
            pass
        finally:
            sent.append(count)

    with _serving(handle) as base_url:
        yield base_url, sent
