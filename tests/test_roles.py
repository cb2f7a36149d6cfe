"""Role boundaries: who may open which page, store scoping for makers, and the maker-checker rule."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from extensions import db
from models import TrackedRequest
from services.people import accounts
from tests.helpers import VALID_FORM, make_app, sign_in, signed_in_client

PASSWORD = "a long enough secret 42"  # noqa: S105 - a test account's
OTHER_STORE = {"tillId": "60000001", "storeId": "60000002", "zoneId": "60000003", "conceptId": "60000004"}


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def _submit(client, form, key):
    return client.post("/requests", data={**form, "submission_key": key})


def _record_ids(app):
    with app.app_context():
        return db.session.scalars(select(TrackedRequest.id).order_by(TrackedRequest.id)).all()


def _person(app, name, roles, stores=()):
    with app.app_context():
        accounts.create_user(name, roles, PASSWORD, stores, actor=None, actor_name="test")
        db.session.commit()
    client = app.test_client()
    sign_in(client, name, PASSWORD)
    return client


# -- which pages each role opens ------------------------------------------------------------------------

PAGES = [
    # path, roles that may open it
    ("/requests/new", {"maker", "agent", "admin"}),
    ("/requests", {"maker", "agent", "checker", "admin", "trainer"}),
    ("/profile", {"maker", "agent", "checker", "admin", "trainer"}),
    ("/approvals", {"checker"}),
    ("/admin/users", {"admin"}),
    ("/admin/audit", {"admin"}),
    ("/admin/audit.csv", {"admin"}),
    ("/admin/settings", {"admin"}),
    ("/bulk", {"agent", "admin"}),
    ("/sandbox", {"maker", "agent", "checker", "admin", "trainer"}),  # the trainer page, in sandbox mode
    ("/sandbox/reset", {"admin", "trainer"}),  # its switches change the sandbox for everybody
]


@pytest.mark.parametrize("role", ["maker", "agent", "checker", "admin", "trainer"])
def test_each_role_opens_exactly_its_pages(app, role):
    client = signed_in_client(app, role)
    for path, allowed in PAGES:  # every one must exist: a missing page answers 404 and fails here
        with client.get(path) as response:
            expected = 200 if role in allowed else 403
            assert response.status_code == expected, (role, path, response.status_code)
            if expected == 403:
                assert "You do not have access to this page" in _text(response)
                # An administrator is told where to give themselves the role, not to ask one.
                assert ("Ask an administrator" in _text(response)) is (role != "admin")


def test_the_navigation_shows_only_what_the_role_opens(app):
    checker_page = signed_in_client(app, "checker").get("/profile").get_data(as_text=True)
    assert 'href="/requests/new"' not in checker_page and 'href="/admin/users"' not in checker_page
    admin_page = signed_in_client(app, "admin").get("/profile").get_data(as_text=True)
    assert 'href="/admin/users"' in admin_page and 'href="/requests/new"' in admin_page
    agent_page = signed_in_client(app, "agent").get("/profile").get_data(as_text=True)
    assert 'href="/requests/new"' in agent_page and 'href="/admin/users"' not in agent_page
    assert "Signed in as" in agent_page and "(support agent)" in agent_page


def test_a_person_with_several_roles_has_all_of_them(app):
    both = _person(app, "pat", ["agent", "checker"])
    assert both.get("/requests/new").status_code == 200
    assert both.get("/approvals").status_code == 200
    assert both.get("/admin/users").status_code == 403


def test_post_routes_are_guarded_too(app, checker_client, sandbox):
    response = _submit(checker_client, VALID_FORM, "d" * 32)
    assert response.status_code == 403
    assert sandbox.created_count == 0
    assert _record_ids(app) == []


def test_the_trainer_page_does_not_exist_outside_the_sandbox(tmp_path):
    from tests.test_config import REAL

    app = make_app(tmp_path, REAL)
    client = signed_in_client(app, "admin")
    assert client.get("/sandbox").status_code == 404


# -- makers: their own stores only ---------------------------------------------------------------------


def test_the_makers_form_is_filled_from_their_store_and_locked(maker_client):
    html = maker_client.get("/requests/new").get_data(as_text=True)
    store_input = re.search(r'<input[^>]*name="storeId"[^>]*>', html).group(0)
    assert "readonly" in store_input and 'value="50682288"' in store_input
    for value in ("50682288", "50682286", "50678331", "50682289"):
        assert f'value="{value}"' in html
    assert "Your store (50682288)" in html


def test_a_maker_submits_for_their_store(app, maker_client, sandbox):
    response = _submit(maker_client, VALID_FORM, "e" * 32)
    assert response.status_code == 303
    assert sandbox.created_count == 1
    with app.app_context():
        (record,) = db.session.scalars(select(TrackedRequest)).all()
        assert record.submitter.username == "maker"


@pytest.mark.parametrize("change", [
    {"storeId": "60000002"},  # another store
    {"zoneId": "60000003"},  # their store, but claimed in another zone
    {"conceptId": "60000004"},
])
def test_a_maker_cannot_submit_for_another_store_even_by_editing_the_page(app, maker_client, sandbox, change):
    review = maker_client.post("/requests/new", data={**VALID_FORM, **change})
    assert review.status_code == 422
    text = _text(review)
    assert "You can only submit for your own store: 50682288" in text or "Store 50682288 is in" in text
    created = _submit(maker_client, {**VALID_FORM, **change}, "f" * 32)
    assert created.status_code == 422
    assert sandbox.created_count == 0
    assert _record_ids(app) == []


def test_an_agent_submits_for_any_store(app, client, sandbox):
    assert _submit(client, {**VALID_FORM, **OTHER_STORE}, "a1" * 16).status_code == 303
    assert _submit(client, VALID_FORM, "a2" * 16).status_code == 303
    assert sandbox.created_count == 2


def test_a_maker_with_several_stores_may_pick_only_among_them(app, sandbox):
    maker = _person(app, "morgan", ["maker"], ["50682288", "60000002 zone=60000003 concept=60000004"])
    page = _text(maker.get("/requests/new"))
    assert "Your stores: 50682288, 60000002" in page
    assert _submit(maker, {**VALID_FORM, **OTHER_STORE}, "b1" * 16).status_code == 303
    assert _submit(maker, {**VALID_FORM, "storeId": "70000000"}, "b2" * 16).status_code == 422
    assert sandbox.created_count == 1


def test_a_maker_sees_only_their_stores_requests(app, client, maker_client):
    assert _submit(client, {**VALID_FORM, **OTHER_STORE}, "c1" * 16).status_code == 303
    assert _submit(client, VALID_FORM, "c2" * 16).status_code == 303
    other_id, own_id = _record_ids(app)
    assert maker_client.get(f"/requests/{other_id}").status_code == 404
    assert maker_client.get(f"/requests/new?from={other_id}").status_code == 404
    assert maker_client.get(f"/requests/{own_id}").status_code == 200
    history = maker_client.get("/requests").get_data(as_text=True)
    assert f'href="/requests/{own_id}"' in history and f'href="/requests/{other_id}"' not in history
    agent_history = client.get("/requests").get_data(as_text=True)
    assert f'href="/requests/{other_id}"' in agent_history


def test_a_maker_cannot_act_on_another_stores_request_through_its_status_actions(app, client, maker_client):
    assert _submit(client, {**VALID_FORM, **OTHER_STORE}, "d1" * 16).status_code == 303
    (other_id,) = _record_ids(app)
    assert maker_client.get(f"/requests/{other_id}/live").status_code == 404
    assert maker_client.post(f"/requests/{other_id}/refresh").status_code == 404


# -- checkers: never their own request ----------------------------------------------------------------


def _pending_request(app, client):
    assert _submit(client, VALID_FORM, "e1" * 16).status_code == 303
    (pk,) = _record_ids(app)
    return pk


def _approve(client, pk):
    return client.post(f"/approvals/{pk}", data={"decision": "approved", "message": "Looks right", "step": "confirm"})


def test_a_checker_cannot_approve_a_request_they_made(app, sandbox):
    if "approvals.decide" not in app.view_functions:
        pytest.fail("the approvals console (views/approvals.py) is missing")
    both = _person(app, "quinn", ["agent", "checker"])
    pk = _pending_request(app, both)
    page = _text(both.get(f"/approvals/{pk}"))
    assert "You submitted this request" in page
    calls_before = len(sandbox.calls)
    response = _approve(both, pk)
    assert response.status_code in (409, 422)
    assert "You submitted this request" in _text(response)
    assert len(sandbox.calls) == calls_before  # nothing was sent to Capillary
    with app.app_context():
        assert db.session.get(TrackedRequest, pk).state == "AdminTask"


def test_another_checker_approves_it(app, client, checker_client, sandbox):
    pk = _pending_request(app, client)
    response = _approve(checker_client, pk)
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(TrackedRequest, pk).state == "approved"


def test_can_decide_rule(app):
    from services.people.permissions import can_decide

    with app.app_context():
        checker, agent = accounts.find_user("checker"), accounts.find_user("agent")
        own = TrackedRequest(submitted_by_id=checker.id)
        other = TrackedRequest(submitted_by_id=agent.id)
        imported = TrackedRequest(submitted_by_id=None)
        assert can_decide(checker, other) and can_decide(checker, imported)
        assert not can_decide(checker, own)
        assert not can_decide(agent, other)  # not a checker


def test_a_maker_cannot_approve(app, client, maker_client, sandbox):
    pk = _pending_request(app, client)
    calls = len(sandbox.calls)
    response = _approve(maker_client, pk)
    assert response.status_code == 403
    assert "checker" in _text(response)
    assert len(sandbox.calls) == calls
    with app.app_context():
        assert db.session.get(TrackedRequest, pk).state == "AdminTask"


# -- bulk files: the uploader and the confirmer are both makers (security finding 6) ----------------


def _bulk_row_request(app, uploader: str, confirmer: str) -> int:
    """A bulk file of one row uploaded by ``uploader``, confirmed by ``confirmer`` and sent; its record's id."""
    from models import Batch, User
    from services.bulk import batches, runner
    from tests.bulk_helpers import make_batch

    batch_id = make_batch(app, 1, confirm=False)
    with app.app_context():
        people = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_([uploader,
                                                                                                  confirmer])))}
        batch = db.session.get(Batch, batch_id)
        batch.created_by_id, batch.created_by_name = people[uploader].id, uploader
        db.session.commit()
        assert batches.confirm(batch, actor=people[confirmer])
        assert batch.confirmed_by_id == people[confirmer].id
        runner.run_batch(batch_id)
        return db.session.scalars(select(TrackedRequest.id).where(TrackedRequest.batch_id == batch_id)).one()


def test_who_confirmed_a_bulk_file_cannot_approve_its_rows(app, sandbox):
    both = _person(app, "quinn", ["agent", "checker"])
    signed_in_client(app, "agent")  # the uploader
    pk = _bulk_row_request(app, uploader="agent", confirmer="quinn")
    with app.app_context():
        assert db.session.get(TrackedRequest, pk).submitted_by == "agent"  # the uploader submits
    assert "You submitted this request" in _text(both.get(f"/approvals/{pk}"))
    calls_before = len(sandbox.calls)
    response = _approve(both, pk)
    assert response.status_code in (409, 422)
    assert len(sandbox.calls) == calls_before  # nothing was sent to Capillary
    # Another checker may.
    assert _approve(signed_in_client(app, "checker"), pk).status_code == 303


def test_who_uploaded_a_bulk_file_cannot_approve_its_rows_whoever_confirmed_it(app, sandbox):
    both = _person(app, "quinn", ["agent", "checker"])
    signed_in_client(app, "admin")  # the confirmer
    pk = _bulk_row_request(app, uploader="quinn", confirmer="admin")
    response = _approve(both, pk)
    assert response.status_code in (409, 422)
    assert "You submitted this request" in _text(response)


# -- a maker's till, and a maker moved off a store (security finding 7) ----------------------------

TILL_SPEC = "50682288 zone=50682286 concept=50678331 till=50682289"


def test_a_maker_assigned_a_till_must_submit_with_that_till(app, sandbox):
    tilly = _person(app, "tilly", ["maker"], [TILL_SPEC])
    response = _submit(tilly, {**VALID_FORM, "tillId": "50682290"}, "t1" * 16)
    assert response.status_code == 422
    assert "At store 50682288 you submit from till 50682289." in _text(response)
    assert sandbox.created_count == 0
    assert _submit(tilly, VALID_FORM, "t2" * 16).status_code == 303  # the assigned till is accepted


def test_a_maker_moved_off_a_store_cannot_resend_an_old_request_of_it(app, sandbox):
    from models import NOT_CREATED, User

    mover = _person(app, "mover", ["maker"], [TILL_SPEC])
    assert _submit(mover, VALID_FORM, "m1" * 16).status_code == 303
    (pk,) = _record_ids(app)
    with app.app_context():
        db.session.get(TrackedRequest, pk).state = NOT_CREATED  # Capillary never created it
        person = db.session.scalars(select(User).where(User.username == "mover")).one()
        accounts.update_user(person, roles=["maker"], stores=["60000002"], display_name="", disabled=False,
                             actor=None)
        db.session.commit()
    created_before = sandbox.created_count
    assert mover.get(f"/requests/{pk}").status_code == 200  # still their own request to look at
    response = mover.post(f"/requests/{pk}/resend")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/requests/{pk}")
    assert "You can only submit for your own store" in _text(mover.get(response.headers["Location"]))
    assert sandbox.created_count == created_before
    assert _record_ids(app) == [pk]  # no new request
