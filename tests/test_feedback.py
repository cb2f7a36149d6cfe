"""Feedback and ways forward (issue 17 item 6): when an unknown outcome will be known, "Fix and
submit again" after a change Capillary could not apply, whose token Capillary refused, and the
submit state the review page announces."""

from __future__ import annotations

import re
from datetime import timedelta

from services.lifecycle.wording import ADVICE, KIND_WHAT
from tests.lifecycle_helpers import allow_next_poll, decide_in_capillary, record, submit
from tests.test_tokens import MAKER_TOKEN
from views.template_helpers import clock_time


def _html(response) -> str:
    return response.get_data(as_text=True)


def test_an_unknown_outcome_says_by_when_the_app_will_know_in_the_persons_zone(app, client, sandbox, valid_form):
    sandbox.inject_fault("500", count=1, endpoint="create")
    pk = submit(client, valid_form)
    saved = record(app, pk)
    assert saved.state == "unknown"
    client.set_cookie("tz", "Asia/Kolkata")
    html = _html(client.get(f"/requests/{pk}"))
    deadline = saved.created_at + timedelta(seconds=app.config["CAP_RECONCILE_GRACE_SECONDS"])
    with app.test_request_context(headers={"Cookie": "tz=Asia/Kolkata"}):
        when = clock_time(deadline)
    assert "+0530" in when or "IST" in when, when
    assert (f"the app checks Capillary's request list by itself, and by {when} at the latest it will "
            "either show the request here or offer to resend it.") in html
    assert 'data-live="true"' in html  # the page keeps checking by itself (static/js/status.js)


def test_a_change_capillary_could_not_apply_offers_fix_and_submit_again(app, client, checker_client, sandbox,
                                                                          valid_form):
    # Without the customer look-up (issue 14), an unknown customer reaches Capillary and fails there.
    app.config["CAP_CUSTOMER_LOOKUP"] = False
    unknown_customer = {**valid_form, "identifierValue": "9123456789"}
    pk = submit(client, unknown_customer)
    decide_in_capillary(sandbox, record(app, pk).request_id, "approved")
    allow_next_poll(app, pk)
    page = _html(client.get(f"/requests/{pk}"))
    assert record(app, pk).state == "failed"
    fix = re.search(r'<a class="button primary" href="([^"]+)">Fix and submit again</a>', page)
    assert fix and fix.group(1) == f"/requests/new?from={pk}"

    form = _html(client.get(fix.group(1)))
    assert f"Request {pk} was not done: Approved, but Capillary could not apply the change. Customer not found" in form
    assert 'value="919123456789"' in form and "Suspected fraud at till 3" in form  # filled from the record
    key = re.search(r'name="submission_key"[^>]*value="([0-9a-f]{32})"', form).group(1)
    assert key != record(app, pk).submission_key  # a new submission, never a resend of the same key


def test_a_request_capillary_applied_offers_no_fix(app, client, sandbox, valid_form):
    pk = submit(client, valid_form)
    decide_in_capillary(sandbox, record(app, pk).request_id, "approved")
    allow_next_poll(app, pk)
    page = _html(client.get(f"/requests/{pk}"))
    assert record(app, pk).state == "approved" and "Fix and submit again" not in page


def test_a_refused_shared_token_is_named_as_the_shared_one(app, client, sandbox, valid_form):
    sandbox.inject_fault("401", count=1, endpoint="create")
    html = _html(client.get(f"/requests/{submit(client, valid_form)}"))
    prose = re.sub(r'(?s)<span class="break">.*?</span>', "", html)  # Capillary's own words are data
    assert "X-CAP-UI-AUTH-TOKEN" not in prose
    assert str(KIND_WHAT["token_rejected"]) in prose
    assert str(ADVICE["token_rejected"]).replace("'", "&#39;") in prose


def test_a_refused_own_token_is_named_as_theirs(app, client, sandbox, valid_form):
    assert client.post("/profile/token", data={"token": MAKER_TOKEN}).status_code == 303
    sandbox.inject_fault("401", count=1, endpoint="create")
    pk = submit(client, valid_form)
    assert record(app, pk).error_kind == "own_token_refused"
    html = _html(client.get(f"/requests/{pk}"))
    assert "Capillary refused your own Capillary token: it is invalid or has expired." in html
    assert str(ADVICE["own_token_refused"]) in html
    assert "shared Capillary token" not in html


def test_the_review_page_announces_the_submit_state(client, valid_form):
    html = _html(client.post("/requests/new", data={**valid_form, "action": "review"}))
    form = re.search(r'(?s)<form[^>]*action="/requests"[^>]*>.*?</form>', html).group(0)
    assert re.search(r'data-sending-text="Sending to Capillary… This can take up to \d+ seconds; keep this page '
                     r'open\."', form)
    assert '<p class="sending-state" role="status" data-sending-status></p>' in form
