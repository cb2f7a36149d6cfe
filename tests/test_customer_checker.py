"""The checker knows the customer (templates/approvals/_customer*.html): the queue shows each row's
customer name and current status and flags no-ops and duplicates; the decide and confirm pages
show the card and the customer's status history."""

from __future__ import annotations

from tests.lifecycle_helpers import seed_like, submit


def queue(checker_client) -> str:
    return checker_client.get("/approvals").get_data(as_text=True)


def test_the_queue_shows_who_and_flags_no_ops_and_duplicates(client, checker_client, valid_form):
    submit(client, valid_form)  # Active -> Suspended
    submit(client, {**valid_form, "label": "Active", "reviewed": ""}, key="b" * 32)  # a no-op, and a duplicate
    html = queue(checker_client)
    assert html.count("<bdi>Asha Rao</bdi>: Active") == 2
    assert html.count("No change: already Active") == 1
    assert html.count("Duplicate: 1 other open request") == 2


def test_a_request_made_in_capillary_for_nobody_is_flagged(client, checker_client, valid_form, sandbox):
    seed_like(sandbox, valid_form, identifier_value="919000000001")
    html = queue(checker_client)
    assert "No such customer in Capillary" in html


def test_a_failed_look_up_leaves_the_queue_as_it_was(client, checker_client, valid_form, sandbox):
    submit(client, valid_form)
    sandbox.inject_fault("500", endpoint="lookup", count=5)
    response = checker_client.get("/approvals")
    assert response.status_code == 200 and "919780375690" in response.get_data(as_text=True)


def test_decide_and_confirm_show_the_card_and_the_status_history(client, checker_client, valid_form):
    pk = submit(client, {**valid_form, "identifierValue": "9812345670", "label": "Suspended"})  # Meera: Suspended
    html = checker_client.get(f"/approvals/{pk}?decision=approved").get_data(as_text=True)
    assert "<bdi>Meera Iyer</bdi>" in html and "Status history in Capillary" in html
    assert "approving changes nothing" in html
    assert html.index("Changed in Capillary") < html.index("Registered")  # newest first
    confirm = checker_client.post(f"/approvals/{pk}", data={"decision": "approved", "message": "ok",
                                                             "step": "review"}).get_data(as_text=True)
    assert "<bdi>Meera Iyer</bdi>" in confirm and "Status history in Capillary" in confirm


def test_the_queue_looks_its_customers_up_ahead_once_each(app, client, checker_client, valid_form, sandbox):
    from sqlalchemy import select

    from extensions import db
    from gateway.customers import cache_key
    from models import TrackedRequest
    from services import customers

    for n, value in enumerate(("9780375690", "9780375691", "9812345670")):
        submit(client, {**valid_form, "identifierValue": value}, key=str(n) * 32)
    cache = app.extensions["customer_client"].cache
    cache._local.clear()  # noqa: SLF001 - as after the cache window
    with app.app_context():
        records = db.session.scalars(select(TrackedRequest)).all()
        customers.prefetch(records)  # on worker threads, into the cache
        assert all(cache.get(cache_key("INSTORE", "mobile", r.identifier_value)) for r in records)
    cache._local.clear()  # noqa: SLF001
    before = len(sandbox.customer_calls)
    html = queue(checker_client)
    assert "Vikram Shah" in html and "Meera Iyer" in html
    lookups = [c for c in sandbox.customer_calls[before:] if c["endpoint"] == "lookup"]
    assert len(lookups) == 3  # one per customer, ahead of the rows
