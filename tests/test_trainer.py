"""The trainer page (sandbox only): customers, switches, faults, seeded requests, reset."""

from __future__ import annotations

import re

from tests.databases import database_url
from tests.helpers import make_app, sign_in
from tests.lifecycle_helpers import calls, real_mode_environ, record, submit


def test_trainer_page_lists_customers_with_their_labels(app, client):
    html = client.get("/sandbox").get_data(as_text=True)
    assert "Customers and their current status" in html
    for name in ("Asha Rao", "Meera Iyer", "Sara Thomas"):
        assert name in html
    assert re.search(r'Vikram Shah</td>\s*<td data-label="Status">Active</td>\s*'
                     r'<td data-label="Label"><strong>High Value</strong>', html)


def test_auto_approval_makes_a_suspended_customer_visible_at_once(app, client, sandbox, valid_form):
    response = client.post("/sandbox/settings", data={"auto_approve": "y", "latency_ms": "0"})
    assert response.status_code == 303
    assert sandbox.settings()["auto_approve"] is True
    pk = submit(client, valid_form)
    assert record(app, pk).state == "approved"
    html = client.get("/sandbox").get_data(as_text=True)
    assert re.search(r'Asha Rao</td>\s*<td data-label="Status">Suspended</td>\s*'
                     r'<td data-label="Label"><strong>Suspended</strong>', html)
    assert "auto-approval <strong>on</strong>" in html


def test_switches_for_self_approval_and_latency(app, client, sandbox):
    client.post("/sandbox/settings", data={"forbid_self_approval": "y", "latency_ms": "250"})
    assert sandbox.settings() == {"auto_approve": False, "forbid_self_approval": True, "latency_ms": 250}
    client.post("/sandbox/settings", data={"latency_ms": "0"})  # unticked boxes turn off
    assert sandbox.settings() == {"auto_approve": False, "forbid_self_approval": False, "latency_ms": 0}
    bad = client.post("/sandbox/settings", data={"latency_ms": "-5"})
    assert bad.status_code == 422 and "from 0 to 10000 milliseconds" in bad.get_data(as_text=True)


def test_injected_faults_reach_the_next_calls_and_show_what_users_see(app, client, sandbox, valid_form):
    response = client.post("/sandbox/faults", data={"kind": "401", "count": "2", "endpoint": "create"})
    assert response.status_code == 303
    assert sandbox.pending_faults() == [{"kind": "401", "endpoint": "create", "remaining": 2}]
    page = client.get("/sandbox").get_data(as_text=True)
    assert "Queued faults" in page and "Clear all faults" in page
    pk = submit(client, valid_form)
    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    assert "invalid or has expired" in html and record(app, pk).state == "failed_to_submit"
    client.post("/sandbox/faults/clear")
    assert sandbox.pending_faults() == []


def test_every_listed_fault_kind_is_offered_and_bad_input_is_refused(app, client, sandbox):
    html = client.get("/sandbox").get_data(as_text=True)
    for kind in ("timeout", "500", "401", "400-empty", "unreadable"):
        assert f'<option value="{kind}">' in html
    bad = client.post("/sandbox/faults", data={"kind": "500", "count": "0", "endpoint": "any"})
    assert bad.status_code == 422 and "from 1 to 100" in bad.get_data(as_text=True)
    unknown = client.post("/sandbox/faults", data={"kind": "meteor", "count": "1", "endpoint": "any"})
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


def test_reset_puts_the_sandbox_back(app, client, sandbox, valid_form):
    client.post("/sandbox/settings", data={"auto_approve": "y", "latency_ms": "0"})
    client.post("/sandbox/faults", data={"kind": "500", "count": "3", "endpoint": "get"})
    submit(client, valid_form)
    response = client.post("/sandbox/reset")
    assert response.status_code == 303
    assert sandbox.request_count == 0 and sandbox.pending_faults() == [] and calls(sandbox, "create") == []
    assert sandbox.settings()["auto_approve"] is False
    assert next(c for c in sandbox.customers() if c["name"] == "Asha Rao")["label"] == "Active"
    assert "The sandbox was reset" in client.get("/sandbox").get_data(as_text=True)


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
    assert client.post("/sandbox/reset").status_code == 404
    assert "Trainer" not in client.get("/requests").get_data(as_text=True)
