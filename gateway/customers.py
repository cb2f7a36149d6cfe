"""Client for Capillary's customer look-up and status log (docs/CAPILLARY_API.md §10). No Flask.

Two documented calls on the Intouch API host, authenticated with the till credentials the app
already puts in the payload's inner ``Authorization``:

- ``GET /v2/customers/lookup/customerDetails?source=&identifierName=&identifierValue=`` (+
  ``accountId`` when set, ``embed=mlp`` for the tier): who the customer is;
- ``GET /v2/customers/{id}/statusLog``: the customer's status history; the current status is
  the entry with ``isActive: true``, else the newest by ``createdOn``.

Which HTTP status carries an error code is not documented, so the body's code is read whatever
the status (8015 not found, 8013 invalid identifier, 8003 invalid source); every failure is a
typed :class:`CustomerError`. Names are only ever held in memory (and in the short cache):
never logged by this module.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from urllib.parse import quote

import requests

from gateway import errors
from gateway.envelope import error_facts, parse_json
from gateway.transport import Answer, Transport

log = logging.getLogger(__name__)

LOOKUP_PATH = "/v2/customers/lookup/customerDetails"
STATUS_LOG_PATH = "/v2/customers/{id}/statusLog"
HISTORY_MAX = 50  # entries kept of a status log; a page shows the newest few
TEXT_MAX = 200


# -- errors --------------------------------------------------------------------------------------


class CustomerError(errors.GatewayError):
    """A look-up or status-log call failed. ``definite`` says the identifier itself is wrong."""

    kind = "customer_error"
    definite = False


class CustomerNotFound(CustomerError):
    """Code 8015: no customer has this identifier."""

    kind = "customer_not_found"
    definite = True


class InvalidIdentifier(CustomerError):
    """Code 8013: the identifier is invalid for its type."""

    kind = "invalid_identifier"
    definite = True


class InvalidSource(CustomerError):
    """Code 8003: Capillary does not know the source (a setting, not the customer)."""

    kind = "invalid_source"


class CredentialsRefused(CustomerError):
    """401/403: Capillary refused the till credentials."""

    kind = "credentials_refused"


class LookupUnreachable(CustomerError):
    """Nothing could be sent: the host did not accept the connection."""

    kind = "unreachable"


class LookupTimeout(CustomerError):
    """Sent, but no whole answer came in time (or the connection broke)."""

    kind = "timeout"


class LookupUnreadable(CustomerError):
    """The answer was not the documented JSON (not JSON, or a 200 without the customer's ``id``)."""

    kind = "unreadable"


class LookupFailed(CustomerError):
    """Any other refusal or server error (5xx, an undocumented code)."""

    kind = "failed"


CODE_ERRORS: dict[str, type[CustomerError]] = {
    "8015": CustomerNotFound,
    "8013": InvalidIdentifier,
    "8003": InvalidSource,
}


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusEntry:
    """One entry of a status log: the label, its platform status, why and when."""

    label: str
    status: str = ""
    reason: str = ""
    created_on: str = ""
    created_by: str = ""
    is_active: bool = False


@dataclass(frozen=True)
class Customer:
    """What the app shows about a customer. ``current`` is None when the status log had no entry
    (or could not be read: ``status_problem`` then names the error kind)."""

    id: str
    first_name: str = ""
    last_name: str = ""
    member_since: str = ""
    registered_at: str = ""
    loyalty_type: str = ""
    tier: str = ""
    current: StatusEntry | None = None
    history: tuple[StatusEntry, ...] = field(default_factory=tuple)
    status_problem: str | None = None
    profiles: int = 1

    @property
    def name(self) -> str:
        """First and last name as Capillary has them (may be empty)."""
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    def to_json(self) -> str:
        """Serialise for the cache."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Customer:
        """Read what :meth:`to_json` wrote."""
        data = json.loads(text)
        current = StatusEntry(**data["current"]) if data.get("current") else None
        history = tuple(StatusEntry(**entry) for entry in data.get("history") or ())
        return cls(**{**data, "current": current, "history": history})


# -- parsing -------------------------------------------------------------------------------------


def _text(value) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float | str):
        return str(value).strip()[:TEXT_MAX]
    return ""


def _object(value) -> dict:
    return value if isinstance(value, dict) else {}


def parse_customer(body, source: str) -> Customer:
    """Read the look-up answer: the profile of ``source`` (else the first) gives name and attribution.

    :raises LookupUnreadable: not an object, or no ``id``.
    """
    if not isinstance(body, dict):
        raise LookupUnreadable("The customer look-up answer was not a JSON object.")
    # Some versions wrap the customer in "data" or "customers": tolerated (undocumented, §10).
    for key in ("data", "customers", "customer"):
        inner = body.get(key)
        if "id" not in body and isinstance(inner, list) and inner and isinstance(inner[0], dict):
            body = inner[0]
        elif "id" not in body and isinstance(inner, dict):
            body = inner
    customer_id = _text(body.get("id"))
    if not customer_id:
        raise LookupUnreadable("The customer look-up answer had no customer id.")
    profiles = [p for p in body.get("profiles") or () if isinstance(p, dict)] if isinstance(
        body.get("profiles"), list) else []
    profile = next((p for p in profiles if _text(p.get("source")).upper() == source.upper()),
                   profiles[0] if profiles else {})
    attribution = _object(profile.get("attribution"))
    created_by = _object(attribution.get("createdBy"))
    loyalty = _object(body.get("loyaltyInfo"))
    programs = body.get("loyaltyProgramDetails")
    tier = ""
    if isinstance(programs, list):
        tier = next((_text(p.get("currentSlab")) for p in programs
                     if isinstance(p, dict) and _text(p.get("currentSlab"))), "")
    return Customer(
        id=customer_id,
        first_name=_text(profile.get("firstName")),
        last_name=_text(profile.get("lastName")),
        member_since=_text(attribution.get("createDate")),
        registered_at=_text(created_by.get("name")) or _text(created_by.get("code")),
        loyalty_type=_text(loyalty.get("loyaltyType")),
        tier=tier,
        profiles=max(len(profiles), 1),
    )


def parse_status_log(body) -> tuple[StatusEntry | None, tuple[StatusEntry, ...]]:
    """Read a status log: ``(current, history newest first)``; current is None when it is empty.

    :raises LookupUnreadable: no ``data`` list.
    """
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise LookupUnreadable("The status log answer had no 'data' list.")
    entries = []
    for item in data:
        if isinstance(item, dict) and (_text(item.get("label")) or _text(item.get("status"))):
            entries.append(StatusEntry(
                label=_text(item.get("label")) or _text(item.get("status")),
                status=_text(item.get("status")),
                reason=_text(item.get("reason")),
                created_on=_text(item.get("createdOn")),
                created_by=_text(item.get("createdByUser")),
                is_active=item.get("isActive") is True,
            ))
    # The order is undocumented (the older example is oldest first): sort by createdOn, keep
    # the given order among equal or unreadable times.
    ordered = [e for _, e in sorted(enumerate(entries), key=lambda pair: (_sortable(pair[1].created_on), pair[0]),
                                    reverse=True)]
    current = next((e for e in ordered if e.is_active), ordered[0] if ordered else None)
    return current, tuple(ordered[:HISTORY_MAX])


def _sortable(created_on: str) -> str:
    """A sortable key for ``createdOn`` (ISO with ``Z`` or an offset): UTC when readable."""
    from datetime import UTC, datetime

    try:
        moment = datetime.fromisoformat(created_on.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


# -- the client ----------------------------------------------------------------------------------


class CustomerClient:
    """Look customers up and read their status logs on one Intouch host.

    :param base_url: the Intouch API host, e.g. ``https://eu.api.capillarytech.com``.
    :param authorization: a callable returning the till ``Authorization`` value (a secret).
    :param timeout: ``(connect, read)`` seconds, the gateway client's.
    :param mount: optional ``mount(session)`` hook (the in-process sandbox).
    :param cache: optional :class:`CustomerCache` for look-ups.
    """

    def __init__(self, base_url: str, authorization: Callable[[], str], *,
                 timeout: tuple[float, float] = (3.0, 15.0),
                 mount: Callable[[requests.Session], object] | None = None,
                 cache: CustomerCache | None = None):
        self.transport = Transport(base_url, timeout=timeout, mount=mount, service="Capillary's customer API")
        self._authorization = authorization
        self.cache = cache
        self._resting_until = 0.0  # time.monotonic() until which cached-path look-ups are not sent

    # After a call timed out, the status pages, queue rows and review pages that follow do not each
    # wait for the deadline again: for REST_SECONDS a look-up that may use the cache answers
    # "timeout" at once. A person's explicit "Find customer" (fresh) still asks.
    REST_SECONDS = 10.0

    def _headers(self) -> dict[str, str]:
        return {"Authorization": self._authorization(), "Accept": "application/json"}

    def _get(self, path: str, params: dict | None = None) -> dict:
        try:
            answer = self.transport.call("GET", path, self._headers(), params=params)
        except errors.GatewayUnreachable as exc:
            raise LookupUnreachable(exc.message, detail=exc.detail) from exc
        except errors.GatewayTimeout as exc:  # a lost connection too
            raise LookupTimeout(exc.message, detail=exc.detail) from exc
        except errors.UnreadableResponse as exc:
            raise LookupUnreadable(exc.message) from exc
        return _interpret(answer)

    def lookup(self, source: str, identifier_name: str, identifier_value: str, account_id: str = "") -> Customer:
        """Who has this identifier (without the status). Not cached.

        :raises CustomerError: a typed failure.
        """
        params = {"source": source, "identifierName": identifier_name, "identifierValue": identifier_value,
                  "embed": "mlp"}
        if account_id:
            params["accountId"] = account_id
        return parse_customer(self._get(LOOKUP_PATH, params), source)

    def status_log(self, customer_id: str) -> tuple[StatusEntry | None, tuple[StatusEntry, ...]]:
        """The customer's current status and history (newest first). Never cached.

        :raises CustomerError: a typed failure.
        """
        return parse_status_log(self._get(STATUS_LOG_PATH.format(id=quote(customer_id, safe=""))))

    def find(self, source: str, identifier_name: str, identifier_value: str, account_id: str = "",
             *, fresh: bool = False) -> Customer:
        """Look up and read the status log, through the cache unless ``fresh``.

        A definite answer (found, not found, invalid identifier) is cached; other failures are
        not, but after a timeout look-ups that may use the cache rest for :attr:`REST_SECONDS`.
        When the look-up works but the status log fails, the customer is returned with
        ``status_problem`` set to the failure's kind.

        :raises CustomerError: the look-up failed.
        """
        key = cache_key(source, identifier_name, identifier_value, account_id)
        if self.cache is not None and not fresh:
            cached = self.cache.get(key)
            if isinstance(cached, CustomerError):
                raise cached
            if cached is not None:
                return cached
        if not fresh and time.monotonic() < self._resting_until:
            raise LookupTimeout("Capillary's customer API did not answer in time moments ago; not asked again yet.")
        try:
            customer = self.lookup(source, identifier_name, identifier_value, account_id)
        except CustomerError as exc:
            self._rest_after(exc)
            if exc.definite and self.cache is not None:
                self.cache.put(key, exc)
            raise
        try:
            current, history = self.status_log(customer.id)
        except CustomerError as exc:
            self._rest_after(exc)
            return replace(customer, status_problem=exc.kind)
        customer = replace(customer, current=current, history=history)
        if self.cache is not None:
            self.cache.put(key, customer)
        return customer


    def _rest_after(self, exc: CustomerError) -> None:
        if isinstance(exc, LookupTimeout):
            self._resting_until = time.monotonic() + self.REST_SECONDS


def _interpret(answer: Answer) -> dict:
    """A 2xx JSON object without an error code is the answer; else the typed error."""
    body = parse_json(answer.raw)
    facts = error_facts(body) if isinstance(body, dict) and body.get("errors") else None
    code = facts.code if facts is not None else None
    said = facts.message if facts is not None else None
    if code in CODE_ERRORS:
        kind = CODE_ERRORS[code]
        raise kind(f"Capillary answered code {code} (HTTP {answer.status}): {said or 'no message'}.",
                   status=answer.status, detail=said, code=code)
    if answer.status in (401, 403):
        raise CredentialsRefused(f"Capillary refused the till credentials ({answer.status}).",
                                 status=answer.status, detail=said, code=code)
    if 200 <= answer.status < 300 and isinstance(body, dict) and facts is None:
        return body
    if 200 <= answer.status < 300:
        if facts is not None:
            raise LookupFailed(f"Capillary answered code {code}: {said or 'no message'}.",
                               status=answer.status, detail=said, code=code)
        raise LookupUnreadable("The customer API's answer was not a JSON object.", status=answer.status)
    raise LookupFailed(f"Capillary's customer API answered {answer.status}.", status=answer.status,
                       detail=said, code=code)


# -- the cache -----------------------------------------------------------------------------------


def cache_key(source: str, identifier_name: str, identifier_value: str, account_id: str = "") -> str:
    """The cache key of one customer (source + identifier, and account when set)."""
    return "|".join((source.upper(), identifier_name, identifier_value, account_id))


class CustomerCache:
    """A short-lived cache of look-ups (at most 60 s), in this process or in Redis when given one.

    Values are customers or definite errors (not found, invalid identifier). Entries live
    ``seconds``; nothing here is ever written to the database or a log.
    """

    MAX_SECONDS = 60
    MAX_ENTRIES = 1000

    def __init__(self, seconds: float, redis=None, prefix: str = "capreq"):
        self.seconds = min(max(seconds, 0.0), self.MAX_SECONDS)
        self._redis = redis
        self._prefix = f"{prefix}:customer:"
        self._local: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Customer | CustomerError | None:
        """The cached value, or None when absent or expired (or the cache is off or unreachable)."""
        if self.seconds <= 0:
            return None
        text = self._read(key)
        return _decode(text) if text is not None else None

    def put(self, key: str, value: Customer | CustomerError) -> None:
        """Remember ``value`` for ``seconds``."""
        if self.seconds <= 0:
            return
        text = value.to_json() if isinstance(value, Customer) else json.dumps(
            {"error": value.kind, "message": value.message, "status": value.status, "code": value.code})
        if self._redis is not None:
            try:
                self._redis.set(self._prefix + key, text, px=int(self.seconds * 1000))
                return
            except Exception:  # noqa: BLE001 - a cache failure must never break a look-up
                log.warning("customer cache: Redis is not answering; using this process's cache")
        with self._lock:
            self._local.pop(key, None)
            # Every entry lives the same time, so the first in (insertion order) is the first to
            # expire: only it goes when full. Emptying the whole cache at the limit made a page
            # of many customers ask Capillary for all of them again.
            while len(self._local) >= self.MAX_ENTRIES:
                del self._local[next(iter(self._local))]
            self._local[key] = (time.monotonic() + self.seconds, text)

    def forget(self, key: str) -> None:
        """Drop one entry (e.g. after the customer's status changed)."""
        if self._redis is not None:
            try:
                self._redis.delete(self._prefix + key)
            except Exception:  # noqa: BLE001
                log.warning("customer cache: Redis is not answering")
        with self._lock:
            self._local.pop(key, None)

    def _read(self, key: str) -> str | None:
        if self._redis is not None:
            try:
                raw = self._redis.get(self._prefix + key)
                if raw is not None:
                    return raw.decode("utf-8") if isinstance(raw, bytes) else raw
            except Exception:  # noqa: BLE001
                log.warning("customer cache: Redis is not answering; using this process's cache")
        with self._lock:
            found = self._local.get(key)
            if found is None:
                return None
            if found[0] <= time.monotonic():
                del self._local[key]
                return None
            return found[1]


_ERROR_KINDS = {cls.kind: cls for cls in (CustomerNotFound, InvalidIdentifier)}


def _decode(text: str) -> Customer | CustomerError | None:
    try:
        data = json.loads(text)
        if isinstance(data, dict) and "error" in data:
            cls = _ERROR_KINDS.get(data["error"])
            if cls is None:
                return None
            return cls(data.get("message") or "", status=data.get("status"), code=data.get("code"))
        return Customer.from_json(text)
    except (ValueError, TypeError, KeyError):
        return None
