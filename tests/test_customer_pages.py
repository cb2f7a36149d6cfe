"""Know the customer on the form and the review page (services/customers.py, views/requests/form.py).

"Find customer" with and without JavaScript's fragment, the review page's sentence, card and
checks (not found blocks, no-op and duplicate need a tick, a failed look-up only informs), the
server refusing a create POST for a customer Capillary does not know, and names never stored.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from extensions import db
from models import AuditEvent, TrackedRequest
from tests.helpers import make_app, sign_in
from tests.lifecycle_helpers import submit

UNKNOWN = "9000000001"  # a valid Indian mobile no sandbox customer has


def find(client, form, **extra):
    return client.post("/requests/new", data={**form, "action": "find", **extra})


def review(client, form):
    return client.post("/requests/new", data={**form, "action": "review"})


def text(response) -> str:
    return response.get_data(as_text=True)


def stored(app) -> int:
    with app.app_context():
        return len(db.session.scalars(select(TrackedRequest)).all())


def test_the_form_offers_find_customer(client):
    page = text(client.get("/requests/new"))
    assert 'value="find"' in page and 'aria-live="polite"' in page and "js/customer.js" in page


def test_find_customer_without_javascript_redraws_the_form_with_the_card(client, valid_form):
    response = find(client, {**valid_form, "tillId": "", "reason": ""})  # only the identifier matters
    page = text(response)
    assert response.status_code == 200 and "There is a problem" not in page
    assert "<bdi>Asha Rao</bdi>" in page and "Active (status ACTIVE)" in page and "Member since" in page
    assert 'name="tillId"' in page  # the form is still there, with what was typed


def test_find_customer_with_javascript_answers_only_the_card(client, valid_form):
    response = find(client, valid_form, fragment="1")
    assert response.status_code == 200
    assert "<html" not in text(response) and "Asha Rao" in text(response)
    bad = find(client, {**valid_form, "identifierValue": "12"}, fragment="1")
    assert bad.status_code == 422 and "mobile number" in text(bad)


def test_find_an_unknown_customer_says_so(client, valid_form):
    page = text(find(client, {**valid_form, "identifierValue": UNKNOWN}))
    assert "No customer found" in page and "code 8015" in page


def test_the_card_lists_open_requests_imported_ones_included(app, client, valid_form):
    pk = submit(client, valid_form)
    with app.app_context():
        db.session.add(TrackedRequest(submission_key="imported-1", request_id="cap-1", state="AdminTask",
                                      origin="imported", till_id="1", store_id="2", zone_id="3", concept_id="4",
                                      identifier_name="mobile", identifier_value="919780375690",
                                      label="Active", reason="from Capillary"))
        db.session.commit()
    page = text(find(client, valid_form))
    assert f'href="/requests/{pk}"' in page and "made in Capillary" in page


def test_another_stores_open_request_is_listed_to_a_maker_without_a_link(app, client, maker_client, valid_form):
    with app.app_context():
        other = TrackedRequest(submission_key="elsewhere-1", state="AdminTask", till_id="1", store_id="999",
                               zone_id="3", concept_id="4", identifier_name="mobile",
                               identifier_value="919780375690", label="Fraud suspected", reason="other store")
        db.session.add(other)
        db.session.commit()
        pk = other.id
    listed = f"Request {pk}</a>: Fraud suspected"
    assert listed in text(find(client, valid_form))  # an agent may open any store's request
    page = text(find(maker_client, valid_form))
    assert f"Request {pk}: Fraud suspected" in page and f'href="/requests/{pk}"' not in page


def test_the_review_page_speaks_to_a_store_manager(client, valid_form):
    page = text(review(client, valid_form))
    assert "Change <bdi>Asha Rao</bdi>'s status from Active to Suspended." in page
    assert page.index("change-sentence") < page.index("customer-card") < page.index("Submit request")
    assert page.index("Submit request") < page.index('<details class="request-details">')  # closed: no "open"
    assert "No problems found" in page


def test_not_found_has_no_submit_and_the_server_refuses_it(app, client, valid_form, sandbox):
    form = {**valid_form, "identifierValue": UNKNOWN}
    page = text(review(client, form))
    assert "Submit request" not in page and 'value="edit"' in page and "matches no customer" in page
    response = client.post("/requests", data=form)  # a stale page, a second tab, a hand-made POST
    assert response.status_code == 422 and "Nothing was sent" in text(response)
    assert stored(app) == 0 and sandbox.created_count == 0


def test_an_invalid_identifier_blocks_too(app, client, valid_form, sandbox):
    sandbox.inject_fault("code-8013", endpoint="lookup")
    assert client.post("/requests", data=valid_form).status_code == 422
    assert stored(app) == 0


def test_an_allowed_unknown_customer_needs_the_tick(tmp_path, valid_form):
    app = make_app(tmp_path, {"CAP_ALLOW_UNKNOWN_CUSTOMER": "true"})
    client = app.test_client()
    sign_in(client, "agent")
    form = {**valid_form, "identifierValue": UNKNOWN}
    assert 'name="confirm_unknown"' in text(review(client, form))
    assert client.post("/requests", data={**form, "reviewed": "1"}).status_code == 422
    assert submit(client, {**form, "confirm_unknown": "y"})
    assert stored(app) == 1


def test_a_no_op_needs_the_tick(app, client, valid_form):
    form = {**valid_form, "label": "Active"}  # Asha Rao is Active
    page = text(review(client, form))
    assert "already has the status label Active" in page and 'name="confirm_noop" value="y" required' in page
    assert client.post("/requests", data={**form, "reviewed": "1"}).status_code == 422
    assert stored(app) == 0
    submit(client, {**form, "reviewed": "1", "confirm_noop": "y"})
    assert stored(app) == 1


def test_a_duplicate_needs_the_tick_and_links_the_other_request(app, client, valid_form):
    first = submit(client, valid_form)
    page = text(review(client, valid_form))
    assert "still open" in page and f'href="/requests/{first}"' in page and 'name="confirm_duplicate"' in page
    assert client.post("/requests", data={**valid_form, "reviewed": "1", "submission_key": "b" * 32}).status_code == 422
    submit(client, {**valid_form, "reviewed": "1", "confirm_duplicate": "y"}, key="c" * 32)
    assert stored(app) == 2


@pytest.mark.parametrize("fault", ["timeout", "500", "401", "unreadable"])
def test_a_failed_look_up_only_informs(app, client, valid_form, sandbox, fault):
    sandbox.inject_fault(fault, endpoint="lookup", count=2)  # the review's and the create's look-ups
    page = text(review(client, valid_form))
    assert "Customer not checked" in page and "Submit request" in page
    submit(client, {**valid_form, "reviewed": "1"})
    assert stored(app) == 1 and sandbox.created_count == 1


def test_an_empty_status_log_and_a_failed_one_show_the_name_without_a_status(client, valid_form, sandbox):
    sandbox.inject_fault("503", endpoint="statuslog")
    page = text(review(client, valid_form))
    assert "could not be read just now" in page and "Change <bdi>Asha Rao</bdi>'s status to Suspended." in page
    with sandbox._lock:  # the directory holds no customer with an empty log: make one
        sandbox._customers[0]["statusLog"] = []
    page = text(find(client, {**valid_form, "identifierValue": "9780375691"}))  # another customer: no cache
    assert "Vikram Shah" in page
    page = text(review(client, {**valid_form, "identifierValue": "919780375690", "source": "WEBSITE"}))
    assert "has no entry for this customer" in page


def test_names_with_markup_or_right_to_left_text_are_shown_as_text(client, valid_form, sandbox):
    with sandbox._lock:
        sandbox._customers[0]["name"] = "<script>alert(1)</script> \u0622\u0634\u0627"
    page = text(review(client, valid_form))
    assert "<script>alert(1)" not in page
    assert "<bdi>&lt;script&gt;alert(1)&lt;/script&gt; \u0622\u0634\u0627</bdi>" in page


def test_look_ups_off_hide_the_card_and_the_checks(tmp_path, valid_form):
    app = make_app(tmp_path, {"CAP_CUSTOMER_LOOKUP": "off"})
    client = app.test_client()
    sign_in(client, "agent")
    assert 'value="find"' not in text(client.get("/requests/new"))
    page = text(review(client, {**valid_form, "identifierValue": UNKNOWN}))
    assert "customer-card" not in page and "Submit request" in page
    submit(client, {**valid_form, "identifierValue": UNKNOWN})
    assert stored(app) == 1


def test_the_submit_reuses_the_review_look_up(client, valid_form, sandbox):
    review(client, valid_form)
    before = len(sandbox.customer_calls)
    submit(client, {**valid_form, "reviewed": "1"})
    assert len(sandbox.customer_calls) == before  # the cache answered


def test_names_are_never_stored(app, client, valid_form):
    review(client, valid_form)
    submit(client, {**valid_form, "reviewed": "1"})
    with app.app_context():
        record = db.session.scalars(select(TrackedRequest)).one()
        columns = [str(getattr(record, c.key)) for c in TrackedRequest.__table__.columns]
        events = [str(e.note) for e in record.events]
        audit = [f"{a.action} {a.target} {a.detail}" for a in db.session.scalars(select(AuditEvent))]
    assert not any("Asha" in value for value in columns + events + audit)
    cookie = client.get_cookie("session")
    assert cookie is None or "Asha" not in cookie.value


def test_the_sentence_is_translated_whole(client, valid_form):
    client.set_cookie("lang", "es")
    page = text(review(client, valid_form))
    assert re.search(r"Cambiar el estado de <bdi>Asha Rao</bdi> de Active a Suspended\.", page)
