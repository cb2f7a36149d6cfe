"""Serve a WSGI app on a real socket for the length of a ``with`` block (a test helper)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server


@contextmanager
def serve_wsgi(app) -> Iterator[str]:
    """Run ``app`` on 127.0.0.1 at a free port in a daemon thread; yield its base URL.

    The server is threaded, so a stalled request does not block others, and it is shut down
    and its socket closed when the block exits.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll interval keeps shutdown() fast (it waits for the serve loop to notice).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
