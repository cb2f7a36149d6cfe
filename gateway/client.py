"""HTTP client for Capillary's request-workflow gateway (capillary-api.md §§1–4).

One ``requests.Session`` per thread (requests does not promise thread safety), connections
reused, connect and read timeouts always set, and no POST/PUT is ever retried once it may
have been sent. Every failure becomes a typed :mod:`gateway.errors` exception.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from gateway import errors
from gateway.payload import CREATE_PATH, REQUEST_TYPE
from gateway.types import RequestInfo, RequestPage

log = logging.getLogger(__name__)

BASE_PATH = "/api_gateway/v2/request-workflow"
# A documented answer is a few KB; anything far larger is not one we can use.
MAX_BODY_BYTES = 2 * 1024 * 1024


def _retry_policy() -> Retry:
    # Only a failed *connect* is retried: nothing has been sent then. Reads and statuses never.
    # read=False (not 0) re-raises a read error as itself: with 0, urllib3 wraps a GET/PUT read
    # timeout in MaxRetryError, which requests turns into a ConnectionError that looks unsent.
    return Retry(total=1, connect=1, read=False, status=0, other=0, redirect=0, raise_on_status=False)


class GatewayClient:
    """Talk to one gateway as one org.

    :param base_url: e.g. ``https://eucrm.cc.capillarytech.com``.
    :param org_id: sent as ``X-CAP-API-AUTH-ORG-ID``.
    :param timeout: ``(connect, read)`` seconds.
    :param auth: optional object with ``headers(session) -> dict`` (Basic or OAuth).
    :param mount: optional ``mount(session)`` hook, used to plug in the in-process sandbox.
    :param pool_size: connections kept per host and thread.
    """

    def __init__(
        self,
        base_url: str,
        org_id: str,
        *,
        timeout: tuple[float, float] = (3.0, 15.0),
        auth=None,
        mount: Callable[[requests.Session], None] | None = None,
        pool_size: int = 10,
    ):
        self.base_url = base_url.rstrip("/")
        self.org_id = org_id
        self.timeout = timeout
        self._auth = auth
        self._mount = mount
        self._pool_size = pool_size
        self._local = threading.local()
        self._observers: list[Callable[[str, str, float], None]] = []

    def add_observer(self, observer: Callable[[str, str, float], None]) -> None:
        """Call ``observer(endpoint, outcome, seconds)`` after every gateway call (e.g. metrics).

        ``endpoint`` is ``create``, ``decide``, ``get`` or ``list``; ``outcome`` is ``ok`` or the
        failure's :attr:`gateway.errors.GatewayError.kind`. An observer must not raise.
        """
        self._observers.append(observer)

    # -- public API -------------------------------------------------------------------------

    @property
    def create_url(self) -> str:
        """The URL a new status-change request is POSTed to."""
        return self.base_url + CREATE_PATH

    def create_request(self, payload: dict, ui_token: str) -> RequestInfo:
        """Create a CUSTOMER-STATUS-CHANGE request (§1); return the gateway's view of it."""
        data = self._call("POST", CREATE_PATH, ui_token, body=payload, sends_change=True, endpoint="create")
        return RequestInfo.from_json(data.get("data"))

    def decide(self, request_id: str, decision: str, message: str, ui_token: str) -> RequestInfo:
        """Approve or reject a request waiting in AdminTask (§2)."""
        if decision not in ("approved", "rejected"):
            raise ValueError("decision must be 'approved' or 'rejected'")
        body = {
            "requestId": request_id,
            "actionName": "AdminTask",
            "payload": {"AdminTask-Payload": {"actionDecision": decision, "actionMessage": message}},
        }
        data = self._call("PUT", f"{BASE_PATH}/{REQUEST_TYPE}", ui_token, body=body, sends_change=True,
                          endpoint="decide")
        return RequestInfo.from_json(data.get("data"))

    def get_request(self, request_id: str, ui_token: str) -> RequestInfo:
        """Fetch one request by its requestId (§3)."""
        data = self._call("GET", f"{BASE_PATH}/requests/{quote(request_id, safe='')}", ui_token, endpoint="get")
        return RequestInfo.from_json(data.get("data"))

    def list_requests(
        self,
        ui_token: str,
        *,
        states: list[str] | None = None,
        request_type: str = REQUEST_TYPE,
        start_date: str | None = None,
        end_date: str | None = None,
        store_id: str | None = None,
        till_id: str | None = None,
        sort_by: str = "startDate",
        sort_order: str = "desc",
        limit: int = 50,
        page: int = 0,
    ) -> RequestPage:
        """Fetch one page of requests with the documented filters (§4.1)."""
        params = {
            "requestType": request_type,
            "sortBy": sort_by,
            "sortOrder": sort_order,
            "limit": str(limit),
            "PageNo": str(page),
        }
        optional = {
            "states": ",".join(states) if states else None,
            "startDate": start_date,
            "endDate": end_date,
            "storeId": store_id,
            "tillId": till_id,
        }
        params.update({k: v for k, v in optional.items() if v})
        data = self._call("GET", f"{BASE_PATH}/requests", ui_token, params=params, endpoint="list")
        items = data.get("data")
        if not isinstance(items, list):
            raise errors.UnreadableResponse("The gateway's request list has no 'data' list.")
        pagination = data.get("pagination") if isinstance(data.get("pagination"), dict) else {}
        parsed = [RequestInfo.from_json(item) for item in items]
        return RequestPage(
            items=parsed,
            total_elements=_int(pagination.get("totalElements"), len(parsed)),
            total_pages=_int(pagination.get("totalPages"), 1),
            number=_int(pagination.get("number"), page),
        )

    # -- plumbing ---------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(
                pool_connections=4, pool_maxsize=self._pool_size, max_retries=_retry_policy()
            )
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            if self._mount is not None:
                self._mount(session)
            self._local.session = session
        return session

    def _headers(self, session: requests.Session, ui_token: str) -> dict[str, str]:
        headers = {
            "X-CAP-API-AUTH-ORG-ID": self.org_id,
            "X-CAP-UI-AUTH-TOKEN": ui_token,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        if self._auth is not None:
            headers.update(self._auth.headers(session))
        return headers

    def _call(self, method: str, path: str, ui_token: str, *, endpoint: str, **options) -> dict:
        """Make one call through :meth:`_exchange` and tell the observers how it went."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            return self._exchange(method, path, ui_token, **options)
        except errors.GatewayError as exc:
            outcome = exc.kind
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            elapsed = time.perf_counter() - started
            for observer in self._observers:
                try:
                    observer(endpoint, outcome, elapsed)
                except Exception:  # noqa: BLE001 - watching a call must never break it
                    log.exception("gateway call observer failed")

    def _exchange(
        self,
        method: str,
        path: str,
        ui_token: str,
        *,
        body: dict | None = None,
        params: dict | None = None,
        sends_change: bool = False,
    ) -> dict:
        session = self._session()
        url = self.base_url + path
        started = time.perf_counter()
        try:
            response = session.request(
                method,
                url,
                headers=self._headers(session, ui_token),
                data=json.dumps(body).encode("utf-8") if body is not None else None,
                params=params,
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,
            )
            raw = _read_body(response)
        except requests.ConnectTimeout as exc:
            raise errors.GatewayUnreachable(
                "Capillary's gateway did not accept the connection in time.", detail=str(exc)
            ) from exc
        except requests.ReadTimeout as exc:
            raise errors.GatewayTimeout(
                "Capillary's gateway did not answer in time.", detail=str(exc)
            ) from exc
        except requests.ConnectionError as exc:
            if _failed_before_sending(exc):
                raise errors.GatewayUnreachable(
                    "Capillary's gateway could not be reached.", detail=str(exc)
                ) from exc
            raise errors.GatewayConnectionLost(
                "The connection to Capillary's gateway broke before the answer arrived.",
                detail=str(exc),
            ) from exc
        except requests.RequestException as exc:
            raise errors.GatewayConnectionLost(
                "The connection to Capillary's gateway failed while reading the answer.",
                detail=str(exc),
            ) from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.info(
            "gateway call",
            extra={"method": method, "path": path.split("?")[0], "status": response.status_code,
                   "elapsed_ms": round(elapsed_ms, 1)},
        )
        return _interpret(response, raw, sends_change)


def _read_body(response: requests.Response) -> bytes:
    """Read at most MAX_BODY_BYTES; a larger body is not a documented answer."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        response.close()
        raise errors.UnreadableResponse(
            f"The gateway sent an answer of {int(declared):,} bytes, far larger than any documented one."
        )
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            response.close()
            raise errors.UnreadableResponse("The gateway sent an answer far larger than any documented one.")
        chunks.append(chunk)
    return b"".join(chunks)


def _failed_before_sending(exc: requests.ConnectionError) -> bool:
    """Tell a refused/unresolvable connection (nothing sent) from one lost mid-exchange."""
    text = repr(exc).lower()
    markers = ("newconnectionerror", "connection refused", "name or service not known",
               "failed to resolve", "nodename nor servname", "max retries exceeded")
    lost_markers = ("remotedisconnected", "connection reset", "connection aborted", "protocolerror")
    return any(m in text for m in markers) and not any(m in text for m in lost_markers)


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def gateway_message(raw: bytes) -> str | None:
    """Pull a human message out of an error body (v2 ``errors`` envelope or ``message``)."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict):
        return None
    found = body.get("errors")
    if isinstance(found, list) and found and isinstance(found[0], dict):
        message, code = found[0].get("message"), found[0].get("code")
        if isinstance(message, str) and message.strip():
            text = message.strip()[:300]
            return f"{text} (code {code})" if code not in (None, "") else text
    for key in ("message", "error", "error_description"):
        if isinstance(body.get(key), str) and body[key].strip():
            return body[key].strip()[:300]
    return None


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def _interpret(response: requests.Response, raw: bytes, sends_change: bool) -> dict:
    """Turn a status and body into parsed JSON or a typed error."""
    status = response.status_code
    said = gateway_message(raw)
    suffix = f" Capillary said: {said}" if said else ""
    if status == 401:
        raise errors.TokenRejected(
            "Capillary refused the sign-in token (401): it is invalid or has expired." + suffix,
            status=status, detail=said,
        )
    if status == 403:
        raise errors.AccessDenied(
            "Capillary refused the request (403): this Capillary user lacks the access needed "
            "(CanMakeRequest to submit, CanCheckRequest to approve)." + suffix,
            status=status, detail=said,
        )
    if status == 404:
        raise errors.NotFound("Capillary's gateway answered 404: not found." + suffix,
                              status=status, detail=said)
    if status == 429:
        retry_after = _retry_after(response)
        wait = f" It asks to wait {retry_after:g} seconds before trying again." if retry_after else ""
        raise errors.RateLimited(
            "Capillary is limiting requests (429 Too Many Requests)." + wait + suffix,
            status=status, detail=said, retry_after=retry_after,
        )
    if 400 <= status < 500:
        reason = said or "no reason given"
        raise errors.GatewayRejected(
            f"Capillary rejected the request ({status}): {reason}.", status=status, detail=said
        )
    if status == 503:
        raise errors.GatewayUnavailable(
            "Capillary's gateway is temporarily unavailable (503)." + suffix, status=status, detail=said
        )
    if status >= 500:
        raise errors.GatewayServerError(
            f"Capillary's gateway failed with an internal error ({status})." + suffix,
            status=status, detail=said,
        )
    if not 200 <= status < 300:
        raise errors.UnreadableResponse(f"The gateway answered with an unexpected status {status}.",
                                        status=status)
    if not raw.strip():
        raise errors.UnreadableResponse("The gateway's answer was empty, so it could not be read.", status=status)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.UnreadableResponse(
            "The gateway's answer was not JSON, so it could not be read.", status=status
        ) from exc
    if not isinstance(body, dict) or "data" not in body:
        raise errors.UnreadableResponse(
            "The gateway's answer had no 'data', so it could not be read.", status=status
        )
    return body
