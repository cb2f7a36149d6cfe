"""A submission against the importers: one record per Capillary request, whoever sees it first.

The window: the gateway has created the request (so Capillary's list shows it) but the
submitting thread has not yet stored its requestId. Each test holds a real submission (or a
bulk row) in that window with a hook on the gateway client, runs the importers there (the
checker console, the sync, reconciliation) in real threads, then lets the submission finish.
Events and barriers order the steps; nothing waits on a clock. Runs on SQLite, and on
PostgreSQL with ``TEST_DATABASE_URL`` (scripts/test runs both).
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager

from sqlalchemy import select

import gateway_setup
from extensions import db
from models import Decision, StatusEvent, TrackedRequest
from services.bulk import runner
from services.lifecycle import adoption, queue, sync, verification
from services.lifecycle.sync import sync_requests
from tests.bulk_helpers import make_batch
from tests.helpers import make_app, signed_in_client
from tests.lifecycle_helpers import decide_in_capillary, record, records, set_times, submit

WAIT = 20  # seconds: only a bound on a broken run; every step is released by an event
# A gateway whose clock (or the app's CAP_GATEWAY_TIMEZONE) is hours off: an importer then cannot
# tell a listed request from an in-flight submission by time, and takes it. The submission must
# still end as the one record.
SKEWED_ZONE = {"CAP_GATEWAY_TIMEZONE": "Pacific/Kiritimati"}  # UTC+14


class Window:
    """Holds every create call after Capillary has answered it, until :meth:`release`."""

    def __init__(self, app, monkeypatch):
        client = app.extensions["gateway_client"]
        real = client.create_request
        self.answered = threading.Event()
        self._go = threading.Event()

        def create_then_wait(payload, token):
            try:
                return real(payload, token)
            finally:
                self.answered.set()
                self._go.wait(WAIT)

        monkeypatch.setattr(client, "create_request", create_then_wait)

    def wait_for_answer(self) -> None:
        assert self.answered.wait(WAIT), "the gateway never answered the create"

    def release(self) -> None:
        self._go.set()


class Outcome(list):
    """What a thread's work returned (or raised), once ``done`` is set."""

    def __init__(self):
        super().__init__()
        self.done = threading.Event()


@contextmanager
def in_thread(work):
    """Run ``work()`` in a thread; yield its :class:`Outcome` (its error is re-raised after the block)."""
    outcome = Outcome()

    def run():
        try:
            outcome.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            outcome.append(exc)
        finally:
            outcome.done.set()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield outcome
    finally:
        thread.join(WAIT)
    assert not thread.is_alive(), "the worker thread did not finish"
    if isinstance(outcome[0], BaseException):
        raise outcome[0]


@contextmanager
def submitting(client, form, window: Window, key: str = "a" * 32):
    """Post the form in a thread; inside the block the request exists in Capillary, its record not yet."""
    with in_thread(lambda: client.post("/requests", data={**form, "submission_key": key})) as answer:
        try:
            window.wait_for_answer()
            yield answer
        finally:
            window.release()


def in_context(app, work):
    """``work`` run in its own app context (so its own database session), as another process would."""
    def run():
        with app.app_context():
            return work()
    return run


def console(app):
    """The checker console's list-and-import (``/approvals``), in its own session."""
    return in_context(app, lambda: queue.queue_page(queue.QueueFilters(), actor=None).imported)()


def only_record(app) -> TrackedRequest:
    (only,) = records(app)
    return only


def assert_clean_submission(response, app, sandbox) -> TrackedRequest:
    """The person got the status page; one app record holds the one request Capillary created."""
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    pk = int(re.search(r"/requests/(\d+)$", response.headers["Location"]).group(1))
    (created,) = [r["request"]["requestId"] for r in sandbox.records()]
    found = only_record(app)
    assert (found.id, found.origin, found.request_id) == (pk, "app", created)
    return record(app, pk)


# -- 1. an importer runs between the gateway's answer and the record's commit ------------------------


def test_the_checker_console_in_the_window_leaves_the_request_to_its_submission(
        app, client, checker_client, sandbox, valid_form, monkeypatch):
    window = Window(app, monkeypatch)
    with submitting(client, valid_form, window) as answer:
        page = checker_client.get("/approvals")
        assert page.status_code == 200
        assert [r.origin for r in records(app)] == ["app"]  # not imported: it may be this submission

    found = assert_clean_submission(answer[0], app, sandbox)
    assert found.state == "AdminTask"
    assert [e.state for e in found.events] == ["sending", "AdminTask"]
    assert f'href="/approvals/{found.id}?decision=approved"' in checker_client.get("/approvals").get_data(as_text=True)


def test_the_sync_in_the_window_leaves_the_request_to_its_submission(app, client, sandbox, valid_form, monkeypatch):
    window = Window(app, monkeypatch)
    with submitting(client, valid_form, window) as answer:
        summary = in_context(app, sync_requests)()
        assert summary.imported == 0 and not summary.failures
        assert [r.origin for r in records(app)] == ["app"]
    assert assert_clean_submission(answer[0], app, sandbox).state == "AdminTask"


def test_a_copy_imported_and_decided_in_the_window_is_merged_into_the_submission(tmp_path, valid_form, monkeypatch):
    """The importer could not tell (clock skew) and a checker approved the copy: the app's record wins."""
    app = make_app(tmp_path, SKEWED_ZONE)
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    client, checker = signed_in_client(app, "agent"), signed_in_client(app, "checker")
    window = Window(app, monkeypatch)
    with submitting(client, valid_form, window) as answer:
        assert console(app) == 1
        copy = next(r for r in records(app) if r.origin == adoption.IMPORTED)
        form = {"decision": "approved", "message": "Looks right", "step": "confirm"}
        assert checker.post(f"/approvals/{copy.id}", data=form).status_code == 303
        assert record(app, copy.id).state == "approved"

    found = assert_clean_submission(answer[0], app, sandbox)
    assert found.state == "approved"  # the create answer (waiting) does not undo the decision
    assert [e.state for e in found.events] == ["sending", "AdminTask", "approved"]
    assert "Approved in this app by" in found.events[-1].note
    with app.app_context():
        (decision,) = db.session.scalars(select(Decision)).all()
        assert (decision.tracked_pk, decision.request_id, decision.status) == (found.id, found.request_id, "sent")
        assert db.session.scalar(select(StatusEvent).where(StatusEvent.request_pk == copy.id)) is None
    html = client.get(f"/requests/{found.id}").get_data(as_text=True)
    assert "Approved" in html and "Something went wrong" not in html


# -- 2. reconciliation of a stuck record whose requestId another record holds ------------------------


def _stuck_with_a_copy(app, client, sandbox, form) -> tuple[int, str, set[int]]:
    """A submission whose process died after Capillary created it, and a copy an importer took meanwhile.

    Made with the old importer's own step (``import_request``), as a release before this rule left
    it; the copy then follows the request to its approval. Returns (record, requestId, the copy's events).
    """
    pk = submit(client, form)
    request_id = record(app, pk).request_id
    with app.app_context():
        mine = db.session.get(TrackedRequest, pk)
        mine.request_id, mine.state, mine.details = None, "sending", None
        del mine.events[1:]
        db.session.commit()
        copy = adoption.import_request(gateway_setup.gateway_client().get_request(request_id, "token"))
        copy_pk = copy.id
    decide_in_capillary(sandbox, request_id, "approved")
    with app.app_context():
        sync_requests()  # not yet due for reconciliation: only the copy learns of the approval
    assert [(r.origin, r.state) for r in records(app)] == [("app", "sending"), ("imported", "approved")]
    return pk, request_id, {e.id for e in record(app, copy_pk).events}


def _assert_merged(app, pk: int, request_id: str, copy_events: set[int]) -> None:
    found = only_record(app)
    assert (found.id, found.origin, found.request_id, found.state) == (pk, "app", request_id, "approved")
    events = record(app, pk).events
    # The customer's status verified in Capillary after approval adds its own note (§10): left out here.
    states = [e.state for e in events if e.note not in (verification.NOTE_VERIFIED, verification.NOTE_NOT_YET)]
    assert states == ["sending", "AdminTask", "approved"]  # its wait, kept
    assert copy_events <= {e.id for e in events}  # the copy's timeline moved over, not redrawn
    assert not any("imported read-only" in e.note for e in events)


def test_the_status_page_reconciles_a_stuck_record_whose_request_a_copy_holds(app, client, sandbox, valid_form):
    pk, request_id, copy_events = _stuck_with_a_copy(app, client, sandbox, valid_form)
    set_times(app, pk, created_at=400, last_polled_at=3600)  # presumed dead, and past the grace period
    html = client.get(f"/requests/{pk}").get_data(as_text=True)
    _assert_merged(app, pk, request_id, copy_events)
    assert "Not created in Capillary" not in html and "Resend it" not in html
    assert client.post(f"/requests/{pk}/resend").status_code in (303, 409)
    assert sandbox.created_count == 1  # never a second real request


def test_the_sync_reconciles_a_stuck_record_whose_request_a_copy_holds(app, client, sandbox, valid_form):
    pk, request_id, copy_events = _stuck_with_a_copy(app, client, sandbox, valid_form)
    set_times(app, pk, created_at=400)
    with app.app_context():
        summary = sync_requests()
    assert summary.adopted == 1 and summary.not_created == 0 and not summary.failures
    _assert_merged(app, pk, request_id, copy_events)


def test_reconciliation_leaves_a_request_that_may_be_another_submission_in_flight(
        app, client, sandbox, valid_form, monkeypatch):
    """A lost submission and an identical one in flight: the listed request goes to the one in flight."""
    sandbox.inject_fault("timeout", count=1, endpoint="create")
    lost = submit(client, valid_form, key="b" * 32)
    assert record(app, lost).state == "unknown"  # and Capillary has nothing for it
    window = Window(app, monkeypatch)
    with submitting(client, valid_form, window, key="c" * 32) as answer:
        assert client.get(f"/requests/{lost}").status_code == 200  # reconciles the lost one now
        assert record(app, lost).request_id is None
    assert answer[0].status_code == 303
    mine = next(r for r in records(app) if r.id != lost)
    assert mine.request_id == sandbox.records()[0]["request"]["requestId"] and mine.state == "AdminTask"
    set_times(app, lost, created_at=400, last_polled_at=3600)
    client.get(f"/requests/{lost}")
    assert record(app, lost).state == "not_created"  # honestly: that one never reached Capillary


# -- 3. two importers at once ------------------------------------------------------------------------


def _list_together(app, monkeypatch, parties: int = 2) -> threading.Barrier:
    """Make the first waiting-requests list of each importer return at the same moment."""
    client = app.extensions["gateway_client"]
    real = client.list_requests
    together = threading.Barrier(parties, timeout=WAIT)
    seen: set[int] = set()

    def list_then_meet(*args, **kwargs):
        page = real(*args, **kwargs)
        if kwargs.get("states") == ["AdminTask"] and threading.get_ident() not in seen:
            seen.add(threading.get_ident())
            together.wait()
        return page

    monkeypatch.setattr(client, "list_requests", list_then_meet)
    return together


def test_two_importers_at_once_in_the_window_import_nothing(app, client, sandbox, valid_form, monkeypatch):
    window = Window(app, monkeypatch)
    _list_together(app, monkeypatch)
    with submitting(client, valid_form, window) as answer:
        with in_thread(lambda: console(app)) as from_console, in_thread(in_context(app, sync_requests)) as from_sync:
            pass
        assert from_console[0] == 0 and from_sync[0].imported == 0 and not from_sync[0].failures
        assert [r.origin for r in records(app)] == ["app"]
    assert assert_clean_submission(answer[0], app, sandbox).state == "AdminTask"


def test_two_importers_storing_one_copy_at_once_then_the_submission_takes_it(tmp_path, valid_form, monkeypatch):
    """Both importers take the request (clock skew) and insert it together: one copy, no error, then merged."""
    app = make_app(tmp_path, SKEWED_ZONE)
    sandbox = app.extensions["sandbox_app"].extensions["sandbox"]
    client = signed_in_client(app, "agent")
    window = Window(app, monkeypatch)
    together = threading.Barrier(2, timeout=WAIT)
    real_import = adoption.import_request

    def import_together(info):
        together.wait()  # both importers have decided to store it; now both insert
        return real_import(info)

    monkeypatch.setattr(adoption, "import_request", import_together)
    monkeypatch.setattr(sync, "import_request", import_together, raising=False)  # an older sync imported directly
    with submitting(client, valid_form, window) as answer:
        with in_thread(lambda: console(app)) as from_console, in_thread(in_context(app, sync_requests)) as from_sync:
            pass
        assert from_console[0] + from_sync[0].imported == 1 and not from_sync[0].failures
        assert [r.origin for r in records(app)] == ["app", "imported"]
    assert assert_clean_submission(answer[0], app, sandbox).state == "AdminTask"


def test_two_reconciliations_keeping_the_same_candidates_at_once_agree(app, client, sandbox, valid_form, monkeypatch):
    """The status page and the sync reconcile one lost record with several matches at the same moment."""
    from services.lifecycle import reconcile
    from tests.lifecycle_helpers import seed_like

    sandbox.inject_fault("timeout", count=1, endpoint="create")
    lost = submit(client, valid_form, key="b" * 32)
    seed_like(sandbox, valid_form)
    seed_like(sandbox, valid_form)
    together = threading.Barrier(2, timeout=WAIT)
    real_keep = reconcile._keep_candidates

    def keep_together(*args):
        together.wait()  # both have found the same two matches; now both store them
        return real_keep(*args)

    monkeypatch.setattr(reconcile, "_keep_candidates", keep_together)

    def reconcile_once():
        return reconcile.reconcile(db.session.get(TrackedRequest, lost)).outcome

    with in_thread(in_context(app, reconcile_once)) as first, in_thread(in_context(app, reconcile_once)) as second:
        pass
    assert first[0] == second[0] == reconcile.SEVERAL
    with app.app_context():
        assert len(reconcile.candidates_for(db.session.get(TrackedRequest, lost))) == 2


# -- 4. a bulk row in the window ---------------------------------------------------------------------


def test_a_bulk_row_in_the_window_keeps_its_request(app, sandbox, monkeypatch):
    batch_id = make_batch(app, 1)
    window = Window(app, monkeypatch)
    with in_thread(in_context(app, lambda: runner.run_batch(batch_id))) as ran:
        window.wait_for_answer()
        try:
            assert console(app) == 0
        finally:
            window.release()
    assert ran[0] == runner.FINISHED
    found = only_record(app)
    assert (found.origin, found.state, found.batch_line) == ("app", "AdminTask", 2)
    assert found.request_id == sandbox.records()[0]["request"]["requestId"]


# -- pages drawn while a copy is merged away --------------------------------------------------------


def _paused_on_first_call(monkeypatch, owner, name: str):
    """Pause the first call of ``owner.name`` until released; return (reached, release) events."""
    real = getattr(owner, name)
    reached, go = threading.Event(), threading.Event()

    def pause_then_call(*args, **kwargs):
        if not reached.is_set():
            reached.set()
            assert go.wait(WAIT)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, pause_then_call)
    return reached, go


def test_a_console_drawn_while_its_copy_is_merged_leaves_the_copy_out(tmp_path, valid_form, monkeypatch):
    app = make_app(tmp_path, SKEWED_ZONE)
    client, checker = signed_in_client(app, "agent"), signed_in_client(app, "checker")
    window = Window(app, monkeypatch)
    listed, go_on = _paused_on_first_call(monkeypatch, queue, "apply_update")
    with submitting(client, valid_form, window) as answer:
        with in_thread(lambda: checker.get("/approvals")) as page:
            assert listed.wait(WAIT)  # the console imported the copy and is about to update it
            mine, copy = records(app)
            assert (mine.origin, copy.origin) == ("app", "imported")
            window.release()  # the submission stores its answer now and merges the copy
            try:
                assert answer.done.wait(WAIT)
            finally:
                go_on.set()
    assert answer[0].status_code == 303 and [r.origin for r in records(app)] == ["app"]
    assert page[0].status_code == 200
    assert f"/approvals/{copy.id}?" not in page[0].get_data(as_text=True)  # the copy, gone, is not offered


def test_a_status_page_drawn_while_its_copy_is_merged_is_not_found(tmp_path, valid_form, monkeypatch):
    from views.requests import status

    app = make_app(tmp_path, SKEWED_ZONE)
    client, checker = signed_in_client(app, "agent"), signed_in_client(app, "checker")
    window = Window(app, monkeypatch)
    with submitting(client, valid_form, window) as answer:
        assert console(app) == 1
        copy_pk = next(r.id for r in records(app) if r.origin == adoption.IMPORTED)
        loaded, go_on = _paused_on_first_call(monkeypatch, status, "refresh")
        with in_thread(lambda: checker.get(f"/requests/{copy_pk}")) as page:
            assert loaded.wait(WAIT)  # the page has loaded the copy
            window.release()
            try:
                assert answer.done.wait(WAIT)
            finally:
                go_on.set()
    assert answer[0].status_code == 303
    assert page[0].status_code == 404  # not "the database is not available"


# -- the merge knows every table that points at a record ---------------------------------------------


def test_the_merge_moves_every_reference_to_a_record():
    """A new table pointing at tracked_requests must be taught to the merge (adoption.merge_copy)."""
    pointing = {f"{fk.parent.table.name}.{fk.parent.name}" for table in db.metadata.tables.values()
                for fk in table.foreign_keys if fk.column.table.name == "tracked_requests"}
    assert pointing == set(adoption.MERGED_REFERENCES)

