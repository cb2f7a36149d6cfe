"""The sign-in, idle, role and store gate runs before the CSRF check (security finding 1).

A form refused by the CSRF check is drawn again with what was typed (views/errors.py). That
page must never show what the person could not open with a GET: before the fix the CSRF check
ran first, so a post without a token drew the page for a session past its idle timeout.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from extensions import db
from models import TrackedRequest
from models.users import User
from tests.helpers import VALID_FORM, make_app, signed_in_client
from views.access import SEEN_AT

OTHER_STORE = {"tillId": "60000001", "storeId": "60000002", "zoneId": "60000003", "conceptId": "60000004",
               "identifierValue": "9123456780", "reason": "Another store's secret reason"}
# What the decision page shows of a request: none of it may reach someone who cannot open it.
SHOWN = ("9123456780", "Another store&#39;s secret reason", "60000002")


@pytest.fixture
def app(tmp_path):
    # The other store's customer is not in the sandbox's directory: the look-up (issue 14) is not
    # what these tests are about, so it is off.
    return make_app(tmp_path, {"CAP_CUSTOMER_LOOKUP": "off"})


def _other_stores_request(app) -> int:
    """A request of store 60000002, submitted by the agent with CSRF off (the set-up, not the test)."""
    agent = signed_in_client(app, "agent")
    response = agent.post("/requests", data={**VALID_FORM, **OTHER_STORE, "submission_key": "f1" * 16})
    assert response.status_code == 303
    with app.app_context():
        return db.session.scalars(select(TrackedRequest.id)).one()


def _csrf_on(app) -> None:
    app.config["WTF_CSRF_ENABLED"] = True


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_a_maker_posting_without_a_token_sees_nothing_of_another_stores_request(app):
    pk = _other_stores_request(app)
    maker = signed_in_client(app, "maker")
    _csrf_on(app)
    response = maker.post(f"/approvals/{pk}", data={"decision": "approved", "message": "x", "step": "review"})
    assert response.status_code == 403
    page = _text(response)
    assert not [value for value in SHOWN if value in page]
    assert "This page needs the checker role" in page


def test_a_checker_past_the_idle_timeout_is_sent_to_sign_in_not_shown_the_form(app):
    pk = _other_stores_request(app)
    checker = signed_in_client(app, "checker")
    assert SHOWN[0] in _text(checker.get(f"/approvals/{pk}"))  # while signed in, a checker may open it
    with checker.session_transaction() as session:
        session[SEEN_AT] -= 31 * 60
    _csrf_on(app)
    response = checker.post(f"/approvals/{pk}", data={"decision": "approved", "message": "x", "step": "review"})
    page = _text(response)
    assert response.status_code == 401
    assert 'name="password"' in page  # the sign-in page, carrying the form for afterwards
    assert not [value for value in SHOWN if value in page]
    # The session really ended: the next page asks for sign-in too.
    assert checker.get(f"/approvals/{pk}").status_code == 302


def test_a_maker_posting_to_the_people_form_without_a_token_gets_403_not_the_form(app):
    admin = signed_in_client(app, "admin")
    with app.app_context():
        user_id = db.session.scalars(select(User.id).where(User.username == "admin")).one()
    assert "admin" in _text(admin.get(f"/admin/users/{user_id}"))
    maker = signed_in_client(app, "maker")
    _csrf_on(app)
    response = maker.post(f"/admin/users/{user_id}", data={"username": "admin", "roles": "maker"})
    assert response.status_code == 403
    page = _text(response)
    assert not re.search(r'name="username"[^>]*value="admin"', page)
    assert "This page needs the administrator role" in page


def test_a_token_is_still_needed_once_the_gate_lets_the_person_in(app):
    pk = _other_stores_request(app)
    checker = signed_in_client(app, "checker")
    _csrf_on(app)
    response = checker.post(f"/approvals/{pk}", data={"decision": "approved", "message": "x", "step": "confirm"})
    assert response.status_code == 400
    assert "This form expired" in _text(response)
    with app.app_context():
        assert db.session.get(TrackedRequest, pk).state == "AdminTask"  # nothing was decided
