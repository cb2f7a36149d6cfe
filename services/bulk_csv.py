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
# Signatures of files people upload by mistake instead of a CSV.
_NOT_CSV = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another zip file"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls)"),
    (b"%PDF", "a PDF document"),
)
_SAVE_AS = "In Excel use File › Save As › “CSV UTF-8 (Comma delimited) (*.csv)”."


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


def check_values(values: dict[str, str], settings: Rules) -> tuple[StatusChange | None, list[tuple[str, str]]]:
    """Check one row with the form's ``clean_*`` rules; return the request or (column, message) errors."""
    errors: list[tuple[str, str]] = []

    def take(column: str, clean, *args):
        try:
            return clean(values.get(column), *args)
        except ValueError as exc:
            errors.append((column, str(exc)))
            return None

    entity = {name: take(name, rules.clean_entity_id, title) for name, title in (
        ("tillId", "Till ID"), ("storeId", "Store ID"), ("zoneId", "Zone ID"), ("conceptId", "Concept ID"))}
    identifier_name = (values.get("identifierName") or "").strip()
    identifier_value = None
    if identifier_name not in IDENTIFIER_NAMES:
        errors.append(("identifierName", f"Use one of: {', '.join(IDENTIFIER_NAMES)} (got “{identifier_name}”)."))
    else:
        identifier_value = take("identifierValue", lambda value: rules.clean_identifier(
            identifier_name, value, settings.phone_region))
    label = (values.get("label") or "").strip()
    if label not in settings.labels:
        errors.append(("label", f"Use one of the status labels: {', '.join(settings.labels)} (got “{label}”)."))
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
        raise BadFile("The file is empty. Download the template, add one row per customer, and upload it again.")
    _refuse_non_text(head)
    if head.startswith(codecs.BOM_UTF8):
        notices.append("The file starts with a byte-order mark (as Excel writes it); it was ignored.")
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
                raise BadFile(f"The file has more than {max_rows:,} rows. Split it into files of at most "
                              f"{max_rows:,} rows and upload each one.")
            yield _checked(line_number, columns, record, settings)
    except UnicodeDecodeError:
        raise BadFile(f"The file is not UTF-8 text (the problem is on or after line {line_number}). "
                      f"{_SAVE_AS}") from None
    except csv.Error as exc:
        raise BadFile(f"Line {line_number} cannot be read as CSV ({exc}). Check for a stray double quote "
                      "or an unfinished quoted value.") from None
    if count == 0:
        raise BadFile("The file has a header but no rows. Add one row per customer under the header.")


def _refuse_non_text(head: bytes) -> None:
    for signature, what in _NOT_CSV:
        if head.startswith(signature):
            raise BadFile(f"This looks like {what}, not a CSV file. {_SAVE_AS}")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise BadFile(f"The file is UTF-16 text (Excel's “Unicode Text”), not UTF-8. {_SAVE_AS}")
    if b"\x00" in head:
        raise BadFile(f"The file contains binary data, so it is not a CSV text file. {_SAVE_AS}")


def _delimiter(header_line: str, notices: list[str]) -> str:
    """Commas, as the template has; semicolons or tabs only when the header clearly uses them."""
    for other, name in ((";", "semicolons"), ("\t", "tabs")):
        if other in header_line and "," not in header_line:
            notices.append(f"The columns are separated by {name} instead of commas; the file was read that way.")
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
        raise BadFile(f"The header names these columns more than once: {', '.join(repeated)}.")
    missing = [c for c in REQUIRED_COLUMNS if c not in named]
    if missing:
        found = ", ".join(cell.strip() for cell in header if cell.strip()) or "nothing"
        raise BadFile(
            f"The header is missing the column(s) {', '.join(missing)}. The first line must name the "
            f"template's columns ({', '.join(REQUIRED_COLUMNS)}; optional: {', '.join(OPTIONAL_COLUMNS)}); "
            f"this file's first line has: {found[:300]}."
        )
    ignored = [cell.strip() for cell, column in zip(header, columns, strict=True) if column is None and cell.strip()]
    if ignored:
        notices.append(f"These columns are not in the template and were ignored: {', '.join(ignored)[:300]}.")
    return columns


def _checked(line: int, columns: list[str | None], record: list[str], settings: Rules) -> CheckedRow:
    values = {column: cell[:MAX_STORED_VALUE] for column, cell in zip(columns, record, strict=False) if column}
    if len(record) != len(columns):
        return CheckedRow(line, values, errors=[(
            "(whole line)",
            f"This line has {len(record)} values but the header has {len(columns)} columns. "
            "A value that contains a comma must be inside double quotes.",
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
