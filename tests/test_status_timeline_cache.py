"""The status page keeps a decided request's rendered timeline and draws it again when the record changes."""

from __future__ import annotations

import re
from contextlib import contextmanager

from flask import template_rendered

from extensions import db
from models import TrackedRequest
from tests.lifecycle_helpers import allow_next_poll, decide_in_capillary, record, submit
from views.requests.timeline import TEMPLATE


@contextmanager
def timeline_renders(app):
    """Yield a list that grows by one each time the timeline template is drawn."""
    drawn: list[str] = []

    def seen(sender, template, context, **extra):
        if template.name == TEMPLATE:
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
    with timeline_renders(app) as drawn:
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
    with timeline_renders(app) as drawn:
        for _ in range(3):
            html = client.get(f"/requests/{pk}").get_data(as_text=True)
        assert len(drawn) == 3
    assert "Waiting for approval" in _timeline(html)
