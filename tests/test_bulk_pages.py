"""The bulk pages end to end: template, upload, review, confirm, progress and results."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

import jobs
from extensions import db
from models import AuditEvent, Batch, BatchRow, TrackedRequest, User
from services.bulk.csv_reader import COLUMNS
from tests.helpers import sign_in

HEADER = ",".join(COLUMNS)
ENTITY = "50682289,50682288,50682286,50678331"
MIXED = "\r\n".join([
    HEADER,
    f"{ENTITY},mobile,9780375690,Suspended,Fraud ring case 12,,",      # line 2: valid
    "50682289,store 1,50682286,50678331,mobile,9780375691,Suspended,Fraud ring,,",  # line 3: bad store
    f"{ENTITY},email,asha.rao@example.com,Active,Cleared after review,,",  # line 4: valid
    f"{ENTITY},mobile,+91 97803 75690,Active,Same customer again,,",     # line 5: duplicate of line 2
    f'{ENTITY},externalId,EXT-1004,Fraud suspected,"Chargebacks, three",,',  # line 6: valid
]) + "\r\n"


def upload(client, data: bytes | str, filename: str = "changes.csv"):
    """POST a file to /bulk as a browser would (multipart/form-data)."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > 400 * 1024:
        return upload_large(client, raw, filename)
    return client.post("/bulk", data={"file": (io.BytesIO(raw), filename)}, content_type="multipart/form-data")


def upload_large(client, raw: bytes, filename: str):
    """A hand-made multipart body: bytes in memory, not the spooled temporary file the test
    client would make (and leave open when the app refuses the body unread)."""
    boundary = "bulk-test-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n").encode() + raw + f"\r\n--{boundary}--\r\n".encode()
    return client.post("/bulk", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def batch_id_from(response) -> int:
    return int(re.search(r"/bulk/(\d+)$", response.headers["Location"]).group(1))


def test_the_template_is_the_header_row(client):
    response = client.get("/bulk/template.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert next(csv.reader(io.StringIO(response.get_data(as_text=True)))) == list(COLUMNS)


def test_the_upload_page_explains_the_file_and_its_limits(client):
    page = client.get("/bulk").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and '<label class="field-label" for="file">CSV file</label>' in page
    assert "at most 10,000 rows and 5 MB" in page
    assert "/bulk/template.csv" in page


def test_a_mixed_file_is_reviewed_before_anything_is_sent(app, client, sandbox):
    response = upload(client, MIXED)
    assert response.status_code == 303
    batch_id = batch_id_from(response)
    page = client.get(f"/bulk/{batch_id}").get_data(as_text=True)

    assert "Nothing has been sent yet." in page
    assert re.search(r"<dt>Rows in the file</dt><dd>5</dd>", page)
    assert re.search(r'<dt>Ready to send</dt><dd><a href="#valid">3</a></dd>', page)
    assert re.search(r'<dt>With errors \(not sent\)</dt><dd><a href="#errors">1</a></dd>', page)
    assert re.search(r'<dt>Duplicates in the file \(not sent\)</dt><dd><a href="#duplicates">1</a></dd>', page)
    # The error: line, column, message.
    assert re.search(r"<td>3</td><td><code>storeId</code></td><td class=\"break\">Store ID must be 1–64", page)
    # The duplicate names the earlier line.
    assert re.search(r"<tr><td[^>]*>5</td><td[^>]*>2</td><td[^>]*>mobile number 919780375690</td>", page)
    assert "Send 3 requests" in page
    assert sandbox.created_count == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TrackedRequest)) == 0
        assert jobs.backend().pending() == []


def test_confirming_sends_each_valid_row_once_and_links_it_to_its_batch(app, client, sandbox):
    batch_id = batch_id_from(upload(client, MIXED))
    assert client.post(f"/bulk/{batch_id}/confirm").status_code == 303
    assert client.post(f"/bulk/{batch_id}/confirm").status_code == 303  # a second click queues nothing
    backend = app.extensions["jobs"]
    assert backend.pending() == [("bulk.run", {"batch_id": batch_id})]

    queued = client.get(f"/bulk/{batch_id}").get_data(as_text=True)
    assert "Queued: waiting for a worker to start sending 3 rows." in queued
    assert backend.run_pending() == ["finished"]

    assert sandbox.created_count == 3
    with app.app_context():
        records = db.session.scalars(select(TrackedRequest).order_by(TrackedRequest.batch_line)).all()
        assert [(r.batch_id, r.batch_line, r.state) for r in records] == [
            (batch_id, 2, "AdminTask"), (batch_id, 4, "AdminTask"), (batch_id, 6, "AdminTask")]
        assert [r.identifier_value for r in records] == ["919780375690", "asha.rao@example.com", "EXT-1004"]
        assert all(r.submission_key == f"bulk-{batch_id}-{r.batch_line}" for r in records)
        agent = db.session.scalar(select(User).where(User.username == "agent"))
        assert {(r.submitted_by_id, r.submitted_by) for r in records} == {(agent.id, agent.display_name)}
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "bulk.confirmed")).all()
        assert (event.actor_id, event.target, event.detail) == (
            agent.id, f"bulk file {batch_id}", "3 requests from changes.csv")
        assert {r.request_id for r in records} == {c["request"]["requestId"] for c in sandbox.records()}
        batch = db.session.get(Batch, batch_id)
        assert batch.state == "done" and batch.finished_at is not None and batch.lease_owner is None

    progress = client.get(f"/bulk/{batch_id}/progress.json").get_json()
    assert {k: progress[k] for k in ("state", "toSend", "created", "failed", "unknown", "remaining", "percent")} == {
        "state": "done", "toSend": 3, "created": 3, "failed": 0, "unknown": 0, "remaining": 0, "percent": 100}
    assert progress["summary"].startswith("Finished: all 3 rows were sent.")

    history = client.get("/requests").get_data(as_text=True)
    for value in ("919780375690", "asha.rao@example.com", "EXT-1004"):
        assert value in history
    status_page = client.get(f"/requests/{records[0].id}").get_data(as_text=True)
    assert f'Line 2 of <a href="/bulk/{batch_id}">bulk file #{batch_id}</a>.' in status_page


def test_the_results_file_has_every_line(app, client, sandbox):
    batch_id = batch_id_from(upload(client, MIXED))
    client.post(f"/bulk/{batch_id}/confirm")
    app.extensions["jobs"].run_pending()
    response = client.get(f"/bulk/{batch_id}/results.csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    # The file's own columns, then what became of each line, in words.
    assert rows[0] == ["line", *COLUMNS, "requestId", "state", "error", "downstreamRequestId"]
    own = len(COLUMNS)
    by_line = {int(row[0]): row[own + 1:own + 4] for row in rows[1:]}
    assert all(row[-1] == "" for row in rows[1:])  # none approved yet: no downstream call
    assert sorted(by_line) == [2, 3, 4, 5, 6]
    with app.app_context():
        ids = dict(db.session.execute(select(TrackedRequest.batch_line, TrackedRequest.request_id)).all())
    for line in (2, 4, 6):
        assert by_line[line] == [ids[line], "Waiting for approval", ""]
    states = {row[own + 2] for row in rows[1:]}
    assert "AdminTask" not in states and "invalid" not in states  # no raw API words
    assert dict(zip(rows[0], rows[1], strict=True))["identifierName"] in ("mobile", "email", "externalId")
    assert by_line[3][:2] == ["", "Not valid: not sent"] and by_line[3][2].startswith("storeId: Store ID must be 1–64")
    assert by_line[5] == ["", "Duplicate: not sent", "The same customer as line 2; only that line is sent."]


def test_the_progress_page_works_without_javascript(app, client):
    batch_id = batch_id_from(upload(client, MIXED))
    client.post(f"/bulk/{batch_id}/confirm")
    page = client.get(f"/bulk/{batch_id}").get_data(as_text=True)
    assert 'role="status"' in page
    assert re.search(r'<progress id="bulk-bar" class="progress" max="3" value="0">0%</progress>', page)
    assert f'href="/bulk/{batch_id}">Refresh</a>' in page
    assert f'data-bulk-progress="/bulk/{batch_id}/progress.json"' in page
    scripts = re.findall(r"<script[^>]*>", page)
    assert '<script src="/static/js/bulk.js" defer>' in scripts
    assert all("src=" in tag for tag in scripts)  # no inline script (the CSP forbids them)
    app.extensions["jobs"].run_pending()
    done = client.get(f"/bulk/{batch_id}").get_data(as_text=True)
    assert "Finished: all 3 rows were sent." in done and 'max="3" value="3"' in done
    assert "data-bulk-progress" not in done  # nothing left to poll


def test_discarding_deletes_the_rows_and_sends_nothing(app, client, sandbox):
    batch_id = batch_id_from(upload(client, MIXED))
    response = client.post(f"/bulk/{batch_id}/discard")
    assert response.status_code == 303
    assert f"File #{batch_id} was discarded" in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Batch, batch_id) is None
        assert db.session.scalar(select(func.count()).select_from(BatchRow)) == 0
    assert client.post(f"/bulk/{batch_id}/confirm").status_code == 404
    assert sandbox.created_count == 0


def test_a_confirmed_file_can_no_longer_be_discarded(app, client):
    batch_id = batch_id_from(upload(client, MIXED))
    client.post(f"/bulk/{batch_id}/confirm")
    client.post(f"/bulk/{batch_id}/discard")
    with app.app_context():
        assert db.session.get(Batch, batch_id).state == "queued"


def test_a_file_without_a_valid_row_cannot_be_confirmed(app, client):
    batch_id = batch_id_from(upload(client, f"{HEADER}\r\n50682289,,x,y,mobile,1,Nope,no,,\r\n"))
    page = client.get(f"/bulk/{batch_id}").get_data(as_text=True)
    assert "No row can be sent" in page and "/confirm" not in page
    client.post(f"/bulk/{batch_id}/confirm")
    with app.app_context():
        assert db.session.get(Batch, batch_id).state == "review"
        assert app.extensions["jobs"].pending() == []


@pytest.mark.parametrize(("data", "filename", "words"), [
    (b"PK\x03\x04rest-of-a-zip", "changes.xlsx", "This looks like an Excel workbook (.xlsx)"),
    (b"tillId,storeId\r\n1,2\r\n", "changes.csv", "The header is missing the columns zoneId"),
    ("tillId;storeId\r\nü\r\n".encode("cp1252"), "changes.csv", "The file is not UTF-8 text"),
])
def test_a_bad_file_is_refused_with_the_reason_at_the_field(app, client, data, filename, words):
    response = upload(client, data, filename)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'class="error-summary"' in page and words in page
    assert 'id="file-error"' in page and 'aria-invalid="true"' in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Batch)) == 0


def test_no_file_chosen_says_so(client):
    response = client.post("/bulk", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose a CSV file to upload." in response.get_data(as_text=True)


def test_a_file_over_5_mb_is_refused_before_reading(app, client):
    big = (HEADER + "\r\n").encode() + b"x" * (5 * 1024 * 1024 + 10)
    response = upload(client, big)
    assert response.status_code == 422
    assert "the limit is 5 MB" in response.get_data(as_text=True)


def test_a_request_over_the_upload_limit_gets_the_upload_page(client):
    response = upload(client, b"x" * (7 * 1024 * 1024))
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "The file is larger than 5 MB" in page and 'enctype="multipart/form-data"' in page


def test_a_file_over_the_row_limit_is_refused(tmp_path):
    from tests.helpers import make_app

    app = make_app(tmp_path, {"CAP_BULK_MAX_ROWS": "2"})
    client = app.test_client()
    sign_in(client, "agent")
    response = upload(client, MIXED)
    assert response.status_code == 422
    assert "The file has more than 2 rows." in response.get_data(as_text=True)


def test_formulas_in_the_results_file_are_defused(app, client):
    evil = f"{HEADER}\r\n{ENTITY},mobile,9780375690,=HYPERLINK(1),Fraud ring,,\r\n"
    batch_id = batch_id_from(upload(client, evil))
    rows = list(csv.reader(io.StringIO(client.get(f"/bulk/{batch_id}/results.csv").get_data(as_text=True))))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["state"] == "Not valid: not sent"
    assert "got “=HYPERLINK(1)”" in row["error"]
    assert row["label"] == "'=HYPERLINK(1)"  # the file's own value, defused
    assert not any(cell.startswith("=") for row in rows for cell in row)


def test_an_unknown_batch_is_a_404_page(client):
    response = client.get("/bulk/999999")
    assert response.status_code == 404 and "There is no such bulk file." in response.get_data(as_text=True)


@pytest.mark.parametrize(("who", "status"), [("maker", 403), ("checker", 403), ("agent", 200), ("admin", 200)])
def test_bulk_files_are_for_agents_and_admins(app, who, status):
    client = app.test_client()
    sign_in(client, who)
    assert client.get("/bulk").status_code == status
    assert client.post("/bulk", data={}, content_type="multipart/form-data").status_code in (status, 422)
    nav_link = re.search(r'href="/bulk"\s*>Bulk file</a>', client.get("/requests").get_data(as_text=True))
    assert bool(nav_link) is (status == 200)


def test_confirming_needs_the_pages_csrf_token(tmp_path):
    from tests.helpers import make_app

    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    sign_in(client, "agent")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/bulk").get_data(as_text=True))
    response = client.post("/bulk", data={"file": (io.BytesIO(MIXED.encode()), "changes.csv"),
                                          "csrf_token": token.group(1)}, content_type="multipart/form-data")
    batch_id = batch_id_from(response)
    assert client.post(f"/bulk/{batch_id}/confirm").status_code == 400  # no token: refused
    with app.app_context():
        assert db.session.get(Batch, batch_id).state == "review"
    review = client.get(f"/bulk/{batch_id}").get_data(as_text=True)
    page_token = re.search(r'name="csrf_token" value="([^"]+)"', review).group(1)
    assert client.post(f"/bulk/{batch_id}/confirm", data={"csrf_token": page_token}).status_code == 303
    with app.app_context():
        assert db.session.get(Batch, batch_id).state == "queued"


def test_every_later_line_of_a_repeated_customer_points_at_the_first(app):
    from services.bulk import batches

    rows = [HEADER] + [f"{ENTITY},externalId,{ext},Suspended,Row {n},," for n, ext in enumerate(
        ["EXT-A", "EXT-B", "EXT-A", "EXT-C", "EXT-A", "EXT-B"], start=2)]
    data = ("\r\n".join(rows) + "\r\n").encode()
    with app.app_context():
        batch = batches.create_batch(io.BytesIO(data), "repeats.csv", size=len(data), uploader=None)
        marked = dict(db.session.execute(select(BatchRow.line, BatchRow.duplicate_of)
                                          .where(BatchRow.status == "duplicate")).all())
        assert (batch.valid_rows, batch.duplicate_rows) == (3, 3)
    assert marked == {4: 2, 6: 2, 7: 3}


def test_the_shown_rate_never_exceeds_the_limit_after_a_first_burst(app):
    from datetime import timedelta

    from models import utcnow
    from services.bulk import batches
    from tests.bulk_helpers import make_batch

    batch_id = make_batch(app, 5)
    with app.app_context():
        batch = db.session.get(Batch, batch_id)
        now = utcnow()
        batch.started_at = now - timedelta(seconds=1)
        for row in db.session.scalars(select(BatchRow).where(BatchRow.batch_id == batch_id)):
            row.finished_at = now
        db.session.commit()
        # 5 rows in 1 s would extrapolate to 300 a minute; the limiter allows 100 in any minute.
        assert batches.progress(batch).per_minute == app.config["CAP_BULK_RATE_PER_MINUTE"] == 100


def test_long_lists_are_paged_on_the_review_and_progress_pages(app, client):
    from tests.bulk_helpers import make_batch

    review_id = make_batch(app, 150, confirm=False)
    review = client.get(f"/bulk/{review_id}").get_data(as_text=True)
    assert 'aria-label="Pages of this list"' in review and "Page 1 of 2" in review
    next_page = "valid_page=2&amp;error_page=1&amp;duplicate_page=1&amp;skipped_page=1"
    assert f'href="/bulk/{review_id}?{next_page}" rel="next"' in review
    second = client.get(f"/bulk/{review_id}?valid_page=2").get_data(as_text=True)
    assert "Page 2 of 2" in second and 'rel="prev"' in second and 'rel="next"' not in second

    sent_id = make_batch(app, 150)  # confirmed: its page shows progress and the rows by page
    progress = client.get(f"/bulk/{sent_id}").get_data(as_text=True)
    assert 'aria-label="Pages of rows"' in progress and "Page 1 of 2" in progress
    assert f'href="/bulk/{sent_id}?page=2" rel="next"' in progress
