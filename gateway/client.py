"""HTTP client for Capillary's request-workflow gateway (docs/CAPILLARY_API.md).

The HTTP plumbing (sessions, timeouts, no retry once sent, body limit) is gateway/transport.py;
this module knows the endpoints and what their statuses and bodies mean. Every failure becomes
a typed :mod:`gateway.errors` exception.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import quote

import requests
from requests.auth import AuthBase

from gateway import errors
from gateway.auth import MASKED
from gateway.envelope import ErrorFacts, error_facts, parse_json
from gateway.payload import CREATE_PATH, REQUEST_TYPE
from gateway.transport import Answer, Transport
from gateway.types import RequestInfo, RequestPage

log = logging.getLogger(__name__)

BASE_PATH = "/api_gateway/v2/request-workflow"


class GatewayClient:
    """Talk to one gateway as one org.

    :param base_url: e.g. ``https://eucrm.cc.capillarytech.com``.
    :param org_id: sent as ``X-CAP-API-AUTH-ORG-ID``.
    :param timeout: ``(connect, read)`` seconds.
    :param deadline: seconds one call may take in all, connect to last byte (None: no limit).
    :param auth: optional gateway credentials, a :class:`requests.auth.AuthBase` (gateway/auth.py).
    :param session: one session for every call (the caller vouches for sharing it across
        threads); by default each thread gets its own, with connect-only retries.
    :param mount: optional ``mount(session)`` hook for each thread's own session, used to plug
        in the in-process sandbox.
    :param pool_size: connections kept per host and thread.
    """

    def __init__(
        self,
        base_url: str,
        org_id: str,
        *,
        timeout: tuple[float, float] = (3.0, 15.0),
        deadline: float | None = None,
        auth: AuthBase | None = None,
        session: requests.Session | None = None,
        mount: Callable[[requests.Session], object] | None = None,
        pool_size: int = 10,
    ):
        self.org_id = org_id
        self.transport = Transport(base_url, timeout=timeout, deadline=deadline, auth=auth, session=session,
                                   mount=mount, pool_size=pool_size)
        self.base_url = self.transport.base_url
        self.timeout = timeout
        self._auth = auth
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

    def preview_create(self, payload: dict) -> tuple[str, str, dict[str, str]]:
        """Return ``(method, url, headers)`` of the create call for ``payload``, secrets masked.

        What the review page shows: the headers are exactly those :meth:`create_request` sends,
        with the UI token and the gateway credentials replaced by :data:`gateway.auth.MASKED`.
        """
        headers = self._headers(MASKED)
        if self._auth is not None:
            headers[getattr(self._auth, "header_name", "Authorization")] = MASKED
        return "POST", self.create_url, headers

    def create_request(self, payload: dict, ui_token: str) -> RequestInfo:
        """Create a CUSTOMER-STATUS-CHANGE request (§1); return the gateway's view of it."""
        data = self._call("POST", CREATE_PATH, ui_token, body=payload, endpoint="create")
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
        data = self._call("PUT", f"{BASE_PATH}/{REQUEST_TYPE}", ui_token, body=body, endpoint="decide")
        return _about(request_id, RequestInfo.from_json(data.get("data")))

    def get_request(self, request_id: str, ui_token: str) -> RequestInfo:
        """Fetch one request by its requestId (§3)."""
        data = self._call("GET", f"{BASE_PATH}/requests/{quote(request_id, safe='')}", ui_token, endpoint="get")
        return _about(request_id, RequestInfo.from_json(data.get("data")))

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
        pagination = data.get("pagination")
        pagination = pagination if isinstance(pagination, dict) else {}
        parsed = [RequestInfo.from_json(item) for item in items]
        return RequestPage(
            items=parsed,
            total_elements=_int(pagination.get("totalElements"), len(parsed)),
            total_pages=_int(pagination.get("totalPages"), 1),
            number=_int(pagination.get("number"), page),
        )

    # -- plumbing ---------------------------------------------------------------------------

    def _headers(self, ui_token: str) -> dict[str, str]:
        return {
            "X-CAP-API-AUTH-ORG-ID": self.org_id,
            "X-CAP-UI-AUTH-TOKEN": ui_token,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def _call(self, method: str, path: str, ui_token: str, *, endpoint: str, body: dict | None = None,
              params: dict | None = None) -> dict:
        """Make one call, interpret its answer, and tell the observers how it went."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            answer = self.transport.call(method, path, self._headers(ui_token), body=body, params=params)
            return _interpret(answer)
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


def _about(request_id: str, info: RequestInfo) -> RequestInfo:
    """Return ``info`` if it is about ``request_id``; an answer about another request is unreadable."""
    if info.requestId != request_id:
        raise errors.UnreadableResponse(f"The gateway answered about another request ({info.requestId[:64]}) "
                                        f"than the one asked for ({request_id}).")
    return info


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _retry_after(answer: Answer) -> float | None:
    value = answer.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def _documented_code_error(answer: Answer, facts: ErrorFacts | None) -> errors.GatewayError | None:
    """The typed error for a documented request-workflow code (§1.5), whatever the HTTP status."""
    if facts is None or facts.code not in errors.CODE_KINDS:
        return None
    kind = errors.CODE_KINDS[facts.code]
    reason = f" Capillary said: {facts.message}" if facts.message else ""
    return kind(f"Capillary refused the call with error code {facts.code} (HTTP {answer.status}).{reason}",
                status=answer.status, detail=facts.message, code=facts.code)


def _interpret(answer: Answer) -> dict:
    """Turn a status and body into parsed JSON or a typed error.

    A 2xx object with ``data`` is the answer. Otherwise a documented request-workflow code in
    the body decides the kind whatever the status (§1.5); failing that, the HTTP status does.
    """
    body = parse_json(answer.raw)
    if 200 <= answer.status < 300 and isinstance(body, dict) and "data" in body:
        return body
    facts = error_facts(body)
    code = facts.code if facts is not None else None
    said = None
    if facts is not None and facts.message is not None:
        said = f"{facts.message} (code {code})" if code is not None else facts.message
    raise _documented_code_error(answer, facts) or _status_error(answer, code, said)


def _status_error(answer: Answer, code: str | None, said: str | None) -> errors.GatewayError:
    """The error for an answer without usable ``data``, by HTTP status (an undocumented code rides along)."""
    status, raw = answer.status, answer.raw
    suffix = f" Capillary said: {said}" if said else ""
    if status == 401:
        return errors.TokenRejected(
            "Capillary refused the sign-in token (401): it is invalid or has expired." + suffix,
            status=status, detail=said, code=code,
        )
    if status == 403:
        return errors.AccessDenied(
            "Capillary refused the request (403): this Capillary user lacks the access needed "
            "(CanMakeRequest to submit, CanCheckRequest to approve)." + suffix,
            status=status, detail=said, code=code,
        )
    if status == 404:
        return errors.NotFound("Capillary's gateway answered 404: not found." + suffix,
                              status=status, detail=said, code=code)
    if status == 429:
        retry_after = _retry_after(answer)
        wait = f" It asks to wait {retry_after:g} seconds before trying again." if retry_after else ""
        return errors.RateLimited(
            "Capillary is limiting requests (429 Too Many Requests)." + wait + suffix,
            status=status, detail=said, code=code, retry_after=retry_after,
        )
    if 400 <= status < 500:
        reason = said or "no reason given"
        return errors.GatewayRejected(
            f"Capillary rejected the request ({status}): {reason}.", status=status, detail=said, code=code
        )
    if status == 503:
        return errors.GatewayUnavailable(
            "Capillary's gateway is temporarily unavailable (503)." + suffix, status=status, detail=said,
            code=code,
        )
    if status >= 500:
        return errors.GatewayServerError(
            f"Capillary's gateway failed with an internal error ({status})." + suffix,
            status=status, detail=said, code=code,
        )
    if not 200 <= status < 300:
        return errors.UnreadableResponse(f"The gateway answered with an unexpected status {status}.",
                                        status=status)
    if not raw.strip():
        return errors.UnreadableResponse("The gateway's answer was empty, so it could not be read.", status=status)
    if parse_json(raw) is None:
        return errors.UnreadableResponse("The gateway's answer was not JSON, so it could not be read.", status=status)
    return errors.UnreadableResponse("The gateway's answer had no 'data', so it could not be read.", status=status)
