"""The trainer page (sandbox only): customers, switches, faults, seeded requests, reset."""

from __future__ import annotations

import re

import pytest

from tests.databases import database_url
from tests.helpers import make_app, sign_in, signed_in_client
from tests.lifecycle_helpers import calls, real_mode_environ, record, submit


@pytest.fixture
def trainer(app):
    """The demo trainer: the sandbox's switches, faults and reset are theirs (and administrators')."""
    return signed_in_client(app, "trainer")


def test_trainer_page_lists_customers_with_their_labels(app, client):
    html = client.get("/sandbox").get_data(as_text=True)
    assert "Customers and their current status" in html
    for name in ("Asha Rao", "Meera Iyer", "Sara Thomas"):
        assert name in html
    assert re.search(r'Vikram Shah</td>\s*<td data-label="Status">Active</td>\s*'
                     r'<td data-label="Label"><strong>High Value</strong>', html)


def test_auto_approval_makes_a_suspended_customer_visible_at_once(app, client, trainer, sandbox, valid_form):
    response = trainer.post("/sandbox/settings", data={"auto_approve": "y", "latency_ms": "0"})
    assert response.status_code == 303
    assert sandbox.settings()["auto_approve"] is True
    pk = submit(client, valid_form)
    assert record(app, pk).state == "approved"
    html = client.get("/sandbox").get_data(as_text=True)
    assert re.search(r'Asha Rao</td>\s*<td data-label="Status">Suspended</td>\s*'
                     r'<td data-label="Label"><strong>Suspended</strong>', html)
    assert "auto-approval <strong>on</strong>" in html


def test_switches_for_self_approval_and_latency(app, trainer, sandbox):
    trainer.post("/sandbox/settings", data={"forbid_self_approval": "y", "latency_ms": "250"})
    assert sandbox.settings() == {"auto_approve": False, "forbid_self_approval": True, "latency_ms": 250}
    trainer.post("/sandbox/settings", data={"latency_ms": "0"})  # unticked boxes turn off
    assert sandbox.settings() == {"auto_approve": False, "forbid_self_approval": False, "latency_ms": 0}
    bad = trainer.post("/sandbox/settings", data={"latency_ms": "-5"})
    assert bad.status_code == 422 and "from 0 to 10000 milliseconds" in bad.get_data(as_text=True)


def test_injected_faults_reach_the_next_calls_and_show_what_users_see(app, client, trainer, sandbox, valid_form):
    response = trainer.post("/sandbox/faults", data={"kind": "401", "count": "2", "endpoint": "create"})
    assert response.status_code == 303
    assert sandbox.pending_faults() == [{"kind": "401", "endpoint": "create", "remaining": 2}]
    page = trainer.get("/sandbox").get_data(as_text=True)
    assert "Queued faults" in page and "Clear all faults" in page
    pk = submit(client, valid_form)
    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    assert "invalid or has expired" in html and record(app, pk).state == "failed_to_submit"
    trainer.post("/sandbox/faults/clear")
    assert sandbox.pending_faults() == []


def test_every_listed_fault_kind_is_offered_and_bad_input_is_refused(app, trainer, sandbox):
    html = trainer.get("/sandbox").get_data(as_text=True)
    for kind in ("timeout", "500", "401", "400-empty", "unreadable"):
        assert f'<option value="{kind}">' in html
    bad = trainer.post("/sandbox/faults", data={"kind": "500", "count": "0", "endpoint": "any"})
    assert bad.status_code == 422 and "from 1 to 100" in bad.get_data(as_text=True)
    unknown = trainer.post("/sandbox/faults", data={"kind": "meteor", "count": "1", "endpoint": "any"})
    assert unknown.status_code == 422
    assert sandbox.pending_faults() == []


def test_seeded_requests_appear_in_the_approvals_console(app, client, checker_client, sandbox):
    response = client.post("/sandbox/seed", data={"customer": "1004", "label": "Fraud suspected",
                                                  "state": "AdminTask", "reason": "Seen at two stores"})
    assert response.status_code == 303
    (seeded,) = sandbox.records()
    assert seeded["request"]["details"]["IntouchAPITask-Payload"]["queryParams"]["identifierValue"] == "919812345671"
    html = checker_client.get("/approvals").get_data(as_text=True)
    assert "Seen at two stores" in html and "Fraud suspected" in html


def test_reset_asks_first_then_puts_the_sandbox_back(app, client, trainer, sandbox, valid_form):
    trainer.post("/sandbox/settings", data={"auto_approve": "y", "latency_ms": "0"})
    trainer.post("/sandbox/faults", data={"kind": "500", "count": "3", "endpoint": "get"})
    submit(client, valid_form)
    assert 'href="/sandbox/reset"' in trainer.get("/sandbox").get_data(as_text=True)
    unconfirmed = trainer.post("/sandbox/reset")  # not from the confirmation page: asks first
    assert unconfirmed.status_code == 303 and unconfirmed.headers["Location"].endswith("/sandbox/reset")
    assert sandbox.request_count == 1
    confirm = trainer.get("/sandbox/reset").get_data(as_text=True)
    assert "Reset the training sandbox?" in confirm and "forgets its 1 request" in confirm
    response = trainer.post("/sandbox/reset", data={"confirmed": "yes"})
    assert response.status_code == 303
    assert sandbox.request_count == 0 and sandbox.pending_faults() == [] and calls(sandbox, "create") == []
    assert sandbox.settings()["auto_approve"] is False
    assert next(c for c in sandbox.customers() if c["name"] == "Asha Rao")["label"] == "Active"
    assert "The sandbox was reset" in trainer.get("/sandbox").get_data(as_text=True)


def test_recent_calls_never_show_headers_or_bodies(app, client, sandbox, valid_form):
    submit(client, valid_form)
    html = client.get("/sandbox").get_data(as_text=True)
    assert "Recent gateway calls" in html and "/api_gateway/v2/request-workflow/CUSTOMER-STATUS-CHANGE" in html
    assert app.config["CAP_UI_AUTH_TOKEN"] not in html and "Basic " not in html


def test_trainer_page_is_not_found_outside_sandbox_mode(tmp_path):
    app = make_app(tmp_path, real_mode_environ("https://eucrm.cc.capillarytech.com", database_url(tmp_path)))
    client = app.test_client()
    sign_in(client, "admin")
    assert client.get("/sandbox").status_code == 404
    assert client.post("/sandbox/reset", data={"confirmed": "yes"}).status_code == 404
    assert "Trainer" not in client.get("/requests").get_data(as_text=True)


@pytest.mark.parametrize("role", ["maker", "agent", "checker"])
def test_switches_faults_and_reset_are_refused_to_everybody_else(app, sandbox, role):
    person = signed_in_client(app, role)
    html = person.get("/sandbox").get_data(as_text=True)
    assert "Only an administrator or a trainer can change how the sandbox behaves" in html
    for action in ("/sandbox/settings", "/sandbox/faults", "/sandbox/faults/clear", "/sandbox/reset"):
        assert f'action="{action}"' not in html and 'href="/sandbox/reset"' not in html
    for path, data in (("/sandbox/settings", {"auto_approve": "y", "latency_ms": "0"}),
                       ("/sandbox/faults", {"kind": "500", "count": "1", "endpoint": "any"}),
                       ("/sandbox/faults/clear", {}), ("/sandbox/reset", {"confirmed": "yes"})):
        refused = person.post(path, data=data)
        assert refused.status_code == 403, path
        assert "needs the administrator or trainer role" in refused.get_data(as_text=True)
    assert sandbox.settings()["auto_approve"] is False and sandbox.pending_faults() == []
    # Raising a request as another maker stays open to everybody: it changes nothing for others.
    assert person.post("/sandbox/seed", data={"customer": "1004", "label": "Fraud suspected", "state": "AdminTask",
                                              "reason": "Seen at two stores"}).status_code == 303


def test_an_administrator_steers_the_sandbox_too(app, sandbox):
    admin = signed_in_client(app, "admin")
    assert admin.post("/sandbox/settings", data={"auto_approve": "y", "latency_ms": "0"}).status_code == 303
    assert sandbox.settings()["auto_approve"] is True


def test_after_a_reset_the_apps_requests_settle_as_no_longer_in_the_sandbox(app, client, trainer, sandbox,
                                                                         valid_form):
    from tests.lifecycle_helpers import allow_next_poll

    pk = submit(client, valid_form)
    trainer.post("/sandbox/reset", data={"confirmed": "yes"})
    allow_next_poll(app, pk)

    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    found = record(app, pk)
    assert found.state == "sandbox_gone" and found.refresh_error is None
    assert "No longer in the training sandbox" in html and "tries again by itself" not in html
    assert "The training sandbox no longer knows this request" in found.events[-1].note
    gets = len(calls(sandbox, "get"))
    allow_next_poll(app, pk)
    client.get(f"/requests/{pk}")
    assert len(calls(sandbox, "get")) == gets  # final: never asked again


def test_the_sync_settles_them_too(app, client, trainer, sandbox, valid_form):
    pk = submit(client, valid_form)
    trainer.post("/sandbox/reset", data={"confirmed": "yes"})
    assert app.test_cli_runner().invoke(args=["requests", "sync"]).exit_code == 0
    assert record(app, pk).state == "sandbox_gone"
