"""Form → review → submit → status page, against the embedded sandbox; failures and double submits."""

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import TrackedRequest


def _review(client, form):
    response = client.post("/requests/new", data=form)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def _submit(client, form):
    return client.post("/requests", data=form)


def _records(app):
    with app.app_context():
        return db.session.scalars(select(TrackedRequest)).all()


def test_root_leads_to_the_form(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/requests/new")
    page = client.get("/requests/new").get_data(as_text=True)
    for label in ("Till ID", "Store ID", "Zone ID", "Concept ID", "Identifier type",
                  "Identifier value", "New status label", "Reason"):
        assert f">{label}</label>" in page
    for name in ("tillId", "storeId", "zoneId", "conceptId", "identifierName", "identifierValue",
                 "label", "reason", "source", "accountId", "use_async", "submission_key"):
        assert f'name="{name}"' in page


def test_review_shows_target_and_exact_json_with_authorization_masked(app, client, valid_form):
    html = _review(client, valid_form)
    assert "/api_gateway/v2/request-workflow/CUSTOMER-STATUS-CHANGE" in html
    assert "&#34;identifierValue&#34;: &#34;919780375690&#34;" in html
    assert "&#34;method&#34;: &#34;PUT&#34;" in html
    assert "Submit request" in html and "Edit" in html
    assert "(hidden)" in html
    # Neither the real inner Authorization nor the UI token appears.
    from gateway.payload import intouch_basic_authorization

    secret = intouch_basic_authorization(app.config["CAP_INTOUCH_USERNAME"], app.config["CAP_INTOUCH_PASSWORD"])
    assert secret.split()[1] not in html
    assert app.config["CAP_UI_AUTH_TOKEN"] not in html


def test_edit_from_review_brings_the_form_back_filled(client, valid_form):
    response = client.post("/requests/new", data={**valid_form, "action": "edit"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Check request" in html
    assert 'value="9780375690"' in html
    assert "Suspected fraud at till 3" in html


def test_submit_stores_sends_and_redirects_to_status_page(app, client, sandbox, valid_form):
    html = _review(client, valid_form)
    key = re.search(r'name="submission_key" value="([0-9a-f]+)"', html).group(1)
    response = _submit(client, {**valid_form, "submission_key": key})
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Waiting for approval" in text
    assert "Waiting for a checker" in text
    with app.app_context():
        (record,) = db.session.scalars(select(TrackedRequest)).all()
        assert record.state == "AdminTask"
        assert record.request_id and record.request_id in text
        assert record.identifier_value == "919780375690"
        assert [e.state for e in record.events] == ["sending", "AdminTask"]
        # The stored payload and details never hold the Authorization value.
        stored = str(record.payload) + str(record.details)
        assert "Basic " not in stored
    assert sandbox.created_count == 1


def test_double_submit_makes_one_record_and_one_call(app, client, sandbox, valid_form):
    form = {**valid_form, "submission_key": "a" * 32}
    first = _submit(client, form)
    second = _submit(client, form)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert sandbox.created_count == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TrackedRequest)) == 1


FAILURES = [
    # fault kind, expected state, words on the page
    ("refused", "failed_to_submit", "could not be reached"),
    ("500", "unknown", "failed with an internal error"),
    ("503", "failed_to_submit", "temporarily unavailable"),
    ("400-empty", "failed_to_submit", "refused the request as it was sent"),
    ("401", "failed_to_submit", "invalid or has expired"),
    ("403", "failed_to_submit", "CanMakeRequest"),
    ("not-json", "unknown", "answer could not be read"),
    ("no-data", "unknown", "answer could not be read"),
    ("timeout", "unknown", "did not come in time"),
]


@pytest.mark.parametrize(("fault", "state", "words"), FAILURES)
def test_gateway_failures_are_explained_and_recorded(app, client, sandbox, valid_form, fault, state, words):
    sandbox.inject_fault(fault, count=1, endpoint="create")
    response = _submit(client, {**valid_form, "submission_key": "f" * 32})
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert words in html
    assert "Does it exist in Capillary?" in html
    (record,) = _records(app)
    assert record.state == state
    assert record.error_message
    if state == "failed_to_submit":
        assert "Edit and retry" in html
        retry = client.get(f"/requests/new?from={record.id}").get_data(as_text=True)
        assert 'value="919780375690"' in retry
        assert "Suspected fraud at till 3" in retry
        assert 'value="' + "f" * 32 + '"' not in retry  # a fresh submission key
    else:
        assert "Maybe" in html


def test_post_without_csrf_token_gets_a_400_page_in_the_layout(tmp_path, valid_form):
    from tests.helpers import make_app, signed_in_client

    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    client = signed_in_client(app)
    response = client.post("/requests/new", data=valid_form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "This form expired" in html
    assert "Customer status requests" in html  # the app's layout
    assert 'value="Suspected fraud at till 3"' in html or "Suspected fraud at till 3" in html
    other = client.post("/requests/999/refresh")
    assert other.status_code in (400, 404, 405)
    assert "Customer status requests" in other.get_data(as_text=True)


def test_unknown_pages_get_a_404_in_the_layout(client):
    response = client.get("/requests/424242")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_history_lists_newest_first_with_pagination(app, client, valid_form):
    for n in range(27):
        _submit(client, {**valid_form, "reason": f"reason number {n}", "submission_key": f"{n:032d}"})
    first = client.get("/requests").get_data(as_text=True)
    assert "27 requests match" in first
    ids = [int(i) for i in re.findall(r'<td[^>]*><a href="/requests/(\d+)"', first)]
    assert ids == sorted(ids, reverse=True) and len(ids) == 25
    # Keyset pages (tests/test_history.py covers them in depth): the next link shows the rest.
    next_url = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(next_url).get_data(as_text=True)
    rest = [int(i) for i in re.findall(r'<td[^>]*><a href="/requests/(\d+)"', second)]
    assert rest == sorted(rest, reverse=True) and len(rest) == 2 and max(rest) < min(ids)


def test_an_integrity_error_other_than_a_used_key_is_raised(app, sandbox, valid_form):
    # The IntegrityError branch of submit() is for losing a race on the submission key. Any other
    # broken constraint must surface as itself, not come back as a (None, False) "earlier record".
    from gateway.payload import StatusChange
    from services.lifecycle import submission

    with app.test_request_context():
        with pytest.raises(IntegrityError):
            submission.submit(StatusChange(**valid_form), "c" * 32, actor=None, till_id=None)  # NOT NULL
        assert db.session.scalar(select(func.count()).select_from(TrackedRequest)) == 0
    assert sandbox.created_count == 0
