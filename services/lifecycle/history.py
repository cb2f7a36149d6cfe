"""The request history: filtered, sorted, keyset-paged queries that stay fast at 100k+ rows.

Every filter is an equality (or a range on ``created_at``) that matches the leading columns of
one of TrackedRequest's ``(column, created_at, id)`` indexes (the identifier search by part
uses a trigram index on PostgreSQL), and pages are fetched by keyset
(``WHERE (sort_value, id) < (last seen)``) rather than OFFSET, so a page costs one short index
range scan however deep it is. The match count is capped (:data:`COUNT_LIMIT`): counting
stops early instead of scanning every matching row on every page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, func, or_, select

from extensions import db
from i18n import local_day_start
from models import TrackedRequest, User
from services.people import permissions

PAGE_SIZE = 25
COUNT_LIMIT = 1_000
EXPORT_CHUNK = 500
# Record ids are INTEGER columns (32-bit signed on PostgreSQL): a cursor naming a larger one is damaged.
MAX_RECORD_ID = 2**31 - 1
MAKERS_LIMIT = 200

# sort key -> (column attribute name, descending?, words)
SORTS = {
    "newest": ("created_at", True, _l("Newest first")),
    "oldest": ("created_at", False, _l("Oldest first")),
    "updated": ("updated_at", True, _l("Recently updated first")),
    "updated_oldest": ("updated_at", False, _l("Least recently updated first")),
}


@dataclass(frozen=True)
class Filters:
    """What a person asked the history for (all optional; values already cleaned)."""

    state: str | None = None
    store: str | None = None
    label: str | None = None
    origin: str | None = None
    submitted_by: str | None = None
    identifier_values: tuple[str, ...] = ()  # the search term and its normalised forms
    identifier_parts: tuple[str, ...] = ()  # lower-cased parts the identifier contains (3+ characters)
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "newest"


@dataclass(frozen=True)
class Cursor:
    """A position in one sort order: the last (or first) row's sort value and id."""

    value: datetime
    id: int

    def encode(self) -> str:
        """Return the cursor as an opaque URL-safe token."""
        raw = f"{self.value.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, token: str | None) -> Cursor | None:
        """Read a token made by :meth:`encode`; None when absent or damaged."""
        if not token or len(token) > 100:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
            value, _, ident = raw.partition("|")
            moment, number = datetime.fromisoformat(value), int(ident)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        # Made by encode() only from a stored row: naive UTC, and an id the database can hold.
        if moment.tzinfo is not None or not 0 < number <= MAX_RECORD_ID:
            return None
        return cls(moment, number)


@dataclass
class Page:
    """One page of history and the links around it."""

    records: list[TrackedRequest]
    next_cursor: str | None  # older (further along the sort)
    prev_cursor: str | None  # newer (back towards the start)
    count: int
    count_capped: bool  # True: at least ``count`` rows match


def filtered(filters: Filters, viewer: User | None) -> Select:
    """Return ``SELECT tracked_requests WHERE <filters>`` as ``viewer`` may see it (no order, no limit).

    ``viewer`` None sees everything (the command line, tests).
    """
    model = TrackedRequest
    conditions = []
    for column, value in ((model.state, filters.state), (model.store_id, filters.store),
                          (model.label, filters.label), (model.origin, filters.origin)):
        if value:
            conditions.append(column == value)
    if filters.submitted_by:
        # Who submitted: the app's user, or Capillary's maker for requests made elsewhere.
        conditions.append(or_(model.submitted_by == filters.submitted_by,
                              model.maker_user_name == filters.submitted_by))
    if filters.identifier_values or filters.identifier_parts:
        conditions.append(_identifier_matches(filters.identifier_values, filters.identifier_parts))
    # Dates are days in the person's time zone; stored times are UTC.
    if filters.date_from:
        conditions.append(model.created_at >= local_day_start(filters.date_from))
    if filters.date_to:
        conditions.append(model.created_at < local_day_start(filters.date_to + timedelta(days=1)))
    stmt = select(model).where(*conditions)
    # Store scope: a maker sees only their own stores' requests (page, count and CSV alike).
    return permissions.visible(stmt, viewer) if viewer is not None else stmt


def _identifier_matches(values: tuple[str, ...], parts: tuple[str, ...]):
    """The identifier is one of ``values``, or contains one of ``parts`` (lower case) in any case.

    ``lower(identifier_value) LIKE '%part%'`` is the expression the trigram index of migration
    0013 covers on PostgreSQL. SQLite has no such index and scans; its LIKE already ignores
    ASCII case (and its lower() knows no other), so it skips lower(), which halves the scan.
    """
    options = [TrackedRequest.identifier_value.in_(values)] if values else []
    column = TrackedRequest.identifier_value
    target = column if db.session.get_bind().dialect.name == "sqlite" else func.lower(column)
    options += [target.like(f"%{_escape_like(part)}%", escape="\\") for part in parts]
    return or_(*options)


def _escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards taken literally (an e-mail's ``_`` is a character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def submitters(limit: int = MAKERS_LIMIT) -> tuple[list[User], list[str]]:
    """Who may have submitted requests: this app's people, and the other names the history has.

    The other names are Capillary's makers (of requests made there or imported) and names a
    person had when submitting, each list read with one index seek per name (a loose index scan
    over ``ix_tracked_requests_maker_created`` / ``…_submitted_by_created``), so it costs the
    same at 1M rows.
    """
    people = list(db.session.scalars(select(User).order_by(func.lower(User.display_name), User.username)))
    names = {person.name for person in people}
    seen = set(_distinct(TrackedRequest.maker_user_name, limit)) | set(_distinct(TrackedRequest.submitted_by, limit))
    return people, sorted(seen - names, key=str.lower)[:limit]


def _distinct(column, limit: int) -> list[str]:
    """The first ``limit`` distinct values of an indexed column, one index seek each."""
    walk = select(func.min(column).label("name")).cte(f"distinct_{column.key}", recursive=True)
    following = select(func.min(column)).where(column > walk.c.name).scalar_subquery()
    walk = walk.union_all(select(following).where(walk.c.name.is_not(None)))
    return list(db.session.scalars(select(walk.c.name).where(walk.c.name.is_not(None)).limit(limit)))


def _sort_columns(sort: str):
    name, descending, _ = SORTS.get(sort, SORTS["newest"])
    return getattr(TrackedRequest, name), descending


def _after(column, descending: bool, cursor: Cursor):
    """Rows strictly after ``cursor`` in the sort order.

    Written as ``col <= v AND (col < v OR id < i)`` rather than a row-value comparison: the
    first term is an index range on every database, the second only trims the boundary.
    """
    ident = TrackedRequest.id
    if descending:
        return and_(column <= cursor.value, or_(column < cursor.value, ident < cursor.id))
    return and_(column >= cursor.value, or_(column > cursor.value, ident > cursor.id))


def page(filters: Filters, *, viewer: User | None, after: str | None = None, before: str | None = None,
         size: int = PAGE_SIZE) -> Page:
    """Return the page after cursor ``after`` (or before ``before``, or the first page)."""
    column, descending = _sort_columns(filters.sort)
    query = filtered(filters, viewer)
    backwards = False
    cursor = Cursor.decode(after)
    if cursor is not None:
        query = query.where(_after(column, descending, cursor))
    elif (cursor := Cursor.decode(before)) is not None:
        backwards = True
        query = query.where(_after(column, not descending, cursor))
    walk_descending = descending != backwards
    order = (column.desc(), TrackedRequest.id.desc()) if walk_descending else (column.asc(), TrackedRequest.id.asc())
    rows = list(db.session.scalars(query.order_by(*order).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    has_next = more if not backwards else True
    has_prev = (cursor is not None) if not backwards else more
    count, capped = count_matching(filters, viewer)

    def token(record: TrackedRequest) -> str:
        return Cursor(getattr(record, column.key), record.id).encode()

    return Page(
        records=rows,
        next_cursor=token(rows[-1]) if rows and has_next else None,
        prev_cursor=token(rows[0]) if rows and has_prev else None,
        count=count,
        count_capped=capped,
    )


def count_matching(filters: Filters, viewer: User | None, limit: int = COUNT_LIMIT) -> tuple[int, bool]:
    """Count matching rows up to ``limit``; return ``(count, capped)``."""
    limited = filtered(filters, viewer).with_only_columns(TrackedRequest.id).limit(limit + 1).subquery()
    found = db.session.scalar(select(func.count()).select_from(limited)) or 0
    return min(found, limit), found > limit


def iter_matching(filters: Filters, viewer: User | None, chunk: int = EXPORT_CHUNK) -> Iterator[TrackedRequest]:
    """Yield every matching record in the sort order, fetched ``chunk`` rows at a time by keyset."""
    column, descending = _sort_columns(filters.sort)
    order = (column.desc(), TrackedRequest.id.desc()) if descending else (column.asc(), TrackedRequest.id.asc())
    cursor: Cursor | None = None
    while True:
        query = filtered(filters, viewer)
        if cursor is not None:
            query = query.where(_after(column, descending, cursor))
        rows = list(db.session.scalars(query.order_by(*order).limit(chunk)))
        yield from rows
        if len(rows) < chunk:
            return
        cursor = Cursor(getattr(rows[-1], column.key), rows[-1].id)
        db.session.expunge_all()  # keep memory flat over a long export
