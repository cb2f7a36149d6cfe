"""Read an uploaded CSV of status changes as a stream and check every row with the form's rules.

The file is never held whole: rows are decoded, parsed and checked one at a time, so memory
stays flat however many rows there are. A file that cannot be read as the template's CSV
raises :class:`BadFile` with a message saying what is wrong and what to do; a readable file
yields one :class:`CheckedRow` per line, valid or with its errors (line, column, message).
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import BinaryIO

from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from forms import validators as rules
from gateway.payload import IDENTIFIER_NAMES, StatusChange

REQUIRED_COLUMNS = (
    "tillId", "storeId", "zoneId", "conceptId", "identifierName", "identifierValue", "label", "reason",
)
OPTIONAL_COLUMNS = ("source", "accountId")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
MAX_BYTES = 5 * 1024 * 1024
# A value longer than this is kept cut short (it fails the rules anyway).
MAX_STORED_VALUE = 600
# At most this much of a bad value is repeated in its error message.
SHOWN_VALUE = 80
# Signatures of files people upload by mistake instead of a CSV, and what to say about each.
_NOT_CSV = (
    (b"PK\x03\x04", _l("This looks like an Excel workbook (.xlsx) or another zip file, not a CSV file.")),
    (b"\xd0\xcf\x11\xe0", _l("This looks like an old Excel workbook (.xls), not a CSV file.")),
    (b"%PDF", _l("This looks like a PDF document, not a CSV file.")),
)
_SAVE_AS = _l("In Excel use File › Save As › “CSV UTF-8 (Comma delimited) (*.csv)”.")


def _with_save_as(sentence) -> str:
    """A problem sentence followed by how to save a CSV from Excel (each translated whole)."""
    return f"{sentence} {_SAVE_AS}"


class BadFile(ValueError):
    """The upload cannot be read as the template's CSV; ``str(exc)`` says why and what to do."""


@dataclass
class CheckedRow:
    """One line of the file: the values as written and either a StatusChange or errors."""

    line: int
    values: dict[str, str]
    change: StatusChange | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def dedupe_key(self) -> str | None:
        """The customer this row changes; two valid rows with one key are duplicates."""
        if self.change is None:
            return None
        return f"{self.change.identifierName}:{self.change.identifierValue}"[:200]

    def change_dict(self) -> dict | None:
        """The checked request as a plain dict (stored, then rebuilt when the row is sent)."""
        return asdict(self.change) if self.change is not None else None


@dataclass(frozen=True)
class Rules:
    """The deployment's settings the form's rules depend on."""

    labels: tuple[str, ...]
    default_source: str
    phone_region: str

    @classmethod
    def from_config(cls, config) -> Rules:
        """Read them from a Flask config."""
        return cls(tuple(config["CAP_STATUS_LABELS"]), config["CAP_SOURCE"], config["CAP_PHONE_REGION"])


def _with_value(problem: str, value: str | None) -> str:
    """The problem followed by the value the file has, so the error table shows what to fix."""
    value = (value or "").strip()
    if not value:
        return problem
    if len(value) > SHOWN_VALUE:
        value = value[:SHOWN_VALUE] + "…"
    return _("%(problem)s The file has “%(value)s”.", problem=problem, value=value)


def check_values(values: dict[str, str], settings: Rules) -> tuple[StatusChange | None, list[tuple[str, str]]]:
    """Check one row with the form's ``clean_*`` rules; return the request or (column, message) errors."""
    errors: list[tuple[str, str]] = []

    def take(column: str, clean, *args):
        try:
            return clean(values.get(column), *args)
        except ValueError as exc:
            errors.append((column, _with_value(str(exc), values.get(column))))
            return None

    entity = {name: take(name, rules.clean_entity_id, title) for name, title in (
        ("tillId", _l("Till ID")), ("storeId", _l("Store ID")), ("zoneId", _l("Zone ID")),
        ("conceptId", _l("Concept ID")))}
    identifier_name = (values.get("identifierName") or "").strip()
    identifier_value = ""
    if identifier_name not in IDENTIFIER_NAMES:
        errors.append(("identifierName", _("Use one of: %(names)s (got “%(got)s”).",
                                           names=", ".join(IDENTIFIER_NAMES), got=identifier_name)))
    else:
        identifier_value = take("identifierValue", lambda value: rules.clean_identifier(
            identifier_name, value, settings.phone_region))
    label = (values.get("label") or "").strip()
    if label not in settings.labels:
        errors.append(("label", _("Use one of the status labels: %(labels)s (got “%(got)s”).",
                                  labels=", ".join(settings.labels), got=label)))
    reason = take("reason", rules.clean_reason)
    source = take("source", rules.clean_source, settings.default_source)
    account_id = take("accountId", rules.clean_account_id)
    if errors:
        return None, errors
    return StatusChange(
        identifierName=identifier_name, identifierValue=identifier_value, label=label, reason=reason,
        source=source, accountId=account_id, **entity,
    ), []


def read_rows(stream: BinaryIO, settings: Rules, *, max_rows: int, notices: list[str]) -> Iterator[CheckedRow]:
    """Yield every data row of the CSV in ``stream``, checked.

    :param notices: filled with remarks on how the file was read (BOM, separator, extra columns).
    :raises BadFile: when the file is not a readable CSV of the template's columns, or has
        more than ``max_rows`` rows (raised while iterating: stop using what was yielded).
    """
    head = stream.read(4096)
    if not head.strip():
        raise BadFile(_("The file is empty. Download the template, add one row per customer, and upload it again."))
    _refuse_non_text(head)
    if head.startswith(codecs.BOM_UTF8):
        notices.append(_("The file starts with a byte-order mark (as Excel writes it); it was ignored."))
    raw = io.BufferedReader(_Prefixed(head, stream))
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    line_number = 1
    try:
        header_line = text.readline()
        delimiter = _delimiter(header_line, notices)
        columns = _columns(next(csv.reader([header_line], delimiter=delimiter), []), notices)
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        count = 0
        while True:
            line_number = reader.line_num + 2  # the header is line 1
            record = next(reader, None)
            if record is None:
                break
            if not any(cell.strip() for cell in record):
                continue  # a blank line
            count += 1
            if count > max_rows:
                raise BadFile(_("The file has more than %(rows)s rows. Split it into files of at most "
                                "%(rows)s rows and upload each one.", rows=format_decimal(max_rows)))
            yield _checked(line_number, columns, record, settings)
    except UnicodeDecodeError:
        raise BadFile(_with_save_as(_("The file is not UTF-8 text (the problem is on or after line %(line)d).",
                                      line=line_number))) from None
    except csv.Error as exc:
        raise BadFile(_("Line %(line)d cannot be read as CSV (%(error)s). Check for a stray double quote "
                        "or an unfinished quoted value.", line=line_number, error=exc)) from None
    if count == 0:
        raise BadFile(_("The file has a header but no rows. Add one row per customer under the header."))


def _refuse_non_text(head: bytes) -> None:
    for signature, problem in _NOT_CSV:
        if head.startswith(signature):
            raise BadFile(_with_save_as(problem))
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise BadFile(_with_save_as(_("The file is UTF-16 text (Excel's “Unicode Text”), not UTF-8.")))
    if b"\x00" in head:
        raise BadFile(_with_save_as(_("The file contains binary data, so it is not a CSV text file.")))


def _delimiter(header_line: str, notices: list[str]) -> str:
    """Commas, as the template has; semicolons or tabs only when the header clearly uses them."""
    for other, notice in (
        (";", _l("The columns are separated by semicolons instead of commas; the file was read that way.")),
        ("\t", _l("The columns are separated by tabs instead of commas; the file was read that way.")),
    ):
        if other in header_line and "," not in header_line:
            notices.append(str(notice))  # stored (JSON): a plain string
            return other
    return ","


def _columns(header: list[str], notices: list[str]) -> list[str | None]:
    """Map the header's names to the template's columns (case and spaces ignored); None = ignored."""
    known = {name.lower(): name for name in COLUMNS}
    columns: list[str | None] = []
    for cell in header:
        columns.append(known.get(cell.strip().lstrip("\ufeff").lower()))
    named = [c for c in columns if c]
    repeated = sorted({c for c in named if named.count(c) > 1})
    if repeated:
        raise BadFile(_("The header names these columns more than once: %(columns)s.", columns=", ".join(repeated)))
    missing = [c for c in REQUIRED_COLUMNS if c not in named]
    if missing:
        found = ", ".join(cell.strip() for cell in header if cell.strip()) or _("nothing")
        raise BadFile(ngettext(
            "The header is missing the column %(missing)s. The first line must name the "
            "template's columns (%(required)s; optional: %(optional)s); "
            "this file's first line has: %(found)s.",
            "The header is missing the columns %(missing)s. The first line must name the "
            "template's columns (%(required)s; optional: %(optional)s); "
            "this file's first line has: %(found)s.",
            len(missing),
            missing=", ".join(missing), required=", ".join(REQUIRED_COLUMNS), optional=", ".join(OPTIONAL_COLUMNS),
            found=found[:300],
        ))
    ignored = [cell.strip() for cell, column in zip(header, columns, strict=True) if column is None and cell.strip()]
    if ignored:
        notices.append(_("These columns are not in the template and were ignored: %(columns)s.",
                         columns=", ".join(ignored)[:300]))
    return columns


def _checked(line: int, columns: list[str | None], record: list[str], settings: Rules) -> CheckedRow:
    values = {column: cell[:MAX_STORED_VALUE] for column, cell in zip(columns, record, strict=False) if column}
    if len(record) != len(columns):
        return CheckedRow(line, values, errors=[(
            _("(whole line)"),
            _("This line has %(values)d values but the header has %(columns)d columns. "
              "A value that contains a comma must be inside double quotes.",
              values=len(record), columns=len(columns)),
        )])
    change, errors = check_values(values, settings)
    return CheckedRow(line, values, change, errors)


class _Prefixed(io.RawIOBase):
    """A raw stream that replays bytes already read (the sniffed head), then the rest."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer) -> int:
        """Fill ``buffer`` from the head first, then from the underlying stream."""
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
