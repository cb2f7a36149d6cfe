"""The status page keeps a settled request's rendered fragments and draws them again when the record changes."""

from __future__ import annotations

import re
from contextlib import contextmanager

from flask import template_rendered
from markupsafe import Markup

from extensions import db
from models import TrackedRequest
from tests.lifecycle_helpers import allow_next_poll, decide_in_capillary, record, sql_statements, submit
from views.requests.fragments import LIVE_TEMPLATE, TIMELINE_TEMPLATE, FragmentCache


@contextmanager
def renders_of(app, template_name: str = TIMELINE_TEMPLATE):
    """Yield a list that grows by one each time the template is drawn."""
    drawn: list[str] = []

    def seen(sender, template, context, **extra):
        if template.name == template_name:
            drawn.append(template.name)

    template_rendered.connect(seen, app)
    try:
        yield drawn
    finally:
        template_rendered.disconnect(seen, app)


def _timeline(html: str) -> str:
    return re.search(r'<ol class="timeline">.*?</ol>', html, re.S).group(0)


def test_a_decided_requests_timeline_is_drawn_once_until_the_record_changes(app, client, sandbox, valid_form):
    pk = submit(client, valid_form)
    decide_in_capillary(sandbox, record(app, pk).request_id, "approved", "Fraud pattern confirmed")
    allow_next_poll(app, pk)
    with renders_of(app) as drawn:
        first = client.get(f"/requests/{pk}").get_data(as_text=True)  # refreshes: now approved
        assert record(app, pk).state == "approved"
        assert len(drawn) == 1
        second = client.get(f"/requests/{pk}").get_data(as_text=True)
        fragment = client.get(f"/requests/{pk}/live").get_data(as_text=True)
        assert len(drawn) == 1  # the kept fragment was used
        assert _timeline(second) == _timeline(first) == _timeline(fragment)
        assert "Fraud pattern confirmed" in _timeline(second)

        # Any change to the record (here a new state with its timeline note) draws it again.
        with app.app_context():
            found = db.session.get(TrackedRequest, pk)
            found.record_state("failed", "Capillary could not apply the change.")
            db.session.commit()
        changed = client.get(f"/requests/{pk}").get_data(as_text=True)
        assert len(drawn) == 2
        assert "Capillary could not apply the change." in _timeline(changed)
        assert _timeline(changed) != _timeline(first)

        # Another reader's time zone is another fragment: times are shown in the reader's zone.
        client.set_cookie("tz", "Asia/Kolkata")
        elsewhere = client.get(f"/requests/{pk}").get_data(as_text=True)
        assert len(drawn) == 3
        assert "+0530" in _timeline(elsewhere) and "+0530" not in _timeline(changed)


def test_an_open_requests_timeline_is_drawn_on_every_page(app, client, valid_form):
    pk = submit(client, valid_form)
    with renders_of(app) as drawn:
        for _ in range(3):
            html = client.get(f"/requests/{pk}").get_data(as_text=True)
        assert len(drawn) == 3
    assert "Waiting for approval" in _timeline(html)


def tables_read(statements: list[str]) -> set[str]:
    """The tables the SELECTs among ``statements`` name."""
    return {table for text in statements if text.lstrip().upper().startswith("SELECT")
            for table in re.findall(r"\b(?:FROM|JOIN) (\w+)", text)}


def test_a_decided_requests_live_part_is_drawn_once_and_its_history_not_read_again(app, client, sandbox,
                                                                                    valid_form):
    pk = submit(client, valid_form)
    decide_in_capillary(sandbox, record(app, pk).request_id, "rejected", "Not the customer we thought")
    allow_next_poll(app, pk)
    with renders_of(app, LIVE_TEMPLATE) as drawn:
        first = client.get(f"/requests/{pk}").get_data(as_text=True)  # refreshes: now rejected
        assert len(drawn) == 1
        with sql_statements(app) as statements:
            second = client.get(f"/requests/{pk}").get_data(as_text=True)
            fragment = client.get(f"/requests/{pk}/live").get_data(as_text=True)
        assert len(drawn) == 1
        read = tables_read(statements)
        assert "status_events" not in read and "decisions" not in read  # neither timeline nor decisions
        assert "tracked_requests" in read  # the record itself is read on every page
        # The kept fragment, word for word, in both pages (around it, e.g. the CSRF token of the
        # sign-out form, is drawn per page).
        assert "Not the customer we thought" in fragment and fragment in first and fragment in second

        client.set_cookie("lang", "es")  # another language is another fragment
        spanish = client.get(f"/requests/{pk}").get_data(as_text=True)
        assert len(drawn) == 2 and 'lang="es"' in spanish


def test_a_fragment_with_something_to_do_is_drawn_for_each_reader(app, client, sandbox, valid_form):
    sandbox.inject_fault("400-json")  # refused: nothing created, "Edit and retry" is offered
    pk = submit(client, valid_form)
    assert record(app, pk).state == "failed_to_submit"
    with renders_of(app, LIVE_TEMPLATE) as drawn:
        for _ in range(2):
            html = client.get(f"/requests/{pk}").get_data(as_text=True)
        assert len(drawn) == 2
    assert "Edit and retry" in html


def test_the_kept_fragments_stay_within_their_byte_budget():
    def fragment(n: int) -> Markup:
        return Markup("<p>request {}</p>{}").format(n, "".join(f"event {n}.{i}; " for i in range(40)))

    cache = FragmentCache(max_bytes=4096)
    for n in range(200):
        cache.put(n, fragment(n))
        assert cache.size_bytes <= 4096
    assert cache.get(0) is None  # the oldest went first
    assert cache.get(199) == fragment(199)
    assert isinstance(cache.get(199), Markup)
