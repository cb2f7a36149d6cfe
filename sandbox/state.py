"""In-memory, thread-safe state of one sandbox gateway.

Holds the requests (by requestId, in creation order), a small customer directory, the
settings, the fault queue and a bounded log of received gateway calls. Every method takes
the lock, and every value handed out is a deep copy, so callers on other threads (the main
app's trainer page, tests, the sandbox's own API) never see a half-made change.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sandbox import workflow
from sandbox.faults import CUSTOMER_ENDPOINTS, ENDPOINTS, FAULT_KINDS, TASK_FAULTS

CALL_LOG_SIZE = 500
# The "other maker" of seeded requests, as if raised in Capillary's own UI.
FOREIGN_USER_ID = 500001
FOREIGN_USER_NAME = "capillary.ui.maker@example.com"
# The documented example's entity IDs (§1.3).
DEFAULT_ENTITY_INFO = {"tillId": "50682289", "storeId": "50682288", "zoneId": "50682286", "conceptId": "50678331"}


def _customer(cid: int, name: str, status: str, label: str, **identifiers: str) -> dict:
    # The profile fields the customer look-up answers (docs/CAPILLARY_API.md §10); the status
    # log starts with the registration (Active) and, for a customer not Active, their change.
    since = f"20{cid % 100 + 10:02d}-0{cid % 9 + 1}-1{cid % 10}T10:15:00Z"
    log = [workflow.status_entry(cid, "Active", "Active", "Registered", since, active=label == "Active")]
    if label != "Active":
        log.append(workflow.status_entry(cid, label, status, "Changed in Capillary", later_text(since), active=True))
    return {"id": cid, "name": name, "status": status, "label": label, "identifiers": identifiers,
            "memberSince": since, "tier": "Gold" if cid % 2 else "Silver", "loyaltyType": "loyalty",
            "statusLog": log}


def later_text(since: str) -> str:
    """A day after ``since`` (an ISO time with Z), for the seeded second status entry."""
    moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
    return moment.replace(day=min(moment.day + 1, 28)).strftime("%Y-%m-%dT%H:%M:%SZ")


DEFAULT_CUSTOMERS = (
    _customer(1001, "Asha Rao", "Active", "Active", mobile="919780375690",
              email="asha.rao@example.com", externalId="EXT-1001", cardnumber="4000100010001001"),
    _customer(1002, "Vikram Shah", "Active", "High Value", mobile="919780375691",
              email="vikram.shah@example.com", externalId="EXT-1002", cardnumber="4000100010001002"),
    _customer(1003, "Meera Iyer", "Suspended", "Suspended", mobile="919812345670",
              email="meera.iyer@example.com", externalId="EXT-1003", cardnumber="4000100010001003"),
    _customer(1004, "Rohan Das", "Active", "Active", mobile="919812345671",
              email="rohan.das@example.com", externalId="EXT-1004", cardExternalId="CEXT-1004"),
    _customer(1005, "Fatima Khan", "Fraud suspected", "Fraud suspected", mobile="447700900123",
              email="fatima.khan@example.com", wechat="wx_fatima_k", fbid="100004567890"),
    _customer(1006, "Li Wei", "Active", "Active", mobile="8613800138000",
              email="li.wei@example.com", martjackId="MJ-1006", wechat="wx_liwei"),
    _customer(1007, "Kiran Patel", "Pending deletion", "Deletion_pending", mobile="919812345673",
              email="kiran.patel@example.com", externalId="EXT-1007"),
    _customer(1008, "Sara Thomas", "Deleted", "Deleted", mobile="919812345674",
              email="sara.thomas@example.com", externalId="EXT-1008"),
)


@dataclass
class _Record:
    data: dict  # the request exactly as the gateway shows it
    entity_info: dict  # not part of any response, but the list filters on it
    org_id: str
    seq: int  # creation order, the tie-breaker when startTimes are equal


@dataclass
class _Fault:
    kind: str
    endpoint: str
    remaining: int


class SandboxState:
    """Everything one sandbox gateway remembers. Safe to share between threads."""

    def __init__(self, *, auto_approve: bool = False, forbid_self_approval: bool = False,
                 latency_ms: int = 0):
        # reset() returns the settings to these start-up values.
        self._defaults = {
            "auto_approve": bool(auto_approve),
            "forbid_self_approval": bool(forbid_self_approval),
            "latency_ms": _latency(latency_ms),
        }
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget all requests, calls and faults; restore the customers and start-up settings."""
        with self._lock:
            self._requests: dict[str, _Record] = {}
            self._customers = copy.deepcopy(list(DEFAULT_CUSTOMERS))
            self._settings = dict(self._defaults)
            self._faults: list[_Fault] = []
            self._calls: deque[dict] = deque(maxlen=CALL_LOG_SIZE)
            self._customer_calls: deque[dict] = deque(maxlen=CALL_LOG_SIZE)
            self._created_count = 0
            self._seq = 0
            self._oauth_tokens: dict[str, float] = {}  # token -> expiry (time.monotonic())
            self._oauth_issued = 0

    # -- settings --------------------------------------------------------------------------

    def settings(self) -> dict:
        """Return ``{"auto_approve", "forbid_self_approval", "latency_ms"}``."""
        with self._lock:
            return dict(self._settings)

    def set_auto_approve(self, enabled: bool) -> None:
        """Approve new requests at once, without a checker (§6)."""
        with self._lock:
            self._settings["auto_approve"] = bool(enabled)

    def set_forbid_self_approval(self, enabled: bool) -> None:
        """Answer 403 when a checker approves or rejects their own request."""
        with self._lock:
            self._settings["forbid_self_approval"] = bool(enabled)

    def set_latency_ms(self, latency_ms: int) -> None:
        """Add ``latency_ms`` milliseconds to every gateway call (a non-negative int)."""
        value = _latency(latency_ms)
        with self._lock:
            self._settings["latency_ms"] = value

    # -- OAuth tokens (sandbox/auth.py) -------------------------------------------------------

    def issue_oauth_token(self, ttl_seconds: int) -> str:
        """Issue a new OAuth token valid for ``ttl_seconds``; a reset forgets every token."""
        token = "sandbox-oauth-" + secrets.token_urlsafe(24)
        with self._lock:
            self._oauth_issued += 1
            now = time.monotonic()
            self._oauth_tokens = {t: end for t, end in self._oauth_tokens.items() if end > now}
            self._oauth_tokens[token] = now + ttl_seconds
        return token

    def oauth_token_valid(self, token: str) -> bool:
        """Whether ``token`` was issued here and has not expired."""
        with self._lock:
            return self._oauth_tokens.get(token, 0.0) > time.monotonic()

    @property
    def oauth_tokens_issued(self) -> int:
        """How many OAuth tokens were issued since the last reset."""
        with self._lock:
            return self._oauth_issued

    def expire_oauth_tokens(self) -> None:
        """Make every issued token expire now (to show a client renewing its token)."""
        with self._lock:
            self._oauth_tokens.clear()

    # -- customers -------------------------------------------------------------------------

    def customers(self) -> list[dict]:
        """Return the directory: ``{"id", "name", "status", "label", "identifiers"}`` each."""
        with self._lock:
            return copy.deepcopy(self._customers)

    def find_customer(self, identifier_name: str, identifier_value: str) -> dict | None:
        """Return a copy of the customer holding that identifier, or None."""
        with self._lock:
            found = workflow.find_customer(self._customers, identifier_name, identifier_value)
            return copy.deepcopy(found) if found is not None else None

    def customer_by_id(self, customer_id: int) -> dict | None:
        """Return a copy of the customer with that id, or None."""
        with self._lock:
            found = next((c for c in self._customers if c["id"] == customer_id), None)
            return copy.deepcopy(found) if found is not None else None

    def record_customer_call(self, call: dict) -> None:
        """Log one customer API call (kept apart from the gateway's call log)."""
        with self._lock:
            self._customer_calls.append(copy.deepcopy(call))

    @property
    def customer_calls(self) -> list[dict]:
        """The last 500 customer API calls (look-up, status log), oldest first."""
        with self._lock:
            return copy.deepcopy(list(self._customer_calls))

    # -- faults ----------------------------------------------------------------------------

    def inject_fault(self, kind: object, count: object = 1, endpoint: object = "any") -> None:
        """Make the next ``count`` calls to ``endpoint`` fail as preset ``kind`` says.

        The values may come straight from a JSON body: raise ValueError for an unknown kind or
        endpoint or a count below 1.
        """
        if not isinstance(kind, str) or kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if not isinstance(endpoint, str) or endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; known: {', '.join(ENDPOINTS)}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be a whole number of at least 1")
        with self._lock:
            self._faults.append(_Fault(kind, endpoint, count))

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def pending_faults(self) -> list[dict]:
        """Return the queue, oldest first: ``{"kind", "endpoint", "remaining"}`` each."""
        with self._lock:
            return [{"kind": f.kind, "endpoint": f.endpoint, "remaining": f.remaining} for f in self._faults]

    def take_fault(self, endpoint: str, *, task_faults: bool = True) -> str | None:
        """Consume one queued fault matching ``endpoint`` (oldest first); return its kind or None.

        ``task_faults=False`` leaves task faults (:data:`sandbox.faults.TASK_FAULTS`) queued: only
        a call that runs an approved task can use one.
        """
        with self._lock:
            for fault in self._faults:
                if not task_faults and fault.kind in TASK_FAULTS:
                    continue
                # "any" means any request-workflow call: the customer API takes only its own faults.
                if fault.endpoint == endpoint or (fault.endpoint == "any" and endpoint not in CUSTOMER_ENDPOINTS):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault.kind
        return None

    # -- call log --------------------------------------------------------------------------

    @property
    def calls(self) -> list[dict]:
        """The last 500 gateway calls, oldest first.

        Each is ``{"time", "endpoint", "method", "path", "query", "headers", "body"}``; header
        names are lower-case, ``body`` is the parsed JSON body or None.
        """
        with self._lock:
            return copy.deepcopy(list(self._calls))

    def record_call(self, call: dict) -> None:
        """Append one received call to the log (the oldest drops off past 500)."""
        with self._lock:
            self._calls.append(copy.deepcopy(call))

    def clear_calls(self) -> list[dict]:
        """Empty the log; return what it held."""
        with self._lock:
            taken = list(self._calls)
            self._calls.clear()
            return taken

    # -- requests --------------------------------------------------------------------------

    @property
    def created_count(self) -> int:
        """How many requests the create endpoint has made since the last reset (seeds excluded)."""
        with self._lock:
            return self._created_count

    @property
    def request_count(self) -> int:
        """How many requests exist, seeded ones included."""
        with self._lock:
            return len(self._requests)

    def get_request(self, request_id: str) -> dict | None:
        """Return the request as the gateway shows it, or None if unknown."""
        with self._lock:
            record = self._requests.get(request_id)
            return copy.deepcopy(record.data) if record else None

    def records(self) -> list[dict]:
        """Return every request with its hidden context: ``{"request", "entityInfo", "orgId", "seq"}``."""
        with self._lock:
            return [
                {"request": copy.deepcopy(r.data), "entityInfo": dict(r.entity_info),
                 "orgId": r.org_id, "seq": r.seq}
                for r in self._requests.values()
            ]

    def add_request(
        self,
        request: dict,
        entity_info: dict,
        org_id: str,
        then: Callable[[dict, list[dict]], None] | None = None,
    ) -> dict:
        """Store a request made through the create endpoint; return a copy.

        ``then(request, customers)``, if given, runs under the lock before storing (auto-approval).
        """
        with self._lock:
            data = copy.deepcopy(request)
            if then is not None:
                then(data, self._customers)
            self._store(data, entity_info, org_id)
            self._created_count += 1
            return copy.deepcopy(data)

    def update_request(self, request_id: str, change: Callable[[dict, list[dict]], None]) -> dict | None:
        """Apply ``change(request, customers)`` atomically; return the new request, None if unknown.

        ``change`` may raise to refuse; the request is then left as it was.
        """
        with self._lock:
            record = self._requests.get(request_id)
            if record is None:
                return None
            data = copy.deepcopy(record.data)
            change(data, self._customers)
            record.data = data
            return copy.deepcopy(data)

    def seed_request(
        self,
        *,
        entity_info: dict | None = None,
        identifier_name: str = "mobile",
        identifier_value: str = "919780375690",
        label: str = "Suspended",
        reason: str = "Raised in Capillary's own UI",
        state: str = "AdminTask",
        start_time: str | datetime | None = None,
        end_time: str | None = None,
        source: str = "INSTORE",
        user_id: int = FOREIGN_USER_ID,
        user_name: str = FOREIGN_USER_NAME,
        org_id: str = "0",
        request_type: str = workflow.REQUEST_TYPE_PATH,
    ) -> str:
        """Create a request as if another maker raised it in Capillary's UI; return its requestId.

        ``entity_info`` keys override the documented example's IDs. ``state`` is one of
        AdminTask/approved/rejected/failed; a decided one gets the matching details and an
        ``end_time`` (default: five minutes after the start). ``start_time`` is a datetime or
        ``YYYY-MM-DDTHH:MM:SS`` (default: now). ``request_type`` is one of the documented path
        types (§4.2); another type than CUSTOMER-STATUS-CHANGE gets a task of its own kind and
        shows in the list (filtered by ``requestType`` like any other). Raise ValueError on bad values.
        """
        if state not in workflow.STATES:
            raise ValueError(f"state must be one of {', '.join(workflow.STATES)}")
        if request_type not in workflow.KNOWN_REQUEST_TYPES:
            raise ValueError(f"request_type must be one of {', '.join(workflow.KNOWN_REQUEST_TYPES)}")
        if isinstance(start_time, datetime):
            start_time = start_time.strftime(workflow.TIME_FORMAT)
        start_time = start_time or workflow.now_text()
        for name, value in (("start_time", start_time), ("end_time", end_time)):
            if value is not None:
                _check_time(name, value)
        entity = {**DEFAULT_ENTITY_INFO, **(entity_info or {})}
        if request_type == workflow.REQUEST_TYPE_PATH:
            task = workflow.new_task(identifier_name=identifier_name, identifier_value=identifier_value,
                                     label=label, reason=reason, source=source)
        else:
            task = workflow.other_task(request_type, reason)
        request = workflow.new_request(user_id=int(user_id), user_name=user_name, task=task,
                                       start_time=start_time, request_type=request_type.lower())
        workflow.settle_seed(request, state, end_time or workflow.later(start_time), org_id)
        with self._lock:
            self._store(request, entity, org_id)
        return request["requestId"]

    def _store(self, data: dict, entity_info: dict, org_id: str) -> None:
        self._seq += 1
        self._requests[data["requestId"]] = _Record(data, dict(entity_info), org_id, self._seq)


def _latency(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("latency_ms must be a whole number of milliseconds, 0 or more")
    return value


def _check_time(name: str, value) -> None:
    try:
        workflow.parse_time(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must look like 2023-10-04T16:29:19") from None
