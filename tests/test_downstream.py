"""What Capillary says about the approved task, shown (docs/CAPILLARY_API.md §2.4): the downstream
request id for support (copyable, in the bulk results too), the till and org it ran as, warnings,
and a failure's message from whichever body shape carries it."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from extensions import db
from gateway.types import RequestInfo
from models import TrackedRequest
from services.bulk import runner
from services.lifecycle.adoption import import_unseen
from services.lifecycle.wording import outcome_of
from tests.bulk_helpers import make_batch
from tests.lifecycle_helpers import allow_next_poll, decide_in_capillary, record, submit
from tests.test_envelope import V1_1_FAILED


def _output(headers: dict, body, status: float = 200.0) -> dict:
    return {"AdminTask-Payload": {"actionDecision": "approved", "actionMessage": "ok"},
            "AdminTask_Output": "approved",
            "IntouchAPITask_Output": {"status": status, "headers": headers, "body": body}}


def test_the_documented_failed_example_is_read_from_its_v1_1_body(app):
    headers = {"status_code": ["744"], "success": ["0"], "fail": ["1"], "X-Cap-RequestID": ["abc-123"],
               "till": ["pun.01"], "org_id": ["50672"]}
    with app.test_request_context():
        outcome = outcome_of("failed", _output(headers, V1_1_FAILED))
    assert (outcome.error_code, outcome.error_message) == ("744", "Reference number already exists")
    assert outcome.succeeded is False
    assert (outcome.downstream_request_id, outcome.till, outcome.org_id) == ("abc-123", "pun.01", "50672")
    assert "Reference number already exists" in outcome.words


@pytest.mark.parametrize(("code", "words"), [
    ("744", "Reference number already exists"), ("8015", "Customer not found"), ("8003", "Invalid source"),
    ("8013", "Invalid identifier"), ("UPDATECUSTOMERSTATUS_1032", "deleted or pending deletion"),
])
def test_a_status_code_header_alone_is_worded_when_known(app, code, words):
    with app.test_request_context():
        outcome = outcome_of("failed", _output({"status_code": [code], "fail": ["1"]}, {}))
    assert outcome.error_code == code and words in outcome.words


@pytest.mark.parametrize("body", [
    {"errors": [{"code": 8015, "message": "Customer not found for the given identifiers"}]},  # v2
    {"code": 8015, "message": "Customer not found for the given identifiers"},  # flat
    {"response": {"status": {"code": 8015, "message": "Customer not found for the given identifiers"}}},  # v1.1
])
def test_a_failure_message_is_read_from_any_body_shape(app, body):
    with app.test_request_context():
        outcome = outcome_of("failed", _output({}, body, status=400.0))
    assert (outcome.error_code, outcome.error_message) == ("8015", "Customer not found for the given identifiers")


def test_the_status_page_shows_what_capillary_support_asks_for(app, client, sandbox, valid_form):
    # Meera Iyer is Suspended already: the change succeeds with a warning.
    pk = submit(client, {**valid_form, "identifierValue": "+919812345670"})
    request_id = record(app, pk).request_id
    decide_in_capillary(sandbox, request_id, "approved")
    allow_next_poll(app, pk)
    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    headers = sandbox.get_request(request_id)["details"]["IntouchAPITask_Output"]["headers"]
    downstream_id = headers["X-CAP-REQUEST-ID"][0]
    assert record(app, pk).downstream_request_id == downstream_id
    assert f'<code id="downstream-request-id" class="break">{downstream_id}</code>' in html
    assert 'data-copy="#downstream-request-id"' in html and "Give this ID to Capillary" in html
    assert "For Capillary support" in html
    assert re.search(r"Ran as till</dt><dd>sandbox\.till</dd>", html)  # CAP_INTOUCH_USERNAME's till
    assert re.search(r"Ran in organisation</dt><dd>100</dd>", html)
    assert "Customer already has the label &#39;Suspended&#39;" in html


def test_the_documented_failed_shape_is_explained_on_the_status_page(app, client, checker_client, sandbox,
                                                                     valid_form):
    pk = submit(client, valid_form)
    sandbox.inject_fault("failed-744", endpoint="approve")
    checker_client.post(f"/approvals/{pk}", data={"decision": "approved", "message": "Checked", "step": "confirm"})
    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    saved = record(app, pk)
    assert saved.state == "failed"
    assert "error 744 · <span class=\"break\">Reference number already exists" in html  # its own words, as data
    assert "Reference number already exists: Capillary already has a change with this reference." in html
    assert saved.downstream_request_id and saved.downstream_request_id in html  # the X-Cap-RequestID spelling


def test_nothing_for_support_is_shown_before_the_task_ran(app, client, valid_form):
    pk = submit(client, valid_form)
    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    assert "For Capillary support" not in html and "downstream-request-id" not in html


def test_the_bulk_results_list_the_downstream_request_id(app, sandbox):
    batch_id = make_batch(app, 3)
    with app.app_context():
        assert runner.run_batch(batch_id) == runner.FINISHED
        records = db.session.scalars(select(TrackedRequest).order_by(TrackedRequest.batch_line)).all()
        request_ids = [r.request_id for r in records]
    decide_in_capillary(sandbox, request_ids[0], "approved")
    decide_in_capillary(sandbox, request_ids[1], "rejected")
    assert app.test_cli_runner().invoke(args=["requests", "sync"]).exit_code == 0
    from tests.helpers import signed_in_client

    text = signed_in_client(app, "admin").get(f"/bulk/{batch_id}/results.csv").get_data(as_text=True)
    rows = {row["requestId"]: row for row in csv.DictReader(io.StringIO(text))}
    expected = sandbox.get_request(request_ids[0])["details"]["IntouchAPITask_Output"]["headers"]["X-CAP-REQUEST-ID"][0]
    assert rows[request_ids[0]]["state"] in ("Approved", "Failed")
    assert rows[request_ids[0]]["downstreamRequestId"] == expected
    assert rows[request_ids[1]]["downstreamRequestId"] == ""  # rejected: no downstream call
    assert rows[request_ids[2]]["downstreamRequestId"] == ""  # still waiting


def test_requests_of_other_types_are_never_imported(app):
    base = {"userId": 1, "userName": "ui", "startTime": "2023-10-04T16:29:19", "endTime": None, "state": "AdminTask",
            "details": {"IntouchAPITask-Payload": {}}}
    ours = RequestInfo.from_json({**base, "requestId": "r-1", "requestType": "customer-status-change"})
    other = RequestInfo.from_json({**base, "requestId": "r-2", "requestType": "points-redemption"})
    with app.app_context():
        records, imported = import_unseen([ours, other])
    assert set(records) == {"r-1"} and imported == 1
