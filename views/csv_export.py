"""CSV downloads: streamed row by row, every cell safe to open in a spreadsheet.

One helper for every export (the history, a bulk file's results, the audit trail), so each
one guards *every* cell the same way. A cell starting with ``= + - @``, a tab or a carriage
return would run as a formula in Excel or LibreOffice (CSV injection, OWASP): it is prefixed
with ``'``. (defusedcsv guards a different set and misses tab and carriage return.)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator

from flask import Response, stream_with_context

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Rows are sent in chunks of about this many characters, so memory stays flat on a big export.
CHUNK_CHARS = 32 * 1024


def safe_cell(value: object) -> str:
    """Return ``value`` as text a spreadsheet shows as text (never runs as a formula)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """Yield the CSV text (the header, then every row, each cell guarded) in chunks."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
        if buffer.tell() >= CHUNK_CHARS:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def csv_download(filename: str, header: Iterable[str], rows: Callable[[], Iterable[Iterable[object]]]) -> Response:
    """Return a streamed CSV download of ``rows()``.

    ``rows`` is called while the response streams, inside the request's context, so a query it
    runs stays open only as long as the download (and is closed if the download is cut short).
    """

    def generate() -> Iterator[str]:
        found = rows()
        try:
            yield from csv_lines(header, found)
        finally:
            close = getattr(found, "close", None)
            if close is not None:
                close()  # e.g. a server-side cursor of a download cut short

    return Response(stream_with_context(generate()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"})
