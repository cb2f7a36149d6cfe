"""`flask requests sync`: the list endpoint, several pages, imports of foreign requests, exit codes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from extensions import db
from models import TrackedRequest
from sandbox import create_app as create_sandbox
from services.lifecycle.sync import sync_requests
from services.lifecycle.wording import CODE_WORDS
from tests.databases import database_url
from tests.helpers import make_app, sign_in
from tests.lifecycle_helpers import calls, decide_in_capillary, real_mode_environ, record, records, submit
from tests.live_server import serve_wsgi


def _submit_three(app, client, valid_form):
    return [submit(client, {**valid_form, "reason": f"Case {n}"}, key=f"{n:032d}") for n in range(3)]


def test_sync_updates_open_records_from_several_list_pages(app, client, sandbox, valid_form):
    mine = _submit_three(app, client, valid_form)
    decide_in_capillary(sandbox, record(app, mine[0]).request_id, "approved", "Looks right")
    decide_in_capillary(sandbox, record(app, mine[1]).request_id, "rejected", "Wrong customer")
    for n in range(4):
        sandbox.seed_request(identifier_value=f"9190000000{n:02d}", reason=f"Foreign {n}")
    sandbox.seed_request(identifier_value="919000000099", state="approved", reason="Foreign decided")
    sandbox.clear_calls()

    with app.app_context():
        summary = sync_requests(page_size=2)

    states = {pk: record(app, pk).state for pk in mine}
    assert states == {mine[0]: "approved", mine[1]: "rejected", mine[2]: "AdminTask"}
    listed = calls(sandbox, "list")
    assert all(c["query"]["limit"] == "2" for c in listed)
    waiting_pages = [c for c in listed if c["query"].get("states") == "AdminTask"]
    decided_pages = [c for c in listed if c["query"].get("states") == "approved,failed,rejected"]
    assert [c["query"]["PageNo"] for c in waiting_pages] == ["0", "1", "2"]  # 5 waiting, 2 a page
    assert len(decided_pages) == 2 and decided_pages[0]["query"]["startDate"]  # 3 decided since the day
    assert calls(sandbox, "get") == []  # the list, not one GET per request
    assert summary.pages == 5 and summary.listed == 8
    assert summary.updated == 2 and summary.imported == 5 and not summary.failures
    with app.app_context():
        timeline = db.session.get(TrackedRequest, mine[1]).events
        assert timeline[-1].state == "rejected" and "Wrong customer" in timeline[-1].note


def test_foreign_requests_are_imported_once_as_read_only_records(app, client, sandbox):
    foreign = sandbox.seed_request(identifier_value="919812345671", label="Fraud suspected",
                                   reason="Raised at head office", user_name="ui.maker@example.com")
    decided = sandbox.seed_request(identifier_value="919812345673", state="failed", reason="Old case")
    with app.app_context():
        first = sync_requests()
        second = sync_requests()
    assert first.imported == 2 and second.imported == 0
    imported = {r.request_id: r for r in records(app)}
    assert set(imported) == {foreign, decided}
    made = imported[foreign]
    assert made.origin == "imported" and made.state == "AdminTask"
    assert made.identifier_value == "919812345671" and made.label == "Fraud suspected"
    assert made.submitted_by == "ui.maker@example.com" and made.store_id == ""
    assert imported[decided].state == "failed"

    html = client.get(f"/requests/{made.id}").get_data(as_text=True)
    assert "Made in Capillary's own UI" in html and "Not reported by Capillary" in html
    assert "Edit and retry" not in html and "Resend" not in html
    failed_html = client.get(f"/requests/{imported[decided].id}").get_data(as_text=True)
    assert "Customer not found" in failed_html
    listing = client.get("/requests?origin=imported").get_data(as_text=True)
    assert f'href="/requests/{made.id}"' in listing


def test_sync_command_prints_one_line_and_exits_zero(app, client, sandbox, valid_form):
    _submit_three(app, client, valid_form)
    result = app.test_cli_runner().invoke(args=["requests", "sync", "--page-size", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sync: ")
    assert "3 request(s) listed" in lines[0] and "0 failure(s)" in lines[0]


def test_sync_exits_non_zero_only_when_it_could_do_nothing(app, sandbox):
    runner = app.test_cli_runner()
    sandbox.inject_fault("500", count=10, endpoint="list")
    result = runner.invoke(args=["requests", "sync"])
    assert result.exit_code == 1
    assert "2 failure(s)" in result.output and "internal error (500)" in result.output
    sandbox.clear_faults()
    sandbox.inject_fault("503", count=1, endpoint="list")  # only the first list fails
    partial = runner.invoke(args=["requests", "sync"])
    assert partial.exit_code == 0, partial.output
    assert "1 failure(s)" in partial.output and "temporarily unavailable" in partial.output


def test_a_429_stops_the_run_from_calling_capillary_again(app, client, sandbox, valid_form):
    pks = _submit_three(app, client, valid_form)
    sandbox.reset()  # the gateway no longer knows them: without the 429 each would be fetched
    sandbox.inject_fault("429", count=1, endpoint="list")  # Retry-After: 2
    with app.app_context():
        summary = sync_requests()
    assert len(sandbox.calls) == 1  # the first list call, and nothing after it
    assert "Too many requests" in summary.failures[0] or "429" in summary.failures[0]
    assert any("skipped, Capillary asked to wait for 2 s (429)" in f for f in summary.failures)
    assert summary.did_nothing
    assert all(record(app, pk).state == "AdminTask" for pk in pks)


def test_decided_requests_are_listed_from_the_oldest_open_records_day(app, client, sandbox, valid_form):
    pk = submit(client, valid_form)
    with app.app_context():
        found = db.session.get(TrackedRequest, pk)
        found.start_time = found.created_at = found.created_at.replace(year=2020)
        db.session.commit()
    decide_in_capillary(sandbox, record(app, pk).request_id, "approved")
    sandbox.clear_calls()
    with app.app_context():
        summary = sync_requests(lookback_days=1)
    assert record(app, pk).state == "approved" and summary.fetched_one_by_one == 0
    decided = [c for c in calls(sandbox, "list") if c["query"].get("states") != "AdminTask"]
    assert decided[0]["query"]["startDate"].startswith("2020-")


def test_open_records_missing_from_the_lists_are_fetched_one_by_one(tmp_path, valid_form):
    """In real mode a 404 stays a failure to report (it may be a configuration problem)."""
    gateway = create_sandbox({})
    sandbox = gateway.extensions["sandbox"]
    with serve_wsgi(gateway) as url:
        app = make_app(tmp_path, real_mode_environ(url, database_url(tmp_path)))
        client = app.test_client()
        sign_in(client, "agent")
        pk = submit(client, valid_form)
        sandbox.reset()  # the gateway no longer knows the request
        with app.app_context():
            summary = sync_requests()
    got = calls(sandbox, "get")
    assert len(got) == 1 and got[0]["path"].endswith(record(app, pk).request_id)
    assert summary.fetched_one_by_one == 0 and len(summary.failures) == 1
    assert "404" in summary.failures[0] and not summary.did_nothing
    found = record(app, pk)
    # The sandbox answers code 2007: worded by it, translated when shown.
    assert found.state == "AdminTask" and found.refresh_error == str(CODE_WORDS["2007"].what)


def test_in_the_training_sandbox_a_forgotten_request_is_settled_not_retried(app, client, sandbox, valid_form):
    pk = submit(client, valid_form)
    sandbox.reset()  # a trainer reset the sandbox: it no longer knows the request
    with app.app_context():
        summary = sync_requests()
    assert summary.failures == [] and summary.updated == 1
    found = record(app, pk)
    assert found.state == "sandbox_gone" and found.refresh_error is None
    with app.app_context():
        sync_requests()
    assert len(calls(sandbox, "get")) == 1  # final: not asked about again


def test_a_gateway_that_ignores_page_numbers_does_not_loop_forever(tmp_path):
    """Over a real socket, a gateway that answers every list call with its first page."""
    gateway = create_sandbox({})
    sandbox = gateway.extensions["sandbox"]
    for n in range(7):  # four pages of two, as the gateway reports them
        sandbox.seed_request(identifier_value=f"91900000010{n}")
    pages_asked = []
    serve = gateway.wsgi_app

    def first_page_whatever_is_asked(environ, start_response):
        query = parse_qs(environ["QUERY_STRING"])
        if environ["PATH_INFO"].endswith("/requests") and "PageNo" in query:
            pages_asked.extend(query["PageNo"])
            environ["QUERY_STRING"] = urlencode({**query, "PageNo": ["0"]}, doseq=True)
        return serve(environ, start_response)

    gateway.wsgi_app = first_page_whatever_is_asked
    with serve_wsgi(gateway) as url:
        app = make_app(tmp_path, real_mode_environ(url, database_url(tmp_path)))
        with app.app_context():
            summary = sync_requests(page_size=2, lookback_days=0)
    assert pages_asked == ["0", "1"]  # the second page brought nothing new, so it stopped
    assert summary.pages == 2 and summary.imported == 2
    assert len(records(app)) == 2
