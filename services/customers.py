"""Know the customer: who they are, their status now, and this app's open requests for them.

The pages ask :func:`card` (form, review, status page, checker) and :func:`checks` (review and
create). The look-up itself is :mod:`gateway.customers` (cached for at most a minute), so the
review page, the submit and the status page do not ask Capillary three times. Nothing here
stores a customer's name: it lives in memory and in that short cache only.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

from flask import current_app
from sqlalchemy import bindparam, select

import gateway_setup
from extensions import db
from gateway.customers import Customer, CustomerError
from gateway.payload import StatusChange
from models import SENDING, UNKNOWN, TrackedRequest

log = logging.getLogger(__name__)

# States in which a request for the customer is still open (made here or imported).
OPEN_STATES = (SENDING, UNKNOWN, "AdminTask")
OPEN_SHOWN = 10
PREFETCH_WORKERS = 6  # look-ups at once for a queue page


class OpenRequest(NamedTuple):
    """One of the customer's open requests as a card lists it (and as permissions.can_view reads it)."""

    id: int
    label: str
    state: str
    origin: str
    store_id: str
    submitted_by_id: int | None


@dataclass(frozen=True)
class Card:
    """What a page shows about one customer.

    ``customer`` is None when the look-up failed; ``problem`` then names the failure's kind and
    ``definite`` says the identifier itself is wrong (not found, invalid).
    """

    identifier_name: str
    identifier_value: str
    customer: Customer | None = None
    problem: str | None = None
    definite: bool = False
    open_requests: tuple[OpenRequest, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Checks:
    """The review page's checks for one change: what blocks it and what needs a tick."""

    card: Card
    blocked: bool = False  # definite not found / invalid identifier
    may_override: bool = False  # CAP_ALLOW_UNKNOWN_CUSTOMER: a tick submits anyway
    noop: bool = False  # the new label is the current one
    duplicate: bool = False  # another open request for the same customer
    lookup_failed: bool = False  # the look-up failed for another reason: a notice only

    @property
    def ticks(self) -> tuple[str, ...]:
        """The names of the ticks Submit needs."""
        needed = []
        if self.blocked and self.may_override:
            needed.append("confirm_unknown")
        if self.noop:
            needed.append("confirm_noop")
        if self.duplicate:
            needed.append("confirm_duplicate")
        return tuple(needed)


def enabled() -> bool:
    """Whether customer cards and checks are on (``CAP_CUSTOMER_LOOKUP``)."""
    return bool(current_app.config["CAP_CUSTOMER_LOOKUP"])


def card(identifier_name: str, identifier_value: str, source: str = "INSTORE", account_id: str = "", *,
         exclude_pk: int | None = None, fresh: bool = False) -> Card | None:
    """Look the customer up (through the cache unless ``fresh``); None when look-ups are off.

    Never raises for a gateway failure: the card then carries the problem's kind.
    """
    if not enabled():
        return None
    opened = open_requests(identifier_name, identifier_value, exclude_pk=exclude_pk)
    try:
        found = gateway_setup.customer_client().find(source or "INSTORE", identifier_name, identifier_value,
                                                     account_id, fresh=fresh)
    except CustomerError as exc:
        # The kind and code only: never the identifier with a name, never the name.
        log.info("customer look-up failed", extra={"kind": exc.kind, "code": exc.code})
        return Card(identifier_name, identifier_value, problem=exc.kind, definite=exc.definite,
                    open_requests=opened)
    return Card(identifier_name, identifier_value, customer=found, open_requests=opened)


def prefetch(records, workers: int = PREFETCH_WORKERS) -> None:
    """Look the customers of ``records`` up at the same time, into the cache (a queue page's rows).

    Each row's :func:`card` then reads the cache instead of asking Capillary one row after
    another. Failures are left for the row to show; nothing is returned.
    """
    if not enabled():
        return
    client = gateway_setup.customer_client()
    wanted = {(r.source or "INSTORE", r.identifier_name, r.identifier_value, r.account_id or "") for r in records}
    if len(wanted) < 2:
        return

    def look_up(key: tuple[str, str, str, str]) -> None:
        try:
            client.find(*key)
        except CustomerError:
            pass  # the row shows it

    with ThreadPoolExecutor(max_workers=min(workers, len(wanted))) as pool:
        list(pool.map(look_up, sorted(wanted)))


def card_for_change(change: StatusChange, **options) -> Card | None:
    """:func:`card` for the customer of ``change``."""
    return card(change.identifierName, change.identifierValue, change.source, change.accountId, **options)


def open_requests(identifier_name: str, identifier_value: str, *,
                  exclude_pk: int | None = None) -> tuple[OpenRequest, ...]:
    """This app's open requests (sending, unknown, AdminTask; imported ones too) for the customer.

    Only the listed columns are read: whole records (with their JSON bodies) cost ten times as
    much, and a customer with several open requests is on every page of the duplicate's review,
    submit and status.
    """
    query = _OPEN_REQUESTS[exclude_pk is not None]
    values = {"name": identifier_name, "value": identifier_value, "exclude": exclude_pk}
    return tuple(OpenRequest(*row) for row in db.session.execute(query, values))


def _open_requests_query(excluding: bool):
    query = (select(*(getattr(TrackedRequest, name) for name in OpenRequest._fields))
             .where(TrackedRequest.identifier_value == bindparam("value"),
                    TrackedRequest.identifier_name == bindparam("name"),
                    TrackedRequest.state.in_(OPEN_STATES))
             .order_by(TrackedRequest.created_at.desc(), TrackedRequest.id.desc())
             .limit(OPEN_SHOWN))
    return query.where(TrackedRequest.id != bindparam("exclude")) if excluding else query


# Built once (see my_requests._BADGE_COUNT): every status page and review page runs one.
_OPEN_REQUESTS = {False: _open_requests_query(False), True: _open_requests_query(True)}


def checks(change: StatusChange) -> Checks | None:
    """The checks of the review page (and of the create POST) for ``change``; None when off."""
    found = card_for_change(change)
    if found is None:
        return None
    current = found.customer.current if found.customer is not None else None
    return Checks(
        card=found,
        blocked=found.definite,
        may_override=bool(current_app.config["CAP_ALLOW_UNKNOWN_CUSTOMER"]),
        noop=current is not None and current.label.casefold() == change.label.casefold(),
        duplicate=bool(found.open_requests),
        lookup_failed=found.problem is not None and not found.definite,
    )


def capillary_time(text: str | None):
    """Read one of Capillary's customer-API times (ISO, ``Z`` or an offset) as naive UTC; None if unreadable.

    A time without a zone is read as UTC (undocumented, §10).
    """
    from datetime import UTC, datetime

    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment
