"""Reading a bulk CSV: the form's rules on every row, line numbers, and a clear word for bad files."""

from __future__ import annotations

import codecs
import io

import pytest
from werkzeug.datastructures import MultiDict

from forms import StatusChangeForm
from services.bulk.csv_reader import COLUMNS, REQUIRED_COLUMNS, BadFile, Rules, check_values, read_rows

SETTINGS = Rules(("Active", "Suspended", "Fraud suspected"), "INSTORE", "IN")
HEADER = ",".join(COLUMNS)
GOOD = "50682289,50682288,50682286,50678331,mobile,9780375690,Suspended,Fraud ring case 12,,"


def read(data: bytes | str, *, max_rows: int = 10_000) -> tuple[list, list[str]]:
    """Read ``data`` as an uploaded file; return the rows and the notices."""
    notices: list[str] = []
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return list(read_rows(io.BytesIO(raw), SETTINGS, max_rows=max_rows, notices=notices)), notices


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\r\n".join((header, *rows)) + "\r\n"


def test_a_valid_row_becomes_the_request_the_form_would_send():
    rows, notices = read(csv_text(GOOD))
    assert notices == []
    [row] = rows
    assert row.line == 2 and row.errors == []
    assert row.change.identifierValue == "919780375690"  # normalised like the form does
    assert row.change.source == "INSTORE" and row.change.accountId == ""
    assert row.dedupe_key == "mobile:919780375690"


@pytest.mark.parametrize(("column", "value"), [
    ("tillId", ""),
    ("storeId", "store 1"),
    ("zoneId", "z" * 65),
    ("identifierValue", "12345"),
    ("reason", "no"),
    ("reason", "x" * 501),
    ("source", "IN STORE"),
    ("accountId", "a" * 65),
])
def test_rows_get_exactly_the_forms_messages(app, column, value):
    values = dict(zip(COLUMNS, GOOD.split(","), strict=True))
    values[column] = value
    _change, errors = check_values(values, Rules.from_config(app.config))
    with app.test_request_context(method="POST", data=MultiDict(values | {"submission_key": "a" * 32})):
        form = StatusChangeForm()
        assert not form.validate()
    expected = form.errors[column][0]
    if value.strip():
        expected += f" The file has “{value[:80]}…”." if len(value) > 80 else f" The file has “{value}”."
    assert errors == [(column, expected)]


def test_the_error_table_shows_the_offending_value(app, client):
    rows, _ = read(csv_text("50682289,50682288,50682286,50678331,mobile,12 345,Suspended,Fraud ring case 12,,"))
    [(column, message)] = rows[0].errors
    assert column == "identifierValue"
    assert message.endswith("The file has “12 345”.")


def test_a_label_or_identifier_type_outside_the_lists_names_the_allowed_values():
    values = dict(zip(COLUMNS, GOOD.split(","), strict=True)) | {"label": "Suspnded", "identifierName": "phone"}
    _change, errors = check_values(values, SETTINGS)
    assert dict(errors)["label"] == "Use one of the status labels: Active, Suspended, Fraud suspected (got “Suspnded”)."
    assert dict(errors)["identifierName"].startswith("Use one of: mobile, email, externalId")


def test_every_error_has_its_line_even_after_a_quoted_value_spanning_lines():
    rows, _ = read(csv_text(
        GOOD,
        '50682289,50682288,50682286,50678331,email,a@example.com,Active,"line one\nline two",,',
        "",  # a blank line is skipped but still counted
        "50682289,,50682286,50678331,mobile,12345,Nope,ok,,",
    ))
    assert [r.line for r in rows] == [2, 3, 6]
    assert rows[1].errors == [] and rows[1].change.reason == "line one\nline two"
    assert [column for column, _ in rows[2].errors] == ["storeId", "identifierValue", "label", "reason"]


def test_a_line_with_too_many_values_says_to_quote_commas():
    rows, _ = read(csv_text("50682289,50682288,50682286,50678331,mobile,9780375690,Suspended,fraud, again,,"))
    [(column, message)] = rows[0].errors
    assert column == "(whole line)"
    assert "11 values but the header has 10 columns" in message and "double quotes" in message


def test_optional_columns_may_be_left_out_and_header_case_and_spaces_do_not_matter():
    header = " TILLID ,storeid,zoneId,conceptId,identifierName,identifierValue,Label,reason"
    rows, _ = read(csv_text("50682289,50682288,50682286,50678331,externalId,EXT-9,Active,back to normal",
                            header=header))
    assert rows[0].errors == [] and rows[0].change.tillId == "50682289"


def test_a_utf8_bom_is_accepted_and_mentioned():
    rows, notices = read(codecs.BOM_UTF8 + csv_text(GOOD).encode())
    assert rows[0].errors == []
    assert notices == ["The file starts with a byte-order mark (as Excel writes it); it was ignored."]


@pytest.mark.parametrize(("separator", "word"), [(";", "semicolons"), ("\t", "tabs")])
def test_semicolon_or_tab_separated_files_are_read_and_mentioned(separator, word):
    text = csv_text(GOOD.replace(",", separator), header=HEADER.replace(",", separator))
    rows, notices = read(text)
    assert rows[0].errors == [] and rows[0].change.label == "Suspended"
    assert notices == [f"The columns are separated by {word} instead of commas; the file was read that way."]


def test_unknown_columns_are_ignored_and_mentioned():
    rows, notices = read(csv_text(GOOD + ",note", header=HEADER + ",comment"))
    assert rows[0].errors == []
    assert notices == ["These columns are not in the template and were ignored: comment."]


@pytest.mark.parametrize(("data", "words"), [
    (b"", "The file is empty"),
    (b"PK\x03\x04\x14\x00\x06\x00", "an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel workbook (.xls)"),
    (b"%PDF-1.7\n", "a PDF document"),
    (codecs.BOM_UTF16_LE + HEADER.encode("utf-16-le"), "UTF-16"),
    (b"tillId\x00storeId\x00", "binary data"),
    (HEADER.encode(), "a header but no rows"),
    (b"tillId,storeId,phone\r\n1,2,3\r\n", "missing the columns zoneId, conceptId, identifierName"),
    ((HEADER + ",tillId\r\n").encode(), "more than once: tillId"),
])
def test_unreadable_files_say_what_is_wrong(data, words):
    with pytest.raises(BadFile, match=None) as caught:
        read(data)
    assert words in str(caught.value)


def test_a_file_in_another_encoding_names_the_line_and_how_to_save_it():
    data = csv_text(GOOD, GOOD.replace("Fraud ring", "Fraude à Paris")).encode("cp1252")
    with pytest.raises(BadFile) as caught:
        read(data)
    assert "not UTF-8" in str(caught.value) and "CSV UTF-8" in str(caught.value)


def test_an_unfinished_quote_names_its_line():
    with pytest.raises(BadFile, match="Line 3 cannot be read as CSV"):
        read(csv_text(GOOD, '50682289,50682288,50682286,50678331,mobile,9780375690,Active,"never closed'))


def test_more_rows_than_the_limit_is_refused():
    with pytest.raises(BadFile, match="more than 3 rows"):
        read(csv_text(*[GOOD] * 4), max_rows=3)
    assert len(read(csv_text(*[GOOD] * 3), max_rows=3)[0]) == 3


class CountingStream(io.RawIOBase):
    """A large upload produced on demand, counting how many bytes were read from it."""

    def __init__(self, rows: int):
        self.lines = (f"{HEADER}\r\n" if i == 0 else GOOD + "\r\n" for i in range(rows + 1))
        self.pending = b""
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        while len(self.pending) < len(buffer):
            line = next(self.lines, None)
            if line is None:
                break
            self.pending += line.encode()
        size = min(len(buffer), len(self.pending))
        buffer[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        self.read_bytes += size
        return size


def test_the_file_is_read_as_a_stream_not_all_at_once():
    stream = CountingStream(rows=3_000)
    rows = read_rows(io.BufferedReader(stream), SETTINGS, max_rows=50_000, notices=[])
    first = next(rows)
    assert first.line == 2 and first.errors == []
    # One row in, only a buffer's worth (not the ~240 KB file) has been read.
    assert stream.read_bytes < 64 * 1024
    assert sum(1 for _ in rows) == 2_999


def test_the_template_columns_start_with_the_required_ones():
    assert COLUMNS[: len(REQUIRED_COLUMNS)] == REQUIRED_COLUMNS
    assert COLUMNS[len(REQUIRED_COLUMNS):] == ("source", "accountId")
