"""End to end over a real socket: the app in real mode against the standalone sandbox over HTTP.

Submission → the checker console → approve / reject → the status page and timeline, for the
three outcomes (approved, rejected, failed), then a sync from the command line.
"""

from __future__ import annotations

import pytest

from sandbox import create_app as create_sandbox
from tests.databases import database_url
from tests.helpers import make_app, sign_in
from tests.lifecycle_helpers import real_mode_environ, record, records, submit
from tests.live_server import serve_wsgi


@pytest.fixture
def wired(tmp_path):
    gateway = create_sandbox({})
    with serve_wsgi(gateway) as url:
        app = make_app(tmp_path, real_mode_environ(url, database_url(tmp_path)),
                       CAP_READ_TIMEOUT=5)
        maker, checker = app.test_client(), app.test_client()
        sign_in(maker, "agent")
        sign_in(checker, "checker")
        yield app, maker, checker, gateway.extensions["sandbox"]


@pytest.mark.parametrize(("identifier", "decision", "state", "words"), [
    ("9780375690", "approved", "approved", "Capillary changed the customer&#39;s status."),
    ("9780375691", "rejected", "rejected", "the customer&#39;s status was not changed"),
    ("9000000001", "approved", "failed", "Customer not found"),
])
def test_a_request_is_followed_from_submission_to_its_outcome(wired, valid_form, identifier, decision, state,
                                                              words):
    app, maker, checker, sandbox = wired
    pk = submit(maker, {**valid_form, "identifierValue": identifier})
    assert "Waiting for approval" in maker.get(f"/requests/{pk}").get_data(as_text=True)
    console = checker.get("/approvals").get_data(as_text=True)
    assert f'href="/requests/{pk}"' in console

    done = checker.post(f"/approvals/{pk}", data={"decision": decision, "message": "Reviewed", "step": "confirm"})
    assert done.status_code == 303

    html = maker.get(f"/requests/{pk}").get_data(as_text=True)
    found = record(app, pk)
    assert found.state == state and words in html
    assert [e.state for e in found.events] == ["sending", "AdminTask", state]
    (put,) = [c for c in sandbox.calls if c["method"] == "PUT"]
    assert put["headers"]["x-cap-ui-auth-token"] == "checker-token-for-tests"


def test_sync_over_http_imports_and_updates(wired, valid_form):
    app, maker, _, sandbox = wired
    pk = submit(maker, valid_form)
    foreign = sandbox.seed_request(identifier_value="919812345671", reason="Made in Capillary's UI")
    result = app.test_cli_runner().invoke(args=["requests", "sync", "--page-size", "1"])
    assert result.exit_code == 0 and "1 imported" in result.output
    assert record(app, pk).state == "AdminTask"
    assert any(c["query"].get("PageNo") == "1" for c in sandbox.calls if c["endpoint"] == "list")
    html = maker.get("/requests?origin=imported").get_data(as_text=True)
    assert "919812345671" in html
    imported = [r for r in records(app) if r.origin == "imported"]
    assert [r.request_id for r in imported] == [foreign]
