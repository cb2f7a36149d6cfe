"""Record IDs from URLs, bounded to what the database can hold.

An ID past the column's range (``/requests/99999999999999999999``) made the database driver
raise (SQLite: OverflowError, a 500; PostgreSQL: "integer out of range", shown as "database
not available"). Such an ID can name no record, so it is simply not found.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

# Primary keys are INTEGER columns: 32-bit signed on PostgreSQL, the narrower of the two.
MAX_ID = 2**31 - 1


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


def init_app(app: Flask) -> None:
    """Make ``<int:...>`` in every route bounded; call before any blueprint is registered."""
    app.url_map.converters["int"] = RecordIdConverter
