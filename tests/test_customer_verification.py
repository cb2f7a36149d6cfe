"""Verification in Capillary after approval (services/lifecycle/verification.py) and the status page's card.

The status read before sending and after approval are stored (status and label with times, never
a name) and put on the timeline; the status page says "Verified in Capillary" or warns that the
status is still the old one; the periodic sync verifies too and reports how many.
"""

from __future__ import annotations

from sandbox import workflow
from services.lifecycle import verification
from tests.helpers import make_app, sign_in
from tests.lifecycle_helpers import allow_next_poll, decide_in_capillary, record, set_times, submit


def page(client, pk) -> str:
    return client.get(f"/requests/{pk}").get_data(as_text=True)


def approve(app, sandbox, pk):
    decide_in_capillary(sandbox, record(app, pk).request_id, "approved", "ok")
    allow_next_poll(app, pk)


def test_the_status_before_sending_is_stored_and_on_the_timeline(app, client, valid_form):
    pk = submit(client, valid_form)
    found = record(app, pk)
    assert (found.customer_label_before, found.customer_status_before) == ("Active", "ACTIVE")
    assert found.customer_before_at is not None and found.customer_after_at is None
    assert verification.NOTE_BEFORE in [e.note for e in found.events]
    html = page(client, pk)
    assert "Before sending, the customer's status was Active (status ACTIVE)" in html
    assert "<bdi>Asha Rao</bdi>" in html  # the card, from the cache


def test_without_a_look_up_nothing_is_stored_before(app, client, valid_form, sandbox):
    sandbox.inject_fault("timeout", endpoint="lookup")
    pk = submit(client, valid_form)
    found = record(app, pk)
    assert found.customer_before_at is None and verification.NOTE_BEFORE not in [e.note for e in found.events]


def test_an_approved_request_is_verified_on_the_status_page(app, client, valid_form, sandbox):
    pk = submit(client, valid_form)
    approve(app, sandbox, pk)
    html = page(client, pk)
    assert "Verified in Capillary: the customer is now Suspended (status SUSPENDED)" in html
    found = record(app, pk)
    assert found.state == "approved" and found.customer_verified
    assert (found.customer_label_after, found.customer_status_after) == ("Suspended", "SUSPENDED")
    notes = [e.note for e in found.events]
    assert notes.count(verification.NOTE_VERIFIED) == 1
    page(client, pk)  # verified once: not read or noted again
    assert [e.note for e in record(app, pk).events].count(verification.NOTE_VERIFIED) == 1


def test_a_status_still_unchanged_is_a_warning_with_what_to_do(app, client, valid_form, sandbox):
    pk = submit(client, valid_form)
    approve(app, sandbox, pk)
    with sandbox._lock:  # someone in Capillary set her back at once
        asha = sandbox._customers[0]
        workflow.append_status(asha, "Active", "Active", "set back")
    html = page(client, pk)
    assert "the customer's status is still Active" in html and "contact Capillary's support" in html
    found = record(app, pk)
    assert not found.customer_verified and verification.NOTE_NOT_YET in [e.note for e in found.events]


def test_an_unverified_request_is_read_at_most_once_per_refresh_interval(app, client, valid_form, sandbox):
    pk = submit(client, valid_form)
    approve(app, sandbox, pk)
    with sandbox._lock:  # the log keeps showing the old status
        workflow.append_status(sandbox._customers[0], "Active", "Active", "set back")

    def status_log_reads() -> int:
        return sum(call["endpoint"] == "statuslog" for call in sandbox.customer_calls)

    page(client, pk)
    read_at, reads = record(app, pk).customer_after_at, status_log_reads()
    assert read_at is not None and reads > 0
    for _ in range(3):  # other people's pages and the live fragment, within the interval
        page(client, pk)
        client.get(f"/requests/{pk}/live")
    assert status_log_reads() == reads and record(app, pk).customer_after_at == read_at  # nothing written
    set_times(app, pk, customer_after_at=3600)
    page(client, pk)
    assert status_log_reads() > reads


def test_a_failed_status_log_leaves_it_unverified_and_the_page_works(app, client, valid_form, sandbox):
    pk = submit(client, valid_form)
    approve(app, sandbox, pk)
    sandbox.inject_fault("500", endpoint="statuslog", count=2)
    response = client.get(f"/requests/{pk}")
    assert response.status_code == 200 and "Verified in Capillary" not in response.get_data(as_text=True)
    assert record(app, pk).customer_after_at is None


def test_the_sync_verifies_and_says_how_many(app, client, valid_form, sandbox):
    pk = submit(client, valid_form)
    decide_in_capillary(sandbox, record(app, pk).request_id, "approved", "ok")
    result = app.test_cli_runner().invoke(args=["requests", "sync"])
    assert result.exit_code == 0, result.output
    assert "1 verified in Capillary" in result.output
    assert record(app, pk).customer_verified
    again = app.test_cli_runner().invoke(args=["requests", "sync"])
    assert "0 verified in Capillary" in again.output


def test_look_ups_off_verify_nothing(tmp_path, valid_form):
    app = make_app(tmp_path, {"CAP_CUSTOMER_LOOKUP": "off"})
    client = app.test_client()
    sign_in(client, "agent")
    pk = submit(client, valid_form)
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    approve(app, sandbox, pk)
    assert "customer-card" not in page(client, pk)
    assert record(app, pk).customer_after_at is None and sandbox.customer_calls == []


def test_the_live_fragment_shows_the_verification(app, client, valid_form, sandbox):
    pk = submit(client, valid_form)
    approve(app, sandbox, pk)
    fragment = client.get(f"/requests/{pk}/live").get_data(as_text=True)
    assert "Verified in Capillary: the customer is now Suspended" in fragment
