"""A submitter's "My requests": counts per state, the latest decisions, the header's badge."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import insert, select

from extensions import db
from models import TrackedRequest, User
from services.lifecycle import my_requests
from services.lifecycle.wording import describe
from tests.helpers import signed_in_client

BASE = datetime(2024, 5, 1, 12, 0, 0)


def _person(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def _fill(app, owner_id: int | None, states: list[str], *, start: datetime = BASE, message: str = "") -> None:
    defaults = {
        "origin": "app", "till_id": "T1", "store_id": "S1", "zone_id": "Z1", "concept_id": "C1",
        "identifier_name": "mobile", "label": "Suspended", "reason": "Test", "source": "INSTORE",
        "account_id": "", "use_async": False, "request_type": "customer-status-change",
    }
    details = {"AdminTask-Payload": {"actionDecision": "approved", "message": message}} if message else None
    with app.app_context():
        first = db.session.scalar(select(db.func.count()).select_from(TrackedRequest)) or 0
        db.session.execute(insert(TrackedRequest), [
            {**defaults, "submission_key": f"m{first + n:031d}", "state": state, "submitted_by_id": owner_id,
             "identifier_value": f"9197803{first + n:05d}", "created_at": start + timedelta(minutes=n),
             "updated_at": start + timedelta(minutes=n), "details": details}
            for n, state in enumerate(states)
        ])
        db.session.commit()


def _badge(html: str) -> str | None:
    found = re.search(r'My requests <span class="count-badge" aria-hidden="true">([^<]+)</span>', html)
    return found.group(1) if found else None


def test_counts_per_state_and_the_latest_decisions_are_the_persons_own(app):
    client = signed_in_client(app, "maker")
    me, other = _person(app, "maker"), _person(app, "agent")
    _fill(app, me, ["AdminTask", "AdminTask", "approved", "rejected", "failed", "unknown"])
    _fill(app, other, ["approved"] * 3)
    html = client.get("/requests/mine").get_data(as_text=True)
    assert "You have submitted 6 requests." in html
    counts = dict(re.findall(r'<span class="badge[^"]*">([^<]+)</span>\s*<span class="count">(\d+)</span>', html))
    with app.test_request_context():
        words = {state: str(describe(state).badge) for state in ("AdminTask", "approved", "rejected", "failed",
                                                                 "unknown")}
    assert counts == {words["AdminTask"]: "2", words["approved"]: "1", words["rejected"]: "1",
                      words["failed"]: "1", words["unknown"]: "1"}
    rows = re.findall(r'<td data-label="#"><a href="/requests/(\d+)">', html)
    assert rows == ["5", "4", "3"]  # decided ones, newest first; nobody else's
    assert "This is your first visit to this page." in html


def test_the_badge_counts_decisions_that_arrived_since_the_last_visit(app):
    client = signed_in_client(app, "maker")
    me = _person(app, "maker")
    _fill(app, me, ["approved", "AdminTask"], start=BASE)
    assert _badge(client.get("/requests").get_data(as_text=True)) == "1"  # never looked: every decision
    assert "(1 new decision)" in client.get("/requests").get_data(as_text=True)
    client.get("/requests/mine")  # looked now
    assert _badge(client.get("/requests").get_data(as_text=True)) is None
    with app.app_context():  # as if that visit was at 13:00, and two decisions arrived at 14:00
        db.session.get(User, me).my_requests_seen_at = BASE + timedelta(hours=1)
        db.session.commit()
    _fill(app, me, ["rejected", "approved"], start=BASE + timedelta(hours=2))
    html = client.get("/requests").get_data(as_text=True)
    assert _badge(html) == "2" and "(2 new decisions)" in html
    page = client.get("/requests/mine").get_data(as_text=True)
    assert "2 decisions arrived since your last visit" in page
    assert _badge(page) is None  # the page itself marks them instead
    assert page.count('<span class="badge badge-waiting">New</span>') == 2
    assert _badge(client.get("/requests").get_data(as_text=True)) is None


def test_a_checker_has_no_my_requests_page_nor_badge(app):
    client = signed_in_client(app, "checker")
    assert client.get("/requests/mine").status_code == 403
    assert "My requests" not in client.get("/approvals").get_data(as_text=True)


def test_the_badge_is_capped_and_worded(app):
    client = signed_in_client(app, "maker")
    _fill(app, _person(app, "maker"), ["approved"] * 101)
    html = client.get("/requests").get_data(as_text=True)
    assert _badge(html) == "99+" and "(more than 99 new decisions)" in html
    with app.app_context():
        person = db.session.get(User, _person(app, "maker"))
        assert my_requests.new_decisions(person) == 100  # counting stops early


def test_someone_without_requests_is_invited_to_make_one(app):
    html = signed_in_client(app, "agent").get("/requests/mine").get_data(as_text=True)
    assert "You have not submitted any request yet." in html


def test_the_page_works_in_spanish(app):
    client = signed_in_client(app, "maker")
    _fill(app, _person(app, "maker"), ["approved"])
    client.set_cookie("lang", "es")
    html = client.get("/requests/mine", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "Mis solicitudes" in html and "Últimas decisiones" in html
