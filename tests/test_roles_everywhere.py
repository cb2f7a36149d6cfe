"""Roles kept the same on every page: decision controls, the request form for administrators, the trainer role."""

from __future__ import annotations

import pytest

from extensions import db
from services.people import accounts
from tests.helpers import sign_in, signed_in_client
from tests.lifecycle_helpers import record, submit

DECIDE_LINK = "Approve or reject…"


@pytest.mark.parametrize("role", ["maker", "agent", "admin", "trainer"])
def test_only_people_who_may_decide_see_the_decision_controls(app, client, valid_form, role):
    pk = submit(client, valid_form)
    viewer = client if role == "agent" else signed_in_client(app, role)
    page = viewer.get(f"/requests/{pk}").get_data(as_text=True)
    assert DECIDE_LINK not in page and f"/approvals/{pk}" not in page
    live = viewer.get(f"/requests/{pk}/live").get_data(as_text=True)  # the part status.js redraws
    assert DECIDE_LINK not in live


def test_a_checker_sees_them_but_not_on_their_own_request(app, client, checker_client, valid_form):
    pk = submit(client, valid_form)
    assert f'href="/approvals/{pk}">{DECIDE_LINK}' in checker_client.get(f"/requests/{pk}").get_data(as_text=True)
    with app.app_context():
        accounts.create_user("quinn", ["agent", "checker"], "a-long-enough-pass-42", actor=None)
        db.session.commit()
    both = app.test_client()
    sign_in(both, "quinn", "a-long-enough-pass-42")
    own = submit(both, {**valid_form, "reason": "Their own"}, key="b" * 32)
    assert DECIDE_LINK not in both.get(f"/requests/{own}").get_data(as_text=True)


def test_an_administrator_may_use_the_request_form_for_any_store(app, sandbox, valid_form):
    admin = signed_in_client(app, "admin")
    assert admin.get("/requests/new").status_code == 200
    pk = submit(admin, {**valid_form, "storeId": "60000002", "tillId": "60000001", "zoneId": "60000003",
                        "conceptId": "60000004"})
    found = record(app, pk)
    assert (found.store_id, found.submitted_by, found.state) == ("60000002", "Demo administrator", "AdminTask")


def test_a_refusal_tells_an_administrator_where_to_give_the_role(app):
    refused = signed_in_client(app, "admin").get("/approvals")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 403
    assert "needs the checker role" in text and "Your roles: administrator" in text
    assert "give yourself that role on the People page" in text and "Ask an administrator" not in text
    maker = signed_in_client(app, "maker").get("/approvals").get_data(as_text=True)
    assert "Ask an administrator" in maker and "Your roles: maker" in maker


def test_the_trainer_role_is_given_like_any_other(app):
    result = app.test_cli_runner().invoke(args=["users", "create", "tina", "--role", "trainer", "--password-stdin"],
                                          input="a sturdy first password\n")
    assert result.exit_code == 0, result.output
    assert "Created tina (trainer)." in result.output
    tina = app.test_client()
    sign_in(tina, "tina", "a sturdy first password")
    assert tina.post("/sandbox/settings", data={"latency_ms": "0"}).status_code == 303
    assert tina.get("/approvals").status_code == 403
