"""The checker's queue: oldest first, sorting, filters with counts, page sizes, makers' names, stable order."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from extensions import db
from models import TrackedRequest, utcnow
from services.bulk import runner
from services.people import accounts
from tests.bulk_helpers import make_batch
from tests.helpers import sign_in
from tests.lifecycle_helpers import record, records, submit


def _rows(html: str) -> list[int]:
    """The request ids in the queue's table, top to bottom."""
    return [int(pk) for pk in re.findall(r'<td data-label="#"><a href="/requests/(\d+)">', html)]


def _age(app, pk: int, seconds: int) -> None:
    """Pretend Capillary started ``pk`` ``seconds`` ago."""
    with app.app_context():
        when = utcnow() - timedelta(seconds=seconds)
        db.session.execute(update(TrackedRequest).where(TrackedRequest.id == pk)
                           .values(start_time=when, created_at=when))
        db.session.commit()


def test_the_longest_wait_is_on_top_and_the_order_can_be_turned(app, client, checker_client, valid_form):
    first = submit(client, valid_form, key="a" * 32)
    second = submit(client, {**valid_form, "reason": "Second"}, key="b" * 32)
    third = submit(client, {**valid_form, "reason": "Third"}, key="c" * 32)
    _age(app, first, 7200)
    _age(app, second, 60)
    _age(app, third, 3 * 86400)

    assert _rows(checker_client.get("/approvals").get_data(as_text=True)) == [third, first, second]
    assert _rows(checker_client.get("/approvals?sort=newest").get_data(as_text=True)) == [second, first, third]
    # Not understood: the default order, no error.
    assert _rows(checker_client.get("/approvals?sort=nonsense&size=7").get_data(as_text=True)) == [third, first, second]


def test_equal_times_keep_one_order_and_a_bulk_file_shows_in_line_order(app, checker_client, sandbox):
    batch_id = make_batch(app, 6)
    with app.app_context():
        assert runner.run_batch(batch_id) == runner.FINISHED
        same = utcnow() - timedelta(minutes=5)
        # Sent 8 at a time, Capillary's start times need not follow the lines: make them all equal.
        db.session.execute(update(TrackedRequest).values(start_time=same))
        db.session.commit()
    lines = {r.id: r.batch_line for r in records(app)}

    pages = [_rows(checker_client.get("/approvals").get_data(as_text=True)) for _ in range(3)]
    assert pages[0] == pages[1] == pages[2] == sorted(lines)  # ties broken by id, every time
    by_file = _rows(checker_client.get(f"/approvals?batch={batch_id}&sort=file").get_data(as_text=True))
    assert [lines[pk] for pk in by_file] == sorted(lines.values())


def test_filters_narrow_the_queue_and_each_choice_shows_its_count(app, client, checker_client, valid_form):
    with app.app_context():
        accounts.create_user("priya", ["maker"], "a-long-enough-pass-42", ["50682288 zone=50682286 concept=50678331"],
                             display_name="Priya Store Manager", actor=None)
        db.session.commit()
    priya = app.test_client()
    sign_in(priya, "priya", "a-long-enough-pass-42")
    by_agent = submit(client, valid_form, key="a" * 32)
    fraud = submit(client, {**valid_form, "label": "Fraud confirmed"}, key="b" * 32)
    by_priya = submit(priya, valid_form, key="c" * 32)
    _age(app, by_agent, 2 * 86400)

    html = checker_client.get("/approvals").get_data(as_text=True)
    # The app's submitter beside Capillary's maker user.
    maker = record(app, by_priya).maker_user_name
    assert f"Priya Store Manager <span class=\"muted\">(Capillary user {maker})</span>" in html
    assert "All labels (3)" in html and "Suspended (2)" in html and "Fraud confirmed (1)" in html
    assert "Priya Store Manager, in this app (1)" in html and "Demo support agent, in this app (2)" in html
    assert f"{maker}, Capillary user (3)" in html
    assert "Over a day (1)" in html and "Over an hour (1)" in html and "Over a week (0)" in html

    labelled = checker_client.get("/approvals?label=Suspended").get_data(as_text=True)
    assert sorted(_rows(labelled)) == [by_agent, by_priya]
    assert "2 match the filters." in labelled
    # The other filters' counts follow the label filter; the label's own choices keep theirs.
    assert "Demo support agent, in this app (1)" in labelled and "Fraud confirmed (1)" in labelled

    with app.app_context():
        priya_id = accounts.find_user("priya").id
    assert _rows(checker_client.get(f"/approvals?maker=u{priya_id}").get_data(as_text=True)) == [by_priya]
    assert _rows(checker_client.get(f"/approvals?maker=c{maker}").get_data(as_text=True)) == [by_agent, fraud,
                                                                                               by_priya]
    assert _rows(checker_client.get("/approvals?age=1d").get_data(as_text=True)) == [by_agent]
    assert _rows(checker_client.get("/approvals?store=50682288&label=Fraud+confirmed").get_data(as_text=True)) == [
        fraud]
    empty = checker_client.get("/approvals?store=nowhere").get_data(as_text=True)
    assert _rows(empty) == [] and "Nothing waiting matches these filters." in empty


def test_page_size_is_a_choice_and_paging_keeps_the_filters(app, checker_client, sandbox):
    batch_id = make_batch(app, 30)
    with app.app_context():
        assert runner.run_batch(batch_id) == runner.FINISHED

    first = checker_client.get(f"/approvals?batch={batch_id}").get_data(as_text=True)
    assert len(_rows(first)) == 25
    assert f'href="/approvals?batch={batch_id}&amp;page=2" rel="next"' in first
    assert len(_rows(checker_client.get(f"/approvals?batch={batch_id}&page=2").get_data(as_text=True))) == 5
    assert len(_rows(checker_client.get(f"/approvals?batch={batch_id}&size=50").get_data(as_text=True))) == 30
    assert f"File #{batch_id}, test.csv (30)" in first


def test_requests_capillary_no_longer_lists_leave_the_queue(app, client, checker_client, sandbox, valid_form):
    pk = submit(client, valid_form)
    assert _rows(checker_client.get("/approvals").get_data(as_text=True)) == [pk]
    sandbox.reset()  # the training sandbox forgets every request

    html = checker_client.get("/approvals").get_data(as_text=True)
    assert _rows(html) == [] and "0 requests waiting." in html
    assert record(app, pk).state == "AdminTask"  # the record itself is for the refresh or sync to settle
