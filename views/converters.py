"""Record IDs and page numbers from URLs, bounded to what the database can hold.

An ID past the column's range (``/requests/99999999999999999999``) made the database driver
raise (SQLite: OverflowError, a 500; PostgreSQL: "integer out of range", shown as "database
not available"). Such an ID can name no record, so it is simply not found. A page number
(``?page=99999999999999999999``) became an OFFSET past the same range: it is clamped. A date
filter at the calendar's edge (``?date_to=9999-12-31``: the day after it, or its start in the
person's time zone, is past what Python's dates hold) is clamped to years any record can have.
"""

from __future__ import annotations

from datetime import date

from flask import Flask
from werkzeug.routing import IntegerConverter

# Primary keys are INTEGER columns: 32-bit signed on PostgreSQL, the narrower of the two.
MAX_ID = 2**31 - 1
# Far past any real list (100,000 pages of 50 rows), and its OFFSET well within range.
MAX_PAGE = 100_000
# Date filters are clamped to these days: no record is older or newer, and a day either side
# (a time zone, "up to and including") stays well inside what ``datetime`` holds.
EARLIEST_DAY, LATEST_DAY = date(1970, 1, 1), date(2999, 12, 31)


class RecordIdConverter(IntegerConverter):
    """``<int:...>`` that does not match above :data:`MAX_ID` (so the URL is a plain 404)."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's parameter name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def record_id(text: str) -> int:
    """``type=`` for ``request.args.get``: a positive ID within range, else ValueError (so None)."""
    value = int(text)
    if not 0 < value <= MAX_ID:
        raise ValueError(f"{text!r} is not a record ID")
    return value


def page_number(text: str) -> int:
    """``type=`` for ``request.args.get``: a page number clamped to 1..MAX_PAGE (ValueError if not a number)."""
    return min(max(int(text), 1), MAX_PAGE)


def clamp_day(day: date | None) -> date | None:
    """A date filter's day within EARLIEST_DAY..LATEST_DAY (None stays None)."""
    return None if day is None else min(max(day, EARLIEST_DAY), LATEST_DAY)


def init_app(app: Flask) -> None:
    """Make ``<int:...>`` in every route bounded; call before any blueprint is registered."""
    app.url_map.converters["int"] = RecordIdConverter
