"""The checker console: listing from the gateway, confirmation step, exact PUT, one PUT per decision."""

from __future__ import annotations

import re
import threading

import pytest

from extensions import db
from models import Decision, TrackedRequest
from services.lifecycle import decisions
from services.people import accounts
from tests.helpers import make_app, sign_in
from tests.lifecycle_helpers import allow_next_poll, calls, decide_in_capillary, record, records, set_times, submit

MESSAGE = "Checked the CCTV: suspend"


def _puts(sandbox):
    return calls(sandbox, "approve", "PUT")


def _decide(checker_client, pk, decision="approved", message=MESSAGE, step="confirm"):
    return checker_client.post(f"/approvals/{pk}", data={"decision": decision, "message": message, "step": step})


def test_console_lists_waiting_requests_from_the_gateway_oldest_first(app, client, checker_client, sandbox,
                                                                     valid_form):
    older = submit(client, valid_form, key="a" * 32)
    decided = submit(client, {**valid_form, "reason": "Decided already"}, key="b" * 32)
    decide_in_capillary(sandbox, record(app, decided).request_id, "rejected")
    foreign = sandbox.seed_request(identifier_value="919812345671", label="Fraud confirmed",
                                   reason="Raised at head office", user_name="ui.maker@example.com")

    response = checker_client.get("/approvals")
    html = response.get_data(as_text=True)

    assert response.status_code == 200
    listed = calls(sandbox, "list")[-1]
    assert listed["query"]["states"] == "AdminTask" and listed["query"]["sortOrder"] == "asc"
    assert listed["headers"]["x-cap-ui-auth-token"] == app.config["CAP_CHECKER_UI_AUTH_TOKEN"]
    imported = next(r for r in records(app) if r.request_id == foreign)
    assert imported.origin == "imported"
    # The longest wait on top: the app's own request was made before the one seeded in Capillary.
    assert html.index(f'href="/requests/{older}"') < html.index(f'href="/requests/{imported.id}"')
    assert f'href="/requests/{decided}"' not in html
    for words in ("919812345671", "Fraud confirmed", "Raised at head office", "ui.maker@example.com",
                  "Suspected fraud at till 3", "50682289 / 50682288", "Not reported (made in Capillary)",
                  "under a minute"):
        assert words in html
    assert "2 requests waiting" in html


def test_approve_goes_through_a_confirmation_and_sends_the_exact_body(app, client, checker_client, sandbox,
                                                                      valid_form):
    pk = submit(client, valid_form)
    request_id = record(app, pk).request_id
    form = checker_client.get(f"/approvals/{pk}?decision=approved").get_data(as_text=True)
    assert re.search(r'<input checked id="decision-0" name="decision" required type="radio" value="approved">', form)
    assert "Message to the maker" in form

    confirm = _decide(checker_client, pk, step="review")
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert "Approve request" in page and "Yes, approve it" in page and MESSAGE in page
    assert _puts(sandbox) == []  # nothing sent before the confirmation

    done = _decide(checker_client, pk)
    assert done.status_code == 303 and done.headers["Location"] == "/approvals"  # nothing else waits
    (put,) = _puts(sandbox)
    assert put["path"] == "/api_gateway/v2/request-workflow/CUSTOMER-STATUS-CHANGE"
    assert put["body"] == {
        "requestId": request_id,
        "actionName": "AdminTask",
        "payload": {"AdminTask-Payload": {"actionDecision": "approved", "actionMessage": MESSAGE}},
    }
    assert put["headers"]["x-cap-ui-auth-token"] == app.config["CAP_CHECKER_UI_AUTH_TOKEN"]
    assert put["headers"]["x-cap-api-auth-org-id"] == app.config["CAP_ORG_ID"]

    found = record(app, pk)
    assert found.state == "approved"
    assert f"Approved in this app by Demo checker: “{MESSAGE}”" in found.events[-1].note
    queue = checker_client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"Request {pk}: Approved. Capillary now shows the request as approved." in queue
    assert "Nothing else is waiting for your decision." in queue
    assert "Capillary took the decision." in checker_client.get(f"/requests/{pk}").get_data(as_text=True)
    asha = next(c for c in sandbox.customers() if c["name"] == "Asha Rao")
    assert asha["label"] == "Suspended"


def test_reject_sends_rejected(app, client, checker_client, sandbox, valid_form):
    pk = submit(client, valid_form)
    assert _decide(checker_client, pk, "rejected", "Not enough evidence").status_code == 303
    (put,) = _puts(sandbox)
    assert put["body"]["payload"]["AdminTask-Payload"] == {"actionDecision": "rejected",
                                                           "actionMessage": "Not enough evidence"}
    assert record(app, pk).state == "rejected"


@pytest.mark.parametrize("message", ["", "   "])
def test_an_empty_message_is_refused_before_anything_is_sent(app, client, checker_client, sandbox, valid_form,
                                                             message):
    pk = submit(client, valid_form)
    for step in ("review", "confirm"):
        response = _decide(checker_client, pk, message=message, step=step)
        html = response.get_data(as_text=True)
        assert response.status_code == 422
        assert "Enter a message for the maker" in html and "There is a problem" in html
    assert _puts(sandbox) == []


def test_a_second_confirmation_sends_nothing(app, client, checker_client, sandbox, valid_form):
    pk = submit(client, valid_form)
    assert _decide(checker_client, pk).status_code == 303
    again = _decide(checker_client, pk)  # a double click, or the back button
    other_browser = signed_in_checker(app)
    third = _decide(other_browser, pk, "rejected", "I disagree")
    assert again.status_code == third.status_code == 409
    assert "no longer waiting for approval" in again.get_data(as_text=True)
    assert len(_puts(sandbox)) == 1
    assert record(app, pk).state == "approved"


def signed_in_checker(app):
    other = app.test_client()
    sign_in(other, "checker")
    return other


def test_two_simultaneous_decisions_make_one_put(app, client, sandbox, valid_form):
    pk = submit(client, valid_form)
    sandbox.set_latency_ms(300)  # the first PUT is still in flight when the second claim comes
    barrier = threading.Barrier(2)
    results = []

    def decide(decision):
        with app.test_request_context():
            found = db.session.get(TrackedRequest, pk)
            barrier.wait()
            results.append(decisions.decide(found, decision, f"{decision} at once", actor=None).status)

    threads = [threading.Thread(target=decide, args=(d,)) for d in ("approved", "rejected")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["ok", "refused"]
    assert len(_puts(sandbox)) == 1
    with app.app_context():
        assert db.session.query(Decision).count() == 1


def test_a_request_decided_elsewhere_gets_a_clear_message_and_one_put(app, client, checker_client, sandbox,
                                                                      valid_form):
    pk = submit(client, valid_form)
    decide_in_capillary(sandbox, record(app, pk).request_id, "rejected", "Decided in Capillary's UI")
    response = _decide(checker_client, pk)  # the app still thinks it is waiting
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Capillary did not take the decision" in html and "not waiting for an admin task" in html
    assert "Nothing was changed" in html
    assert len(_puts(sandbox)) == 1
    assert record(app, pk).state == "rejected"  # refreshed to where it really stands
    allow_next_poll(app, pk)
    again = _decide(checker_client, pk)
    assert "no longer waiting for approval" in again.get_data(as_text=True)
    assert len(_puts(sandbox)) == 1


def test_the_review_page_refuses_a_request_that_is_no_longer_waiting(app, client, checker_client, sandbox,
                                                                     valid_form):
    pk = submit(client, valid_form)
    decide_in_capillary(sandbox, record(app, pk).request_id, "approved")
    allow_next_poll(app, pk)
    html = checker_client.get(f"/approvals/{pk}").get_data(as_text=True)
    assert "no longer waiting for approval" in html and "Message to the maker" not in html


def test_an_unanswered_decision_holds_its_claim_until_the_gateway_settles_it(app, client, checker_client,
                                                                             sandbox, valid_form):
    pk = submit(client, valid_form)
    sandbox.inject_fault("500", count=1, endpoint="approve")
    first = _decide(checker_client, pk)
    assert first.status_code == 303
    status = checker_client.get(first.headers["Location"]).get_data(as_text=True)
    assert "Could not confirm the decision" in status
    assert "The decision was sent, but no clear answer came back yet" in status

    blocked = _decide(checker_client, pk, "rejected", "second thoughts")
    assert blocked.status_code == 409 and "no clear answer came back" in blocked.get_data(as_text=True)
    assert len(_puts(sandbox)) == 1

    # Long after, Capillary still shows it waiting: the decision never arrived, so it is released.
    _age_decisions(app, 600)
    allow_next_poll(app, pk)
    checker_client.get(f"/requests/{pk}")
    assert _decide(checker_client, pk).status_code == 303
    assert len(_puts(sandbox)) == 2 and record(app, pk).state == "approved"


def _age_decisions(app, seconds):
    from datetime import timedelta

    from models import utcnow

    with app.app_context():
        for decision in db.session.query(Decision):
            decision.updated_at = utcnow() - timedelta(seconds=seconds)
        db.session.commit()


def test_an_unanswered_decision_that_did_arrive_is_settled_as_sent(app, client, checker_client, sandbox,
                                                                   valid_form):
    pk = submit(client, valid_form)
    sandbox.inject_fault("timeout", count=1, endpoint="approve")  # stalls: the PUT is not applied
    _decide(checker_client, pk)
    decide_in_capillary(sandbox, record(app, pk).request_id, "approved", MESSAGE)  # ...yet it lands
    allow_next_poll(app, pk)
    checker_client.get(f"/requests/{pk}")
    with app.app_context():
        (decision,) = db.session.query(Decision).all()
        assert decision.status == "sent"


@pytest.mark.parametrize(("fault", "words"), [
    ("401", "invalid or has expired"),
    ("503", "temporarily unavailable"),
])
def test_a_refused_decision_frees_the_claim_for_another_try(app, client, checker_client, sandbox, valid_form,
                                                            fault, words):
    pk = submit(client, valid_form)
    sandbox.inject_fault(fault, count=1, endpoint="approve")
    response = _decide(checker_client, pk)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Capillary did not take the decision" in html and words in html
    assert MESSAGE in html  # the message is kept in the form
    assert record(app, pk).state == "AdminTask"
    assert _decide(checker_client, pk).status_code == 303
    assert len(_puts(sandbox)) == 2 and record(app, pk).state == "approved"


def test_own_approval_refused_with_403_is_explained(tmp_path, valid_form):
    # The checker's Capillary identity is the maker's: Capillary's checker-access check refuses.
    app = make_app(tmp_path, {"CAP_CHECKER_UI_AUTH_TOKEN": "sandbox-maker-token"})
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    sandbox.set_forbid_self_approval(True)
    client, checker = app.test_client(), app.test_client()
    sign_in(client, "agent")
    sign_in(checker, "checker")
    pk = submit(client, valid_form)
    html = _decide(checker, pk).get_data(as_text=True)
    # 403 with code 2001: worded as a missing permission, Capillary's own message and code shown.
    assert "no permission for this" in html and "another checker must decide it" in html
    assert "code 2001: “The checker may not approve or reject their own request”" in html
    assert record(app, pk).state == "AdminTask"


def test_console_falls_back_to_the_last_known_list_when_the_gateway_fails(app, client, checker_client, sandbox,
                                                                          valid_form):
    pk = submit(client, valid_form)
    sandbox.inject_fault("timeout", count=1, endpoint="list")
    response = checker_client.get("/approvals")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Could not refresh:" in html and "did not come in time" in html
    assert f'href="/requests/{pk}"' in html


def test_decision_records_the_signed_in_checkers_display_name(app, client, sandbox, valid_form):
    with app.app_context():
        accounts.create_user("chris", ["checker"], "a-long-enough-pass-42", display_name="Chris from Fraud Ops",
                             actor=None, actor_name="test set-up")
        db.session.commit()
    chris = app.test_client()
    sign_in(chris, "chris", "a-long-enough-pass-42")
    pk = submit(client, valid_form)
    _decide(chris, pk)
    with app.app_context():
        (decision,) = db.session.query(Decision).all()
        assert decision.decided_by == "Chris from Fraud Ops"
    assert "by Chris from Fraud Ops" in record(app, pk).events[-1].note


def test_stale_claims_are_not_released_while_fresh(app, client, sandbox, valid_form):
    pk = submit(client, valid_form)
    with app.app_context():
        db.session.add(Decision(request_id=record(app, pk).request_id, tracked_pk=pk, decision="approved",
                                message="m", status="sending"))
        db.session.commit()
    set_times(app, pk, last_polled_at=3600)
    client.get(f"/requests/{pk}")
    with app.app_context():
        assert db.session.query(Decision).one().status == "sending"


def test_every_lifecycle_form_works_with_csrf_protection_on(tmp_path, valid_form):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    agent, checker = app.test_client(), app.test_client()
    sign_in(agent, "agent")
    sign_in(checker, "checker")

    def token(html):
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)

    form = agent.get("/requests/new").get_data(as_text=True)
    created = agent.post("/requests", data={**valid_form, "submission_key": "f" * 32, "csrf_token": token(form)})
    pk = int(created.headers["Location"].rsplit("/", 1)[1])
    status = agent.get(f"/requests/{pk}").get_data(as_text=True)
    assert agent.post(f"/requests/{pk}/refresh", data={"csrf_token": token(status)}).status_code == 303
    assert agent.post(f"/requests/{pk}/refresh").status_code == 400  # no token: refused

    review = checker.get(f"/approvals/{pk}").get_data(as_text=True)
    confirm = checker.post(f"/approvals/{pk}", data={"decision": "approved", "message": MESSAGE, "step": "review",
                                                     "csrf_token": token(review)}).get_data(as_text=True)
    done = checker.post(f"/approvals/{pk}", data={"decision": "approved", "message": MESSAGE, "step": "confirm",
                                                  "csrf_token": token(confirm)})
    assert done.status_code == 303 and len(_puts(sandbox)) == 1

    trainer = app.test_client()
    sign_in(trainer, "trainer")
    page = trainer.get("/sandbox").get_data(as_text=True)
    saved = trainer.post("/sandbox/settings", data={"auto_approve": "y", "latency_ms": "0",
                                                    "csrf_token": token(page)})
    assert saved.status_code == 303 and sandbox.settings()["auto_approve"] is True


def test_approve_and_next_lands_on_the_next_waiting_request(app, client, checker_client, sandbox, valid_form):
    first = submit(client, valid_form, key="a" * 32)
    second = submit(client, {**valid_form, "reason": "Second"}, key="b" * 32)
    third = submit(client, {**valid_form, "reason": "Third"}, key="c" * 32)
    page = checker_client.get(f"/approvals/{first}").get_data(as_text=True)
    assert f'href="/approvals/{second}" data-key-next>Skip to the next waiting request ({second})' in page

    done = _decide(checker_client, first)
    assert done.status_code == 303 and done.headers["Location"] == f"/approvals/{second}"
    landed = checker_client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"Request {first}: Approved. Capillary now shows the request as approved." in landed
    assert f"Approve or reject request {second}" in landed

    # One another checker has claimed is skipped: it is not for this checker to decide now.
    with app.app_context():
        db.session.add(Decision(request_id=record(app, second).request_id, tracked_pk=second, decision="rejected",
                                message="mine", decided_by="Someone else", status="sending"))
        db.session.commit()
    assert _decide(checker_client, first).status_code == 409  # already decided: no new landing
    rejected = checker_client.post(f"/approvals/{third}", data={"decision": "rejected", "message": MESSAGE,
                                                               "step": "confirm"})
    assert rejected.headers["Location"] == "/approvals"
    assert len(_puts(sandbox)) == 2


def test_a_decision_without_a_clear_answer_stays_on_the_request(app, client, checker_client, sandbox, valid_form):
    pk = submit(client, valid_form, key="a" * 32)
    submit(client, {**valid_form, "reason": "Second"}, key="b" * 32)
    sandbox.inject_fault("500", count=1, endpoint="approve")
    assert _decide(checker_client, pk).headers["Location"].endswith(f"/requests/{pk}")


def test_the_decide_pages_document_their_keyboard_shortcuts(app, client, checker_client, valid_form):
    pk = submit(client, valid_form)
    queue = checker_client.get("/approvals").get_data(as_text=True)
    assert "js/keys.js" in queue and "Keyboard shortcuts" in queue and "data-queue-row" in queue
    assert f'href="/approvals/{pk}?decision=approved" data-key-approve' in queue
    page = checker_client.get(f"/approvals/{pk}").get_data(as_text=True)
    assert "js/keys.js" in page and "Choose Approve and go to the message" in page
    assert "Use keyboard shortcuts on these pages" in page and 'data-key-queue' in page
