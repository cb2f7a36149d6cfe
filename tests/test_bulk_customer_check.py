"""Checking a bulk file's customers in Capillary before sending (services/bulk/customer_check.py).

Over a real socket against the sandbox: each row's mark (found, not found, invalid, no-op,
open duplicate, could not be checked), only the eligible rows sent afterwards, a failed
look-up never leaving a row out, the shared rate limit, and no button with look-ups off.
The test apps check one row at a time, so a fault queued for the look-up hits a known line.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from extensions import db
from models import Batch, BatchRow, TrackedRequest
from services.bulk import customer_check
from services.bulk.csv_reader import COLUMNS
from services.bulk.throttle import app_throttle
from tests.bulk_helpers import ENTITY, created_identifiers
from tests.helpers import make_app, sign_in
from tests.test_bulk_pages import batch_id_from, upload


def csv_rows(*rows: tuple[str, str]) -> str:
    """A file of ``(externalId, new label)`` rows."""
    lines = [",".join(COLUMNS)] + [f"{ENTITY},externalId,{value},{label},Bulk check test,," for value, label in rows]
    return "\r\n".join(lines) + "\r\n"


@pytest.fixture
def one_at_a_time(tmp_path):
    """An app checking and sending one row at a time, with a signed-in agent and its sandbox."""
    app = make_app(tmp_path, CAP_BULK_CONCURRENCY=1)
    client = app.test_client()
    sign_in(client, "agent")
    yield app, client, app.extensions["sandbox_app"].extensions["sandbox"]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def marks(app, batch_id: int) -> dict[int, tuple[str, str | None, str]]:
    with app.app_context():
        return {row.line: (row.status, row.customer_check, row.customer_label) for row in db.session.scalars(
            select(BatchRow).where(BatchRow.batch_id == batch_id))}


def open_request_for(app, value: str) -> None:
    """An open request (awaiting a checker in Capillary) for the customer with this externalId."""
    with app.app_context():
        db.session.add(TrackedRequest(submission_key=f"open-{value}", request_id=f"cap-{value}", state="AdminTask",
                                      origin="imported", till_id="1", store_id="2", zone_id="3", concept_id="4",
                                      identifier_name="externalId", identifier_value=value,
                                      label="Active", reason="from Capillary"))
        db.session.commit()


def test_each_row_is_marked_and_only_eligible_rows_are_sent(one_at_a_time):
    app, client, sandbox = one_at_a_time
    open_request_for(app, "EXT-1002")
    batch_id = batch_id_from(upload(client, csv_rows(
        ("EXT-5555", "Suspended"),  # line 2: Capillary says invalid (the fault below)
        ("EXT-1001", "Suspended"),  # line 3: Asha, Active: found
        ("EXT-9999", "Suspended"),  # line 4: nobody: not found
        ("EXT-1003", "Suspended"),  # line 5: Meera is already Suspended: no-op
        ("EXT-1002", "Suspended"),  # line 6: Vikram has an open request: duplicate, still sent
    )))
    review = client.get(f"/bulk/{batch_id}").get_data(as_text=True)
    assert "Check these customers in Capillary" in review and "Send 5 requests" in review

    sandbox.inject_fault("code-8013", 1, "lookup")
    assert client.post(f"/bulk/{batch_id}/check").status_code == 303
    backend = app.extensions["jobs"]
    assert backend.pending() == [("bulk.check", {"batch_id": batch_id})]
    assert "Customer check queued" in client.get(f"/bulk/{batch_id}").get_data(as_text=True)
    assert backend.run_pending() == ["finished"]

    assert marks(app, batch_id) == {
        2: ("skipped", "invalid", None),
        3: ("pending", "found", "Active"),
        4: ("skipped", "not_found", None),
        5: ("skipped", "noop", "Suspended"),
        6: ("pending", "duplicate", "High Value"),
    }
    page = client.get(f"/bulk/{batch_id}").get_data(as_text=True)
    assert "Customer check finished: 5 rows checked, 3 left out of sending." in page
    assert re.search(r'<dt>Left out by the customer check \(not sent\)</dt><dd><a href="#skipped">3</a>', page)
    assert "An open request for this customer exists: still sent" in page
    assert "Not found in Capillary (code 8015): not sent" in page
    assert "Send 2 requests" in page and "Check these customers in Capillary" not in page
    for name in ("Asha", "Vikram", "Meera"):  # names are shown nowhere from a bulk check, and never stored
        assert name not in page

    assert client.post(f"/bulk/{batch_id}/confirm").status_code == 303
    assert backend.run_pending() == ["finished"]
    assert sorted(created_identifiers(sandbox)) == ["EXT-1001", "EXT-1002"]
    results = client.get(f"/bulk/{batch_id}/results.csv").get_data(as_text=True)
    by_line = {row[0]: row for row in csv.reader(io.StringIO(results))}
    left_out = "Left out by the customer check: not sent"
    assert by_line["4"][-4:] == ["", left_out, "No customer in Capillary has this identifier (code 8015); the row "
                                 "is not sent.", ""]
    assert by_line["5"][-4:] == ["", left_out, "The customer already has this label; the row is not sent.", ""]


def test_a_failed_look_up_marks_the_row_and_it_is_still_sent(one_at_a_time):
    app, client, sandbox = one_at_a_time
    batch_id = batch_id_from(upload(client, csv_rows(("EXT-1001", "Suspended"), ("EXT-1004", "Suspended"))))
    sandbox.inject_fault("500", 1, "lookup")
    client.post(f"/bulk/{batch_id}/check")
    app.extensions["jobs"].run_pending()

    assert marks(app, batch_id) == {2: ("pending", "lookup_failed", None), 3: ("pending", "found", "Active")}
    page = client.get(f"/bulk/{batch_id}").get_data(as_text=True)
    assert "Could not be checked: still sent" in page and "Send 2 requests" in page
    client.post(f"/bulk/{batch_id}/confirm")
    app.extensions["jobs"].run_pending()
    assert sorted(created_identifiers(sandbox)) == ["EXT-1001", "EXT-1004"]


def test_sending_without_checking_stays_possible(app, client, sandbox):
    batch_id = batch_id_from(upload(client, csv_rows(("EXT-9999", "Suspended"), ("EXT-1003", "Suspended"))))
    client.post(f"/bulk/{batch_id}/confirm")
    app.extensions["jobs"].run_pending()
    assert sorted(created_identifiers(sandbox)) == ["EXT-1003", "EXT-9999"]
    assert not [call for call in sandbox.customer_calls if call["endpoint"] == "lookup"]


def test_the_check_waits_for_the_rate_limit_shared_with_sending(tmp_path):
    app = make_app(tmp_path, CAP_BULK_RATE_PER_MINUTE=3, CAP_BULK_CONCURRENCY=1)
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    client = app.test_client()
    sign_in(client, "agent")
    batch_id = batch_id_from(upload(client, csv_rows(*[(f"EXT-100{n}", "Suspended") for n in range(1, 5)])))
    throttle = app_throttle(app)
    assert throttle.try_acquire() and throttle.try_acquire()  # two calls a bulk send made this minute

    def lookups() -> int:
        return len([call for call in sandbox.customer_calls if call["endpoint"] == "lookup"])

    def held_back() -> bool:
        # Stop once the row after the minute's last permit waits; a check outside the limit
        # would have looked up all four rows instead.
        return lookups() >= 1 and not throttle.has_room(1)

    with app.app_context():
        batch = db.session.get(Batch, batch_id)
        assert customer_check.request_check(batch)
        assert customer_check.check_batch(batch_id, should_stop=held_back) == customer_check.STOPPED
        state = db.session.get(Batch, batch_id).check_state
    assert lookups() == 1
    assert state == "queued"  # handed back, to be continued by the next job
    assert [mark for _status, mark, _label in marks(app, batch_id).values()].count(None) == 3


def test_with_look_ups_off_the_check_is_not_offered(tmp_path):
    app = make_app(tmp_path, {"CAP_CUSTOMER_LOOKUP": "off"})
    client = app.test_client()
    sign_in(client, "agent")
    batch_id = batch_id_from(upload(client, csv_rows(("EXT-1001", "Suspended"))))
    assert "Check these customers in Capillary" not in client.get(f"/bulk/{batch_id}").get_data(as_text=True)
    assert client.post(f"/bulk/{batch_id}/check").status_code == 404
    assert app.extensions["jobs"].pending() == []
