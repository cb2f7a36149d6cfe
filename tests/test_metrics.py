"""/metrics: Prometheus's text format (read back with prometheus-client's own parser), counts
of requests, gateway calls, submissions, bulk rows and syncs, figures read from the database
when scraped, and the restriction to listed addresses or a bearer token."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

import metrics
from config import ConfigError, load_settings
from tests.bulk_helpers import make_batch
from tests.helpers import make_app
from tests.test_serving import ROOT

OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}


def scrape(client, **options) -> dict[tuple, float]:
    """Scrape /metrics; return ``{(sample name, sorted labels): value}``."""
    response = client.get("/metrics", **options)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def submit(client, form: dict) -> None:
    response = client.post("/requests", data={**form, "submission_key": uuid.uuid4().hex})
    assert response.status_code == 303


def test_gateway_calls_submissions_and_records_in_doubt_are_counted(client, sandbox, valid_form):
    before = scrape(client)
    submit(client, valid_form)
    sandbox.inject_fault("500", count=1, endpoint="create")
    submit(client, {**valid_form, "identifierValue": "9780375691"})
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("capreq_gateway_calls_total", endpoint="create", outcome="ok") == 1
    assert delta("capreq_gateway_calls_total", endpoint="create", outcome="server_error") == 1
    assert delta("capreq_gateway_call_duration_seconds_count", endpoint="create") == 2
    assert delta("capreq_submissions_total", state="AdminTask") == 1
    assert delta("capreq_submissions_total", state="unknown") == 1
    assert delta("capreq_http_requests_total", endpoint="requests.create", method="POST", status="303") == 2
    assert delta("capreq_http_request_duration_seconds_count", endpoint="requests.create") == 2
    # Read from this test's database when scraped: the lost answer is one request in doubt.
    assert value(after, "capreq_requests_in_state", state="unknown") == 1
    assert value(after, "capreq_requests_in_state", state="sending") == 0
    assert value(after, "capreq_database_up") == 1


def test_bulk_rows_and_sync_runs_are_counted(app, client, sandbox):
    import jobs

    before = scrape(client)
    batch_id = make_batch(app, 3)
    with app.app_context():
        sandbox.inject_fault("500", count=1, endpoint="create")
        jobs.enqueue(jobs.tasks.BULK_RUN, batch_id=batch_id)
        app.extensions["jobs"].run_pending()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["requests", "sync"]).exit_code == 0
    sandbox.inject_fault("500", count=20, endpoint="any")
    assert runner.invoke(args=["requests", "sync"]).exit_code == 1  # every call failed
    after = scrape(client)

    assert value(after, "capreq_bulk_rows_total", outcome="created") - value(
        before, "capreq_bulk_rows_total", outcome="created") == 2
    assert value(after, "capreq_bulk_rows_total", outcome="unknown") - value(
        before, "capreq_bulk_rows_total", outcome="unknown") == 1
    # Sync runs come from the database (every process and host), so they are this test's alone.
    assert value(after, "capreq_sync_runs_total") == 2
    assert value(after, "capreq_sync_failures_total") == 1
    assert value(after, "capreq_sync_last_success_timestamp_seconds") > 1_700_000_000
    assert value(after, "capreq_jobs_queued", backend="embedded") == 0
    assert value(after, "capreq_bulk_files", state="queued") == 0


def test_customer_lookups_have_a_metric_ready_for_the_lookup_page(client):
    before = value(scrape(client), "capreq_customer_lookups_total", outcome="not_found")
    metrics.record_customer_lookup("not_found")
    assert value(scrape(client), "capreq_customer_lookups_total", outcome="not_found") == before + 1


def test_metrics_answer_listed_addresses_or_the_token_only(tmp_path):
    app = make_app(tmp_path, {"CAP_METRICS_TOKEN": "scrape-token-0123456789", "CAP_METRICS_ALLOW": "10.0.0.0/8"})
    client = app.test_client()  # nobody signed in: /metrics has its own gate
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 403  # not listed
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.30.40"}).status_code == 200
    wrong = client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403
    assert "scrape-token" not in wrong.get_data(as_text=True)
    right = client.get("/metrics", environ_base=OUTSIDE, headers={"Authorization": "Bearer scrape-token-0123456789"})
    assert right.status_code == 200 and b"capreq_http_requests_total" in right.data


def test_by_default_only_this_machine_may_scrape(app):
    client = app.test_client()
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 403
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_a_malformed_address_list_is_named(tmp_path):
    with pytest.raises(ConfigError, match="CAP_METRICS_ALLOW"):
        load_settings(ROOT, tmp_path, {"CAP_METRICS_ALLOW": "10.0.0.0/8,not-an-address"})
