"""The HTTP plumbing every Capillary client shares: sessions, timeouts, retries, body limit, transport errors.

One ``requests.Session`` per thread unless one is given (requests does not promise thread
safety), connections reused, connect and read timeouts always set, redirects never followed,
and nothing is retried once it may have been sent: only a failed *connect* is tried again.
A read timeout bounds each socket read only, so a gateway trickling its answer a byte at a time
could hold a thread without end: ``deadline`` bounds the whole call (connect, head and body).
Every transport failure becomes a typed :mod:`gateway.errors` exception; what an HTTP status
or body *means* is left to the client of each API.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError
from urllib3.response import HTTPResponse
from urllib3.util.retry import Retry

from gateway import errors

log = logging.getLogger(__name__)

# A documented answer is a few KB; anything far larger is not one we can use.
MAX_BODY_BYTES = 2 * 1024 * 1024


def _retry_policy() -> Retry:
    # Only a failed *connect* is retried: nothing has been sent then. Reads and statuses never.
    # read=False (not 0) re-raises a read error as itself: with 0, urllib3 wraps a GET/PUT read
    # timeout in MaxRetryError, which requests turns into a ConnectionError that looks unsent.
    return Retry(total=1, connect=1, read=False, status=0, other=0, redirect=0, raise_on_status=False)


@dataclass(frozen=True)
class Answer:
    """An HTTP answer read whole: status, headers and the raw body (at most MAX_BODY_BYTES)."""

    status: int
    headers: requests.structures.CaseInsensitiveDict
    raw: bytes


class Transport:
    """Send JSON requests to one base URL and read the answers, or raise a typed transport error.

    :param base_url: e.g. ``https://eucrm.cc.capillarytech.com``.
    :param timeout: ``(connect, read)`` seconds.
    :param deadline: seconds the whole call may take, from connecting to the last byte of the
        answer (None: only the timeouts above).
    :param auth: optional credentials applied to every call (:class:`requests.auth.AuthBase`).
    :param session: one session for every call (the caller vouches for sharing it across
        threads); by default each thread gets its own, with connect-only retries.
    :param mount: optional ``mount(session)`` hook for each thread's own session, used to plug
        in the in-process sandbox.
    :param pool_size: connections kept per host and thread.
    :param service: how errors name the other side, e.g. "Capillary's gateway".
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: tuple[float, float] = (3.0, 15.0),
        deadline: float | None = None,
        auth: AuthBase | None = None,
        session: requests.Session | None = None,
        mount: Callable[[requests.Session], object] | None = None,
        pool_size: int = 10,
        service: str = "Capillary's gateway",
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.deadline = deadline
        self.auth = auth
        self.service = service
        self._shared_session = session
        self._mount = mount
        self._pool_size = pool_size
        self._local = threading.local()

    def session(self) -> requests.Session:
        """Return the session for this thread (or the one given)."""
        if self._shared_session is not None:
            return self._shared_session
        session = getattr(self._local, "session", None)
        if session is None:
            session = environment_session(self.base_url)
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self._pool_size, max_retries=_retry_policy())
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            if self._mount is not None:
                self._mount(session)
            self._local.session = session
        return session

    def call(self, method: str, path: str, headers: dict[str, str], *, body: dict | None = None,
             params: dict | None = None, renew_auth: bool = True) -> Answer:
        """Send one request to ``base_url + path`` and read its whole answer.

        A 401 while the credentials can be renewed (an OAuth token, which has ``forget()``) is
        sent once more with a fresh token: a 401 means the call was refused before Capillary
        acted on it, so even a POST or PUT cannot be applied twice that way. Any other answer,
        or a failure after sending, is never sent again.

        :raises GatewayUnreachable: nothing was sent (refused, unresolvable, connect timeout).
        :raises GatewayTimeout: sent, but no answer in time, or not the whole answer by the deadline.
        :raises GatewayConnectionLost: sent, but the connection broke before the whole answer came.
        :raises UnreadableResponse: the answer is far larger than any documented one.
        """
        service = self.service
        started = time.perf_counter()
        timeout, deadline = bounded_timeout(self.timeout, self.deadline)
        try:
            response = self.session().request(
                method,
                self.base_url + path,
                headers=headers,
                auth=self.auth,
                data=json.dumps(body).encode("utf-8") if body is not None else None,
                params=params,
                timeout=timeout,
                stream=True,
                allow_redirects=False,
            )
            raw = read_body(response, service, deadline, timeout[1])
        except requests.ConnectTimeout as exc:
            raise errors.GatewayUnreachable(f"{service} did not accept the connection in time.",
                                            detail=str(exc)) from exc
        except requests.ReadTimeout as exc:
            raise errors.GatewayTimeout(f"{service} did not answer in time.", detail=str(exc)) from exc
        except requests.ConnectionError as exc:
            if _failed_before_sending(exc):
                raise errors.GatewayUnreachable(f"{service} could not be reached.", detail=str(exc)) from exc
            raise errors.GatewayConnectionLost(
                f"The connection to {service} broke before the answer arrived.", detail=str(exc)) from exc
        except requests.RequestException as exc:
            raise errors.GatewayConnectionLost(
                f"The connection to {service} failed while reading the answer.", detail=str(exc)) from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.info("gateway call", extra={"method": method, "path": path.split("?")[0],
                                         "status": response.status_code, "elapsed_ms": round(elapsed_ms, 1)})
        forget = getattr(self.auth, "forget", None)
        if response.status_code == 401 and renew_auth and callable(forget):
            forget()
            log.info("gateway answered 401: trying once more with a new OAuth token")
            return self.call(method, path, headers, body=body, params=params, renew_auth=False)
        return Answer(response.status_code, response.headers, raw)


def environment_session(base_url: str) -> requests.Session:
    """A session for ``base_url`` using the proxy and CA-bundle variables as they are now.

    ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` and ``NO_PROXY`` (for this host), and
    ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``, are read here once. By default requests reads
    them, and ``~/.netrc``, again on every call: a scan of the whole environment that cost
    about a third of a look-up's own time. A ``~/.netrc`` entry for the host would also replace
    the Authorization header the clients set, so it is never read.
    """
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if ca_bundle:
        session.verify = ca_bundle
    return session


def bounded_timeout(timeout: tuple[float, float], seconds: float | None) -> tuple[tuple[float, float], float | None]:
    """Return the ``(connect, read)`` timeout no longer than ``seconds``, and the call's deadline.

    The deadline is a ``time.monotonic()`` value (None without ``seconds``): no single wait may
    outlast it, and the body is then read against the clock (:func:`read_body`).
    """
    if seconds is None:
        return timeout, None
    return (min(timeout[0], seconds), min(timeout[1], seconds)), time.monotonic() + seconds


def read_body(response: requests.Response, service: str, deadline: float | None = None,
              read_timeout: float | None = None) -> bytes:
    """Read at most MAX_BODY_BYTES, all of it before ``deadline`` (a ``time.monotonic()`` value)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        response.close()
        raise errors.UnreadableResponse(
            f"{service} sent an answer of {int(declared):,} bytes, far larger than any documented one."
        )
    chunks, size = [], 0
    for chunk in _chunks(response, service, deadline, read_timeout):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            response.close()
            raise errors.UnreadableResponse(f"{service} sent an answer far larger than any documented one.")
        chunks.append(chunk)
    return b"".join(chunks)


def _chunks(response: requests.Response, service: str, deadline: float | None, read_timeout: float | None):
    """Yield the body as it arrives; past ``deadline`` close the connection and raise GatewayTimeout."""
    raw = response.raw
    if deadline is None or not isinstance(raw, HTTPResponse):
        # No deadline, or not a socket (the in-process sandbox): requests' own reading.
        for chunk in response.iter_content(64 * 1024):
            _check_deadline(response, service, deadline)
            yield chunk
        return
    while True:
        remaining = _check_deadline(response, service, deadline)
        sock = getattr(raw.connection, "sock", None)
        if sock is not None:
            # read1 returns what one socket read brings, so no read outlasts the time left.
            sock.settimeout(min(remaining, read_timeout or remaining))
        try:
            chunk = raw.read1(64 * 1024, decode_content=True)
        except ReadTimeoutError as exc:
            response.close()
            _check_deadline(response, service, deadline)
            raise requests.ReadTimeout(str(exc)) from exc
        except Urllib3Error as exc:
            response.close()
            raise requests.ConnectionError(f"connection aborted while reading the answer: {exc!r}") from exc
        if not chunk:
            return
        yield chunk


def _check_deadline(response: requests.Response, service: str, deadline: float | None) -> float:
    """Return the seconds left before ``deadline``; raise GatewayTimeout when none are."""
    if deadline is None:
        return float("inf")
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        response.close()
        raise errors.GatewayTimeout(f"{service} did not send its whole answer in time.",
                                    detail="the call's deadline (CAP_CALL_DEADLINE) passed while reading the answer")
    return remaining


def _failed_before_sending(exc: requests.ConnectionError) -> bool:
    """Tell a refused/unresolvable connection (nothing sent) from one lost mid-exchange."""
    text = repr(exc).lower()
    markers = ("newconnectionerror", "connection refused", "name or service not known",
               "failed to resolve", "nodename nor servname", "max retries exceeded")
    lost_markers = ("remotedisconnected", "connection reset", "connection aborted", "protocolerror")
    return any(m in text for m in markers) and not any(m in text for m in lost_markers)


