"""The checker's queue: requests waiting in AdminTask, filtered, sorted and paged, with counts.

Each look first reads Capillary's list of waiting requests (§4.1, oldest first, a few pages):
requests made in Capillary's own UI are imported and each listed record is brought up to date.
When that list was read whole, records this app still thinks are waiting but Capillary no longer
lists (decided elsewhere, or gone after a sandbox reset) are left out; the sync settles them.
The page itself is a database query, so filters, sorting, counts and paging are exact and stable:
ties on the time are broken by the record id, and a bulk file can be shown in its line order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, case, func, select

from extensions import db
from gateway.errors import GatewayError
from gateway.payload import REQUEST_TYPE
from models import Decision, TrackedRequest, User, utcnow
from models.approvals import DECISION_FAILED
from models.batches import Batch
from services.lifecycle.adoption import import_unseen
from services.lifecycle.reconcile import list_all
from services.lifecycle.updates import RecordGone, apply_update
from services.lifecycle.wording import what_happened
from services.people import identity

log = logging.getLogger(__name__)

WAITING = "AdminTask"
SORTS = ("oldest", "newest", "file", "store", "label")
PAGE_SIZES = (25, 50, 100, 200)
# "waiting longer than": the age filter's choices, in seconds.
AGES = {"1h": 3600, "1d": 86400, "7d": 7 * 86400}
MAX_LIST_PAGES = 10  # how much of Capillary's list one look reads (1,000 requests at 100 a page)


@dataclass(frozen=True)
class QueueFilters:
    """What the checker asked the queue for; unknown values fall back to the defaults."""

    store: str = ""
    label: str = ""
    maker: str = ""  # "u<id>": this app's person; "c<name>": Capillary's maker user name
    batch: int | None = None
    age: str = ""  # a key of AGES: waiting longer than that
    sort: str = "oldest"
    size: int = PAGE_SIZES[0]
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> QueueFilters:
        """Read filters from query arguments, ignoring what is not understood."""
        def number(name: str) -> int | None:
            text = (args.get(name) or "").strip()
            return int(text) if text.isdigit() and len(text) < 10 else None

        size = number("size")
        age, sort = args.get("age") or "", args.get("sort") or ""
        return cls(
            store=(args.get("store") or "").strip()[:64],
            label=(args.get("label") or "").strip()[:128],
            maker=(args.get("maker") or "").strip()[:256],
            batch=number("batch"),
            age=age if age in AGES else "",
            sort=sort if sort in SORTS else "oldest",
            size=size if size in PAGE_SIZES else PAGE_SIZES[0],
            page=max(number("page") or 1, 1),
        )

    def args(self, **changes) -> dict:
        """The filters as query arguments (defaults left out), with ``changes`` applied."""
        values = replace(self, **changes)
        out: dict = {"store": values.store, "label": values.label, "maker": values.maker,
                     "batch": values.batch, "age": values.age}
        out = {k: v for k, v in out.items() if v}
        if values.sort != "oldest":
            out["sort"] = values.sort
        if values.size != PAGE_SIZES[0]:
            out["size"] = values.size
        if values.page != 1:
            out["page"] = values.page
        return out

    @property
    def active(self) -> int:
        """How many filters narrow the queue (sorting and paging not counted)."""
        return sum(bool(v) for v in (self.store, self.label, self.maker, self.batch, self.age))


@dataclass(frozen=True)
class Option:
    """One choice of a filter, with how many waiting requests it would show."""

    value: str
    text: str
    count: int


@dataclass
class QueuePage:
    """One page of the checker's queue."""

    records: list[TrackedRequest]
    filters: QueueFilters
    total: int  # matching the filters
    waiting: int  # in the whole queue
    pages: int
    options: dict[str, list[Option]] = field(default_factory=dict)
    error: str | None = None  # Capillary's list could not be read: the last known queue is shown
    imported: int = 0

    @property
    def page(self) -> int:
        """The page shown (from 1)."""
        return self.filters.page


def queue_page(filters: QueueFilters, *, actor: User | None) -> QueuePage:
    """Read Capillary's waiting list, then return the page of the queue ``filters`` ask for.

    Never raises a gateway error: when the list cannot be read, the last known queue is shown
    with the reason.
    """
    listed, imported, error = read_waiting(actor)
    base = waiting_query(listed)
    matching = apply_filters(base, filters)
    total = _count(matching)
    size = filters.size
    pages = max((total + size - 1) // size, 1)
    filters = replace(filters, page=min(filters.page, pages))
    records = db.session.scalars(
        matching.order_by(*sort_columns(filters.sort)).limit(size).offset((filters.page - 1) * size)
    ).all()
    return QueuePage(list(records), filters, total, _count(base), pages,
                     options=filter_options(base, filters), error=error, imported=imported)


def read_waiting(actor: User | None) -> tuple[set[str] | None, int, str | None]:
    """Read Capillary's waiting list with the checker's token; import and update what it lists.

    Returns ``(requestIds when the list was read whole, else None; imported count; error words)``.
    """
    size = current_app.config["CAP_SYNC_PAGE_SIZE"]
    try:
        items, fetched = list_all(
            {"states": [WAITING], "request_type": REQUEST_TYPE, "sort_by": "startDate", "sort_order": "asc"},
            page_size=size, max_pages=MAX_LIST_PAGES, token=identity.checker_token(actor),
        )
    except GatewayError as exc:
        return None, 0, what_happened(exc.kind, exc.code)  # in the reader's words, never the gateway's
    records, imported = import_unseen(items)
    for info in items:
        record = records.get(info.requestId)
        if record is None:
            continue
        try:
            if apply_update(record, info):  # e.g. a stale 'unknown' decision settles here
                log.info("request %s changed while listing approvals", record.id)
        except RecordGone:  # an imported copy, merged into its submission meanwhile
            pass
        db.session.commit()  # one row lock at a time (PostgreSQL), as the sync takes them
    whole = len(items) < fetched * size or fetched < MAX_LIST_PAGES
    return ({info.requestId for info in items} if whole else None), imported, None


def waiting_query(listed: set[str] | None = None) -> Select:
    """Every record waiting for a decision (narrowed to ``listed`` requestIds when given)."""
    query = select(TrackedRequest).where(TrackedRequest.state == WAITING, TrackedRequest.request_id.is_not(None))
    if listed is not None:
        query = query.where(TrackedRequest.request_id.in_(sorted(listed)))
    return query


def _started():
    # How long it has waited: from Capillary's start time, else from when this app stored it.
    return func.coalesce(TrackedRequest.start_time, TrackedRequest.created_at)


def apply_filters(query: Select, filters: QueueFilters, *, skip: str = "", now: datetime | None = None) -> Select:
    """Narrow ``query`` by ``filters`` (all but the one named ``skip``, for its counts)."""
    if filters.store and skip != "store":
        query = query.where(TrackedRequest.store_id == filters.store)
    if filters.label and skip != "label":
        query = query.where(TrackedRequest.label == filters.label)
    if filters.maker and skip != "maker":
        kind, value = filters.maker[0], filters.maker[1:]
        if kind == "u" and value.isdigit():
            query = query.where(TrackedRequest.submitted_by_id == int(value))
        elif kind == "c":
            query = query.where(TrackedRequest.maker_user_name == value)
    if filters.batch and skip != "batch":
        query = query.where(TrackedRequest.batch_id == filters.batch)
    if filters.age and skip != "age":
        query = query.where(_started() <= (now or utcnow()) - timedelta(seconds=AGES[filters.age]))
    return query


def sort_columns(sort: str) -> tuple:
    """ORDER BY columns for a sort; each ends with the id, so equal times keep one order."""
    started = _started()
    if sort == "newest":
        return started.desc(), TrackedRequest.id.desc()
    if sort == "file":  # a bulk file's rows in their line order, the files oldest first
        return (case((TrackedRequest.batch_id.is_(None), 1), else_=0), TrackedRequest.batch_id,
                TrackedRequest.batch_line, started, TrackedRequest.id)
    if sort == "store":
        return TrackedRequest.store_id, started, TrackedRequest.id
    if sort == "label":
        return TrackedRequest.label, started, TrackedRequest.id
    return started, TrackedRequest.id


def _count(query: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def filter_options(base: Select, filters: QueueFilters) -> dict[str, list[Option]]:
    """Each filter's choices with their counts, the other filters applied (so a count is what you get)."""
    options: dict[str, list[Option]] = {}
    for name, column in (("store", TrackedRequest.store_id), ("label", TrackedRequest.label),
                         ("batch", TrackedRequest.batch_id)):
        sub = apply_filters(base, filters, skip=name).subquery()
        rows = db.session.execute(
            select(sub.c[column.key], func.count()).group_by(sub.c[column.key]).order_by(sub.c[column.key])
        ).all()
        options[name] = [Option(str(value), str(value), count) for value, count in rows if value]
    files = dict(db.session.execute(select(Batch.id, Batch.filename).where(
        Batch.id.in_([int(o.value) for o in options["batch"]]))).tuples().all()) if options["batch"] else {}
    options["batch"] = [Option(o.value, files.get(int(o.value), ""), o.count) for o in options["batch"]]
    options["maker"] = _maker_options(base, filters)
    now = utcnow()
    options["age"] = [Option(key, key, _count(apply_filters(base, replace(filters, age=key), now=now)))
                      for key in AGES]
    for name in options:  # first, "any": what the other filters alone show
        options[name].insert(0, Option("", "", _count(apply_filters(base, filters, skip=name, now=now))))
    return options


def _maker_options(base: Select, filters: QueueFilters) -> list[Option]:
    sub = apply_filters(base, filters, skip="maker").subquery()
    people = db.session.execute(
        select(sub.c.submitted_by_id, User.display_name, User.username, func.count())
        .join(User, User.id == sub.c.submitted_by_id)
        .group_by(sub.c.submitted_by_id, User.display_name, User.username).order_by(User.display_name, User.username)
    ).all()
    makers = db.session.execute(
        select(sub.c.maker_user_name, func.count()).where(sub.c.maker_user_name.is_not(None))
        .group_by(sub.c.maker_user_name).order_by(sub.c.maker_user_name)
    ).all()
    return ([Option(f"u{pk}", display or username, count) for pk, display, username, count in people]
            + [Option(f"c{name}", name, count) for name, count in makers if name])


def matching_records(filters: QueueFilters, listed: set[str] | None = None) -> list[TrackedRequest]:
    """Every waiting record matching ``filters`` (no paging), in the filters' sort order."""
    query = apply_filters(waiting_query(listed), filters)
    return list(db.session.scalars(query.order_by(*sort_columns(filters.sort))))


def waiting_records(ids: set[int], sort: str = "oldest") -> list[TrackedRequest]:
    """Those of ``ids`` still waiting, in the order of ``sort``."""
    query = waiting_query().where(TrackedRequest.id.in_(sorted(ids)))
    return list(db.session.scalars(query.order_by(*sort_columns(sort))))


def next_waiting(after: TrackedRequest | None, *, viewer: User | None) -> TrackedRequest | None:
    """The oldest waiting request ``viewer`` may decide, other than ``after`` (approve-and-next)."""
    query = waiting_query()
    if after is not None:
        query = query.where(TrackedRequest.id != after.id)
    if viewer is not None and viewer.id is not None:
        # Their own requests are for another checker (maker-checker rule).
        query = query.where((TrackedRequest.submitted_by_id.is_(None)) | (TrackedRequest.submitted_by_id != viewer.id))
    # Not one already claimed or sent by this app (another checker, or a multi-decision job, has it).
    query = query.where(~select(Decision.id).where(Decision.request_id == TrackedRequest.request_id,
                                                   Decision.status != DECISION_FAILED).exists())
    return db.session.scalars(query.order_by(*sort_columns("oldest")).limit(1)).first()
