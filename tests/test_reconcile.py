"""Reconciliation of lost submissions: one match, none (after the grace period), several."""

from __future__ import annotations

import pytest

from extensions import db
from models import TrackedRequest
from services.lifecycle import queue
from services.lifecycle.sync import sync_requests
from tests.helpers import make_app, sign_in
from tests.lifecycle_helpers import (
    allow_next_poll,
    calls,
    record,
    records,
    seed_like,
    set_times,
    sql_statements,
    submit,
)


def _lost(app, client, sandbox, form, key="b" * 32) -> int:
    """Submit while the gateway times out: the record is `unknown` and Capillary has nothing yet."""
    sandbox.inject_fault("timeout", count=1, endpoint="create")
    pk = submit(client, form, key=key)
    assert record(app, pk).state == "unknown"
    return pk


def test_one_match_is_adopted_with_its_state(app, client, sandbox, valid_form):
    pk = _lost(app, client, sandbox, valid_form)
    request_id = seed_like(sandbox, valid_form)  # it did reach Capillary after all
    seed_like(sandbox, valid_form, reason="Another reason")  # same customer, different request
    seed_like(sandbox, valid_form, entity_info={"storeId": "999"})  # another store

    html = client.get(f"/requests/{pk}").get_data(as_text=True)

    found = record(app, pk)
    assert found.request_id == request_id and found.state == "AdminTask"
    assert "Found in Capillary's request list" in found.events[-1].note
    assert "Waiting for approval" in html and request_id in html
    listed = calls(sandbox, "list")[-1]["query"]
    assert listed["storeId"] == valid_form["storeId"] and listed["tillId"] == valid_form["tillId"]
    assert listed["startDate"] and listed["endDate"]


def test_no_match_waits_for_the_grace_period_then_offers_a_resend(app, client, sandbox, valid_form):
    pk = _lost(app, client, sandbox, valid_form)
    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    assert record(app, pk).state == "unknown" and "Maybe" in html

    set_times(app, pk, created_at=301, last_polled_at=3600)  # past the 300 s default grace
    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    assert record(app, pk).state == "not_created"
    assert "Not created in Capillary" in html and "Resend it (same values)" in html

    created_before = sandbox.created_count
    first = client.post(f"/requests/{pk}/resend")
    again = client.post(f"/requests/{pk}/resend")  # a double click
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert sandbox.created_count == created_before + 1
    original, resent = records(app)
    assert resent.resent_from_id == original.id and resent.state == "AdminTask"
    assert resent.submission_key != original.submission_key
    assert (resent.identifier_value, resent.label, resent.reason) == (
        original.identifier_value, original.label, original.reason)
    assert f'href="/requests/{resent.id}"' in client.get(f"/requests/{pk}").get_data(as_text=True)


def test_a_status_page_looks_for_a_resend_only_when_one_is_possible(app, client, valid_form):
    """Only a request found not created can be resent: another request's page skips the look-up."""
    pk = submit(client, valid_form)
    with sql_statements(app) as ran:
        assert client.get(f"/requests/{pk}").status_code == 200
    assert record(app, pk).state == "AdminTask"
    assert [text for text in ran if "resent_from_id =" in text] == []


def test_grace_period_is_configurable(tmp_path, valid_form):
    app = make_app(tmp_path, {"CAP_RECONCILE_GRACE_SECONDS": "0"})
    client = app.test_client()
    sign_in(client, "agent")
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    pk = _lost(app, client, sandbox, valid_form)
    client.get(f"/requests/{pk}")
    assert record(app, pk).state == "not_created"


def test_several_matches_are_shown_for_a_person_to_choose(app, client, sandbox, valid_form):
    pk = _lost(app, client, sandbox, valid_form)
    first = seed_like(sandbox, valid_form)
    second = seed_like(sandbox, valid_form, state="approved")
    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    assert record(app, pk).state == "unknown"
    assert "Which of these is it?" in html and first in html and second in html

    refused = client.post(f"/requests/{pk}/match", data={"request_id": "not-a-candidate"}, follow_redirects=True)
    assert "not one of the matches" in refused.get_data(as_text=True)
    assert record(app, pk).request_id is None

    chosen = client.post(f"/requests/{pk}/match", data={"request_id": second}, follow_redirects=True)
    assert "Matched" in chosen.get_data(as_text=True)
    found = record(app, pk)
    assert found.request_id == second and found.state == "approved"
    assert "Which of these is it?" not in client.get(f"/requests/{pk}").get_data(as_text=True)


def test_a_request_held_by_another_app_record_is_not_a_match(app, client, sandbox, valid_form):
    kept = submit(client, valid_form, key="c" * 32)  # made and tracked normally
    pk = _lost(app, client, sandbox, valid_form)
    set_times(app, pk, created_at=400)  # past the grace period: kept's request is the only candidate
    client.get(f"/requests/{pk}")
    assert record(app, pk).state == "not_created"
    assert record(app, kept).request_id is not None


def test_stuck_sending_records_are_reconciled_only_once_presumed_dead(app, client, sandbox, valid_form):
    pk = submit(client, valid_form)
    request_id = record(app, pk).request_id
    with app.app_context():  # as if the process died after sending, before recording the answer
        found = db.session.get(TrackedRequest, pk)
        found.request_id, found.state, found.details = None, "sending", None
        db.session.commit()
    allow_next_poll(app, pk)
    client.get(f"/requests/{pk}")
    assert record(app, pk).state == "sending"  # it may still be in flight: left alone

    set_times(app, pk, created_at=120, last_polled_at=3600)
    client.get(f"/requests/{pk}")
    found = record(app, pk)
    assert found.request_id == request_id and found.state == "AdminTask"


def test_sync_reconciles_lost_submissions(app, client, sandbox, valid_form):
    adopted = _lost(app, client, sandbox, valid_form, key="d" * 32)
    request_id = seed_like(sandbox, valid_form)
    gone = _lost(app, client, sandbox, {**valid_form, "reason": "Never arrived"}, key="e" * 32)
    # Both stored the same ten minutes ago (past the grace period): the same day even when the
    # test runs just after midnight.
    set_times(app, gone, created_at=600)
    set_times(app, adopted, created_at=600)
    sandbox.clear_calls()
    with app.app_context():
        summary = sync_requests()
    assert summary.adopted == 1 and summary.not_created == 1 and summary.imported == 0
    searches = [c for c in calls(sandbox, "list") if "storeId" in c["query"]]
    assert len(searches) == 1  # both share a store, till and day: one search serves both
    assert record(app, adopted).request_id == request_id
    assert record(app, gone).state == "not_created"


def test_the_checker_console_leaves_a_lost_submission_to_reconciliation(app, client, sandbox, valid_form):
    """It may be this app's own lost submission: not imported (a copy imported earlier is merged:
    tests/test_import_race.py)."""
    pk = _lost(app, client, sandbox, valid_form)
    request_id = seed_like(sandbox, valid_form)
    with app.app_context():
        assert queue.queue_page(queue.QueueFilters(), actor=None).imported == 0
    assert [r.origin for r in records(app)] == ["app"]
    allow_next_poll(app, pk)
    client.get(f"/requests/{pk}")
    (only,) = records(app)
    assert only.id == pk and only.request_id == request_id and only.origin == "app"


@pytest.mark.parametrize("fault", ["500", "timeout"])
def test_a_failed_search_keeps_the_record_and_says_so(app, client, sandbox, valid_form, fault):
    pk = _lost(app, client, sandbox, valid_form)
    sandbox.inject_fault(fault, count=1, endpoint="list")
    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    assert "Could not refresh:" in html and "request list could not be searched" in html
    assert record(app, pk).state == "unknown"
