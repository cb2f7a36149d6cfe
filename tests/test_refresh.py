"""Live status: refresh from the gateway, the timeline, the poll limit, failures, the live fragment."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest

from extensions import db
from models import TrackedRequest
from services.lifecycle.refresh import claim_poll, refresh
from services.lifecycle.wording import outcome_of
from tests.databases import database_url
from tests.helpers import make_app
from tests.lifecycle_helpers import (
    allow_next_poll,
    calls,
    decide_in_capillary,
    real_mode_environ,
    record,
    sql_statements,
    submit,
)
from tests.live_server import serve_wsgi


def test_status_page_follows_the_request_to_approved_with_a_timeline(app, client, sandbox, valid_form):
    pk = submit(client, valid_form)
    rid = record(app, pk).request_id
    decide_in_capillary(sandbox, rid, "approved", "Fraud pattern confirmed by the store")
    allow_next_poll(app, pk)

    html = client.get(f"/requests/{pk}").get_data(as_text=True)

    found = record(app, pk)
    assert found.state == "approved"
    # The last event: verified in Capillary after approval (services/lifecycle/verification.py).
    assert [e.state for e in found.events] == ["sending", "AdminTask", "approved", "approved"]
    assert "Fraud pattern confirmed by the store" in found.events[2].note
    assert "Checker's decision" in html and "Approved" in html
    assert "Fraud pattern confirmed by the store" in html
    assert "Capillary changed the customer&#39;s status." in html
    assert "Refresh now" not in html  # settled: nothing more to check
    assert 'data-live="false"' in html
    assert found.end_time is not None


def test_rejected_request_shows_the_checkers_message(app, client, sandbox, valid_form):
    pk = submit(client, valid_form)
    decide_in_capillary(sandbox, record(app, pk).request_id, "rejected", "Customer called: not fraud")
    allow_next_poll(app, pk)
    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    assert record(app, pk).state == "rejected"
    assert "Customer called: not fraud" in html
    assert "the customer&#39;s status was not changed" in html


@pytest.mark.parametrize(("identifier", "code", "words"), [
    ("919000000001", "8015", "Customer not found"),
    ("919812345674", "UPDATECUSTOMERSTATUS_1032", "deleted or pending deletion"),
])
def test_failed_after_approval_is_explained_in_words(app, client, sandbox, valid_form, identifier, code, words):
    # The look-up could not say "not found" before (it failed), so the request went through.
    sandbox.inject_fault("500", endpoint="lookup")
    pk = submit(client, {**valid_form, "identifierValue": "+" + identifier})
    decide_in_capillary(sandbox, record(app, pk).request_id, "approved", "ok")
    allow_next_poll(app, pk)
    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    assert record(app, pk).state == "failed"
    assert "Approved, but Capillary could not apply the change" in html
    assert words in html
    assert f"error {code}" in html


def test_outcome_words_for_every_documented_code():
    def failed(code, message="x"):
        return {"AdminTask-Payload": {"actionDecision": "approved", "actionMessage": "ok"},
                "IntouchAPITask_Output": {"status": 400.0, "headers": {"status_code": [str(code)]},
                                          "body": {"errors": [{"code": code, "message": message}]}}}

    assert "Invalid identifier" in outcome_of("failed", failed(8013)).words
    assert "Invalid source" in outcome_of("failed", failed(8003)).words
    assert "Customer not found" in outcome_of("failed", failed(8015)).words
    odd = outcome_of("failed", failed(9999, "Odd problem"))
    # A code without words of its own stays out of the sentence (codes only in the details for support).
    assert "9999" not in odd.words and "Odd problem" not in odd.words and odd.error_code == "9999"
    # §2.4's shape: HTTP 200 but the headers say it failed (status_code 744, fail 1).
    odd = {"IntouchAPITask_Output": {"status": 200.0, "headers": {"status_code": ["744"], "fail": ["1"]},
                                     "body": {}}, "AdminTask_Output": "approved"}
    outcome = outcome_of("failed", odd)
    assert outcome.error_code == "744" and outcome.succeeded is False and outcome.decision == "approved"
    auto = outcome_of("approved", {"IntouchAPITask_Output": {"status": 200.0, "headers": {}, "body": {}}})
    assert auto.auto_approved and auto.succeeded


def test_the_gateway_is_asked_at_most_once_per_interval(app, client, sandbox, valid_form):
    pk = submit(client, valid_form)
    # The create answer was Capillary's word a moment ago: the pages after it do not ask again.
    for _ in range(5):
        assert client.get(f"/requests/{pk}").status_code == 200
        assert client.get(f"/requests/{pk}/live").status_code == 200
    assert len(calls(sandbox, "get")) == 0
    allow_next_poll(app, pk)
    for _ in range(5):
        client.get(f"/requests/{pk}/live")
    assert len(calls(sandbox, "get")) == 1
    allow_next_poll(app, pk)
    client.get(f"/requests/{pk}/live")
    assert len(calls(sandbox, "get")) == 2


def test_a_page_within_the_poll_interval_writes_nothing(app, client, sandbox, valid_form):
    """Right after submitting, the status page and its fragment read the record and write nothing:
    the poll clock the create answer started settles it without the claim's UPDATE and commit."""
    pk = submit(client, valid_form)
    with sql_statements(app) as ran:
        page = client.get(f"/requests/{pk}")
        fragment = client.get(f"/requests/{pk}/live")
    statements = [text.split(None, 1)[0].upper() for text in ran]
    assert page.status_code == fragment.status_code == 200
    assert "Waiting for approval" in page.get_data(as_text=True)
    assert statements and set(statements) == {"SELECT"}, statements
    assert len(calls(sandbox, "get")) == 0
    # Once due, the claim still writes the poll clock and the gateway is asked once.
    allow_next_poll(app, pk)
    client.get(f"/requests/{pk}/live")
    assert len(calls(sandbox, "get")) == 1


def test_poll_limit_holds_across_app_processes_sharing_the_database(tmp_path):
    """Two app instances (as two processes would) and eight threads: one GET to the gateway."""
    from sandbox import create_app as create_sandbox

    gateway = create_sandbox({})
    state = gateway.extensions["sandbox"]
    request_id = state.seed_request()
    with serve_wsgi(gateway) as url:
        environ = real_mode_environ(url, database_url(tmp_path))
        apps = [make_app(tmp_path, environ, SCHEMA_SETUP="create_all") for _ in range(2)]
        with apps[0].app_context():
            db.session.add(TrackedRequest(
                submission_key="k" * 32, request_id=request_id, state="AdminTask", till_id="1", store_id="2",
                zone_id="3", concept_id="4", identifier_name="mobile", identifier_value="919780375690",
                label="Suspended", reason="shared"))
            db.session.commit()
        barrier = threading.Barrier(8)
        won = []

        def poll(app):
            with app.app_context():
                found = db.session.get(TrackedRequest, 1)
                barrier.wait()
                won.append(refresh(found).asked)

        threads = [threading.Thread(target=poll, args=(apps[i % 2],)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert sorted(won) == [False] * 7 + [True]
    assert len([c for c in state.calls if c["endpoint"] == "get"]) == 1


def test_claim_poll_is_atomic_and_respects_the_interval(app, client, valid_form):
    pk = submit(client, valid_form)
    with app.app_context():
        assert claim_poll(pk) is False  # creation itself started the clock
    allow_next_poll(app, pk)
    with app.app_context():
        assert claim_poll(pk) is True
        assert claim_poll(pk) is False
        assert claim_poll(pk, force=True) is True  # Capillary said the record is stale
    allow_next_poll(app, pk)
    with app.app_context():
        assert claim_poll(pk) is True


def test_a_failed_refresh_keeps_the_last_state_and_says_why(app, client, sandbox, valid_form):
    pk = submit(client, valid_form)
    allow_next_poll(app, pk)
    sandbox.inject_fault("500", count=1, endpoint="get")
    page = client.get(f"/requests/{pk}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Could not refresh:" in html
    assert "failed with an internal error" in html
    assert "Waiting for approval" in html
    assert record(app, pk).state == "AdminTask"
    # The next successful check clears the message.
    allow_next_poll(app, pk)
    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    assert "Could not refresh:" not in html
    assert record(app, pk).refresh_error is None


def test_a_429_holds_further_checks_until_retry_after(app, client, sandbox, valid_form):
    app.config["CAP_STATUS_MIN_REFRESH_SECONDS"] = 1  # shorter than the fault's Retry-After: 2

    def seconds_pass(seconds: float) -> None:  # move the poll clock back instead of sleeping
        with app.app_context():
            found = db.session.get(TrackedRequest, pk)
            found.last_polled_at -= timedelta(seconds=seconds)
            db.session.commit()

    pk = submit(client, valid_form)
    allow_next_poll(app, pk)
    sandbox.inject_fault("429", count=1, endpoint="get")
    assert "Could not refresh:" in client.get(f"/requests/{pk}").get_data(as_text=True)
    assert len(calls(sandbox, "get")) == 1
    seconds_pass(1.1)  # past the 1 s interval, not past Retry-After
    client.get(f"/requests/{pk}/live")
    assert len(calls(sandbox, "get")) == 1
    seconds_pass(1.0)  # now past Retry-After
    client.get(f"/requests/{pk}/live")
    assert len(calls(sandbox, "get")) == 2


@pytest.mark.parametrize(("fault", "words"), [
    ("timeout", "did not come in time"),
    ("401", "invalid or has expired"),
    ("400-empty", "refused the request as it was sent"),
    ("unreadable", "answer could not be read"),
])
def test_refresh_failures_never_end_in_an_error_page(app, client, sandbox, valid_form, fault, words):
    pk = submit(client, valid_form)
    allow_next_poll(app, pk)
    sandbox.inject_fault(fault, count=1, endpoint="get")
    response = client.post(f"/requests/{pk}/refresh")
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Could not refresh:" in html and words in html
    assert record(app, pk).state == "AdminTask"


def test_refresh_now_works_without_javascript_and_respects_the_limit(app, client, sandbox, valid_form):
    pk = submit(client, valid_form)
    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    assert f'<form method="post" action="/requests/{pk}/refresh"' in html
    assert "Refresh now" in html
    decide_in_capillary(sandbox, record(app, pk).request_id, "approved")
    # Created less than 5 s ago (the create answer counts as a check): no GET, and it says so.
    first = client.post(f"/requests/{pk}/refresh", follow_redirects=True).get_data(as_text=True)
    assert "less than 5 seconds ago" in first
    assert len(calls(sandbox, "get")) == 0
    allow_next_poll(app, pk)
    second = client.post(f"/requests/{pk}/refresh", follow_redirects=True).get_data(as_text=True)
    assert "The status changed from Waiting for approval to Approved." in second
    assert len(calls(sandbox, "get")) == 1


def test_live_fragment_marks_state_and_liveness(app, client, sandbox, valid_form):
    pk = submit(client, valid_form)
    response = client.get(f"/requests/{pk}/live")
    fragment = response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    assert 'data-state="AdminTask"' in fragment and 'data-live="true"' in fragment
    assert "<html" not in fragment and "Timeline" in fragment
    decide_in_capillary(sandbox, record(app, pk).request_id, "rejected", "no")
    allow_next_poll(app, pk)
    fragment = client.get(f"/requests/{pk}/live").get_data(as_text=True)
    assert 'data-state="rejected"' in fragment and 'data-live="false"' in fragment


def test_status_page_loads_the_polling_script_without_inline_script(app, client, valid_form):
    pk = submit(client, valid_form)
    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    assert re.search(r'<script src="/static/js/status\.js[^"]*" defer></script>', html)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # every script is a file
    assert 'id="live-announcer"' in html and 'role="status"' in html
    assert f'data-live-url="/requests/{pk}/live"' in html and 'data-poll-seconds="10"' in html
    with client.get("/static/js/status.js") as response:
        script = response.get_data(as_text=True)
    assert "live-announcer" in script and "dataset.live" in script


def test_a_late_answer_never_moves_a_decided_request_back(app, client, sandbox, valid_form):
    from gateway.types import RequestInfo
    from services.lifecycle.updates import apply_update

    pk = submit(client, valid_form)
    rid = record(app, pk).request_id
    stale = RequestInfo.from_json(sandbox.get_request(rid))  # AdminTask, as read before the decision
    decide_in_capillary(sandbox, rid, "approved")
    allow_next_poll(app, pk)
    client.get(f"/requests/{pk}")
    with app.app_context():
        found = db.session.get(TrackedRequest, pk)
        assert apply_update(found, stale) is False
        db.session.commit()
    assert record(app, pk).state == "approved"
