"""One decision for many requests: choose, confirm (count and list), a background job, one PUT each."""

from __future__ import annotations

import re
import threading

from extensions import db
from models import DecisionRun, DecisionRunItem
from services.bulk import runner
from services.lifecycle import decision_runs, decisions
from services.people import accounts
from tests.bulk_helpers import make_batch
from tests.helpers import sign_in, signed_in_client
from tests.lifecycle_helpers import calls, record, submit

MESSAGE = "Checked the whole batch against the CCTV"


def _puts(sandbox) -> list[dict]:
    return calls(sandbox, "approve", "PUT")


def _waiting(client, valid_form, count: int, **changes) -> list[int]:
    return [submit(client, {**valid_form, "reason": f"Row {n}", **changes}, key=f"{n:02d}" + "k" * 30)
            for n in range(count)]


def _review(checker, **data):
    return checker.post("/approvals/many", data={"step": "review", "decision": "approved", "message": MESSAGE,
                                                 **data})


def _confirm_form(html: str) -> dict:
    """The hidden fields of the confirmation page's form, as the browser would post them."""
    fields: dict = {"pk": re.findall(r'name="pk" value="(\d+)"', html), "step": "confirm"}
    for name in ("decision", "message", "run_key", "sort"):
        found = re.search(rf'name="{name}" value="([^"]*)"', html)
        if found:
            fields[name] = found.group(1)
    return fields


def _run_jobs(app) -> list:
    return app.extensions["jobs"].run_pending()


def test_ticked_requests_are_confirmed_then_decided_in_the_background(app, client, checker_client, sandbox,
                                                                      valid_form):
    pks = _waiting(client, valid_form, 4)
    queue = checker_client.get("/approvals").get_data(as_text=True)
    assert f'name="pk" value="{pks[0]}"' in queue and "One decision for many requests" in queue

    review = _review(checker_client, scope="ticked", pk=[str(pks[0]), str(pks[2]), str(pks[3])])
    html = review.get_data(as_text=True)
    assert review.status_code == 200
    assert "Approve 3 requests?" in html and "Yes, approve 3 requests" in html and MESSAGE in html
    assert all(f'href="/requests/{pk}"' in html for pk in (pks[0], pks[2], pks[3]))
    assert f'href="/requests/{pks[1]}"' not in html
    assert _puts(sandbox) == []  # nothing is sent before the confirmation

    started = checker_client.post("/approvals/many", data=_confirm_form(html))
    assert started.status_code == 303 and "/approvals/runs/" in started.headers["Location"]
    assert _puts(sandbox) == []  # the job sends them, not the page
    assert _run_jobs(app) == [3]

    assert sorted(put["body"]["requestId"] for put in _puts(sandbox)) == sorted(
        record(app, pk).request_id for pk in (pks[0], pks[2], pks[3]))
    assert {put["body"]["payload"]["AdminTask-Payload"]["actionMessage"] for put in _puts(sandbox)} == {MESSAGE}
    assert [record(app, pk).state for pk in pks] == ["approved", "AdminTask", "approved", "approved"]
    progress = checker_client.get(started.headers["Location"]).get_data(as_text=True)
    assert "3 of 3 requests finished." in progress
    assert progress.count("Approved. Capillary now shows the request as approved.") == 3
    assert "This page updates by itself" not in progress


def test_all_matching_the_filter_and_the_whole_file(app, client, checker_client, sandbox, valid_form):
    suspend = _waiting(client, valid_form, 3)
    fraud = submit(client, {**valid_form, "label": "Fraud confirmed"}, key="f" * 32)
    html = _review(checker_client, scope="matching", label="Suspended", decision="rejected").get_data(as_text=True)
    assert "Reject 3 requests?" in html and f'href="/requests/{fraud}"' not in html
    checker_client.post("/approvals/many", data=_confirm_form(html))
    _run_jobs(app)
    assert [record(app, pk).state for pk in suspend] == ["rejected"] * 3
    assert record(app, fraud).state == "AdminTask" and len(_puts(sandbox)) == 3

    batch_id = make_batch(app, 5)
    with app.app_context():
        assert runner.run_batch(batch_id) == runner.FINISHED
    # A bulk file's page links here: the queue filtered to the file, "the whole file" to choose.
    queue = checker_client.get(f"/approvals?batch={batch_id}&sort=file").get_data(as_text=True)
    assert f"The whole file #{batch_id}: all 5 requests of it waiting" in queue
    html = _review(checker_client, scope="matching", batch=str(batch_id), sort="file").get_data(as_text=True)
    assert "Approve 5 requests?" in html
    checker_client.post("/approvals/many", data=_confirm_form(html))
    _run_jobs(app)
    assert len(_puts(sandbox)) == 8


def test_the_checkers_own_requests_are_skipped_with_the_reason(app, client, sandbox, valid_form):
    with app.app_context():
        accounts.create_user("quinn", ["agent", "checker"], "a-long-enough-pass-42", actor=None)
        db.session.commit()
    quinn = app.test_client()
    sign_in(quinn, "quinn", "a-long-enough-pass-42")
    theirs = _waiting(client, valid_form, 2)
    own = submit(quinn, {**valid_form, "reason": "Quinn's own"}, key="q" * 32)
    html = _review(quinn, scope="matching").get_data(as_text=True)
    assert "1 of them you submitted yourself: it is skipped" in html and "Yes, approve 2 requests" in html
    quinn.post("/approvals/many", data=_confirm_form(html))
    _run_jobs(app)
    assert len(_puts(sandbox)) == 2 and record(app, own).state == "AdminTask"
    assert all(record(app, pk).state == "approved" for pk in theirs)
    with app.app_context():
        item = db.session.scalars(db.select(DecisionRunItem).where(DecisionRunItem.tracked_pk == own)).one()
        assert item.status == "skipped" and "maker-checker rule" in item.result


def test_a_double_submit_makes_one_run_and_one_put_each(app, client, checker_client, sandbox, valid_form):
    pks = _waiting(client, valid_form, 3)
    html = _review(checker_client, scope="matching").get_data(as_text=True)
    form = _confirm_form(html)
    first = checker_client.post("/approvals/many", data=form)
    second = checker_client.post("/approvals/many", data=form)  # the button pressed twice
    assert first.headers["Location"] == second.headers["Location"]
    _run_jobs(app)
    with app.app_context():
        assert db.session.query(DecisionRun).count() == 1
    assert len(_puts(sandbox)) == 3 and all(record(app, pk).state == "approved" for pk in pks)


def test_two_checkers_on_the_same_set_at_once_send_one_put_per_request(app, client, checker_client, sandbox,
                                                                        valid_form):
    pks = _waiting(client, valid_form, 12)
    other = signed_in_client(app, "checker")
    other_html = _review(other, scope="matching", decision="rejected", message="Not enough evidence").get_data(
        as_text=True)
    mine_html = _review(checker_client, scope="matching").get_data(as_text=True)
    checker_client.post("/approvals/many", data=_confirm_form(mine_html))
    other.post("/approvals/many", data=_confirm_form(other_html))
    with app.app_context():
        run_ids = [run.id for run in db.session.query(DecisionRun).order_by(DecisionRun.id)]

    def run(run_id):
        with app.app_context():
            decision_runs.run_decisions(run_id)

    threads = [threading.Thread(target=run, args=(run_id,)) for run_id in run_ids for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # Counted at the sandbox: every request got exactly one PUT, from one run or the other.
    sent = [put["body"]["requestId"] for put in _puts(sandbox)]
    assert sorted(sent) == sorted(record(app, pk).request_id for pk in pks)
    assert all(record(app, pk).state in ("approved", "rejected") for pk in pks)
    with app.app_context():
        items = db.session.scalars(db.select(DecisionRunItem)).all()
        assert sorted(i.status for i in items).count("sent") == 12 and len(items) == 24
        assert all(i.status in ("sent", "refused") for i in items)


def test_nothing_chosen_or_no_message_is_explained(app, client, checker_client, sandbox, valid_form):
    _waiting(client, valid_form, 1)
    nothing = _review(checker_client, scope="ticked")
    assert nothing.status_code == 422 and "Tick at least one request" in nothing.get_data(as_text=True)
    no_message = _review(checker_client, scope="matching", message=" ")
    assert no_message.status_code == 422 and "Enter a message for the maker" in no_message.get_data(as_text=True)
    assert _puts(sandbox) == []


def test_a_bulk_files_page_offers_deciding_the_whole_file_to_a_checker(app, sandbox):
    batch_id = make_batch(app, 2)
    with app.app_context():
        accounts.create_user("pat", ["agent", "checker"], "a-long-enough-pass-42", actor=None)
        db.session.commit()
    pat = app.test_client()
    sign_in(pat, "pat", "a-long-enough-pass-42")
    link = f'href="/approvals?batch={batch_id}&amp;sort=file">Decide the whole file #{batch_id}…'
    assert link in pat.get(f"/bulk/{batch_id}").get_data(as_text=True)
    assert link not in signed_in_client(app, "agent").get(f"/bulk/{batch_id}").get_data(as_text=True)


def _confirmed_run(app, client, checker_client, valid_form, count: int) -> tuple[list[int], int]:
    """``count`` waiting requests and a confirmed run deciding them (its job not run yet)."""
    pks = _waiting(client, valid_form, count)
    checker_client.post("/approvals/many", data=_confirm_form(_review(checker_client, scope="matching")
                                                              .get_data(as_text=True)))
    with app.app_context():
        return pks, db.session.scalars(db.select(DecisionRun.id)).one()


def test_a_run_stopped_while_waiting_for_a_permit_sends_nothing_and_frees_its_claims(
        app, client, checker_client, sandbox, valid_form, monkeypatch):
    from models import Decision
    from services.bulk.throttle import app_throttle

    pks, run_id = _confirmed_run(app, client, checker_client, valid_form, 2)
    throttle = app_throttle(app)
    throttle.pause(60)  # a 429 elsewhere: no permit for a minute
    at_the_gate = threading.Event()
    real_acquire = throttle.acquire

    def acquire(should_stop):
        at_the_gate.set()  # a decision is claimed and waits for its permit: stop the job now
        return real_acquire(should_stop)

    monkeypatch.setattr(throttle, "acquire", acquire)
    with app.app_context():
        assert decision_runs.run_decisions(run_id, should_stop=at_the_gate.is_set) == 0
        assert db.session.query(Decision).count() == 0  # the claim is gone: nothing was sent
        assert {i.status for i in db.session.scalars(db.select(DecisionRunItem))} == {"pending"}
    assert _puts(sandbox) == [] and at_the_gate.is_set()

    app.extensions.pop("bulk_throttle")  # the pause is over: the next run of the job sends them, once each
    with app.app_context():
        assert decision_runs.run_decisions(run_id) == 2
    assert sorted(p["body"]["requestId"] for p in _puts(sandbox)) == sorted(record(app, pk).request_id for pk in pks)


def test_no_more_calls_in_flight_than_the_bulk_concurrency(app, client, checker_client, sandbox, valid_form,
                                                          monkeypatch):
    from gateway.client import GatewayClient

    app.config["CAP_BULK_CONCURRENCY"] = 2  # the job runs more threads than this: the extra ones only use the database
    pks, run_id = _confirmed_run(app, client, checker_client, valid_form, 10)
    in_flight, most, lock = [0], [0], threading.Lock()
    real_decide = GatewayClient.decide

    def decide(self, *args, **kwargs):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            return real_decide(self, *args, **kwargs)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(GatewayClient, "decide", decide)
    _run_jobs(app)
    assert 1 <= most[0] <= 2
    assert len(_puts(sandbox)) == 10 and all(record(app, pk).state == "approved" for pk in pks)
    with app.app_context():
        assert {i.status for i in db.session.scalars(db.select(DecisionRunItem))} == {"sent"}


def test_the_connection_pool_holds_a_connection_for_each_job_thread(tmp_path):
    from tests.helpers import make_app

    app = make_app(tmp_path, {"CAP_BULK_CONCURRENCY": "5"})
    with app.app_context():
        # 2 × 5 job threads (bulk sending's and the multi-decision's) plus the claimer, heartbeat and web threads.
        assert db.engine.pool.size() == 18  # type: ignore[attr-defined]  # a QueuePool


def test_a_decision_reads_its_request_once_after_loading_it(app, client, sandbox, valid_form):
    """Each item of a run costs as few queries as a single decision can: no re-read after the claim or at the end."""
    from sqlalchemy import event

    from models import TrackedRequest

    pk = _waiting(client, valid_form, 1)[0]
    reads: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT") and "FROM tracked_requests" in statement:
            reads.append(statement)

    with app.app_context():
        loaded = db.session.get(TrackedRequest, pk)
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            result = decisions.decide(loaded, "approved", MESSAGE, actor=None)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert result.status == "ok"
    assert len(reads) == 1  # apply_update's locked re-read after the PUT; not after the claim, not at the end
    assert len(_puts(sandbox)) == 1
