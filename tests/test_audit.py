"""The audit trail: what is recorded, that it cannot be changed, and the admin page with CSV export."""

from __future__ import annotations

import csv
import io
import re
import uuid

import pytest
from sqlalchemy import create_engine, delete, select, text, update
from sqlalchemy.exc import DatabaseError

from extensions import db
from models import AuditEvent, TrackedRequest, User
from models.audit import AppendOnlyError
from services.people import audit
from tests.databases import postgres_schema_url
from tests.helpers import VALID_FORM, signed_in_client


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def _trail(app):
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        return [(e.action, e.actor_name, e.target) for e in events]


def test_a_day_of_work_leaves_a_complete_trail(app, client, checker_client, admin_client):
    app.test_client().post("/login", data={"username": "agent", "password": "wrong password!"})
    client.post("/requests", data={**VALID_FORM, "submission_key": "a" * 32})
    with app.app_context():
        pk = db.session.scalar(select(TrackedRequest.id))
    checker_client.post(f"/approvals/{pk}", data={"decision": "rejected", "message": "Wrong customer",
                                                   "step": "confirm"})
    client.post("/profile/token", data={"token": "opaque-session-token-0123456789"})
    client.post("/profile/token/clear")
    admin_client.post("/admin/users/new", data={"username": "nina", "roles": ["maker"], "stores": "50682288",
                                                "password": "a long password 1"})
    with app.app_context():
        nina = db.session.scalar(select(User).where(User.username == "nina"))
    admin_client.post(f"/admin/users/{nina.id}", data={"roles": ["maker", "checker"], "stores": "50682288",
                                                       "display_name": "Nina"})
    admin_client.post(f"/admin/users/{nina.id}", data={"roles": ["maker", "checker"], "stores": "50682288",
                                                       "display_name": "Nina", "disabled": "y"})
    client.post("/logout")
    trail = _trail(app)
    actions = [action for action, _who, _target in trail]
    for expected in ("auth.sign_in", "auth.sign_in_failed", "request.submitted", "request.rejected",
                     "token.set", "token.cleared", "user.created", "user.changed", "user.disabled",
                     "auth.sign_out"):
        assert expected in actions, expected
    assert ("request.submitted", "agent", f"request {pk}") in trail
    assert ("request.rejected", "checker", f"request {pk}") in trail
    assert ("user.disabled", "admin", "user nina") in trail
    with app.app_context():
        changed = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.changed"))
        assert "roles maker → maker, checker" in changed.detail
        assert changed.ip == "127.0.0.1" and len(changed.request_id) == 32


def test_a_submission_and_its_event_are_stored_together(app, client, monkeypatch):
    from services.lifecycle import submission

    def broken(*args, **kwargs):
        raise RuntimeError("audit store failed")

    monkeypatch.setattr(submission.audit, "record", broken)
    response = client.post("/requests", data={**VALID_FORM, "submission_key": "b" * 32})
    assert response.status_code == 500
    with app.app_context():
        assert db.session.scalar(select(TrackedRequest.id)) is None  # no record without its event


def test_events_cannot_be_changed_or_deleted_through_the_orm(app, client):
    with app.app_context():
        event = db.session.scalar(select(AuditEvent))
        event.detail = "rewritten"
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.scalar(select(AuditEvent)))
        with pytest.raises(AppendOnlyError):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(AppendOnlyError):
            db.session.execute(update(AuditEvent).values(detail="x"))
        with pytest.raises(AppendOnlyError):
            db.session.execute(delete(AuditEvent))
        db.session.rollback()
        assert db.session.scalar(select(AuditEvent).order_by(AuditEvent.id)).detail != "rewritten"


def test_the_sqlite_database_refuses_changes_too(app, client):
    with app.app_context():
        with pytest.raises(DatabaseError, match="append-only"):
            with db.engine.begin() as connection:
                connection.execute(text("UPDATE audit_events SET detail = 'x'"))
        with pytest.raises(DatabaseError, match="append-only"):
            with db.engine.begin() as connection:
                connection.execute(text("DELETE FROM audit_events"))
        assert db.session.scalar(select(db.func.count()).select_from(AuditEvent)) > 0


@pytest.mark.postgres
def test_the_postgresql_database_refuses_changes_too():
    url = postgres_schema_url()
    engine = create_engine(url)
    try:
        db.metadata.create_all(engine, tables=[db.metadata.tables["users"], AuditEvent.__table__])
        with engine.begin() as connection:
            connection.execute(AuditEvent.__table__.insert().values(
                at=db.func.now(), actor_name="t", action="auth.sign_in", target="", detail="", ip="", request_id=""))
        for statement in ("UPDATE audit_events SET detail = 'x'", "DELETE FROM audit_events",
                          "TRUNCATE audit_events"):
            with pytest.raises(DatabaseError, match="append-only"):
                with engine.begin() as connection:
                    connection.execute(text(statement))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM audit_events")).scalar() == 1
    finally:
        engine.dispose()


def _seed(app, n=60):
    with app.app_context():
        for i in range(n):
            audit.record("auth.sign_in_failed", actor=None, target=f"user u{i}", detail="wrong password")
        audit.record("user.changed", actor=None, actor_name="zed", target="user w",
                     detail="=HYPERLINK(\"http://evil.example\")")
        db.session.commit()


def test_the_admin_page_filters_and_pages(app, admin_client):
    _seed(app)
    page = admin_client.get("/admin/audit")
    assert page.status_code == 200
    text_all = _text(page)
    assert "Page 1 of 2" in text_all
    failed = _text(admin_client.get("/admin/audit?action=auth.sign_in_failed"))
    assert "60 events match" in failed and "Failed sign-in" in failed
    by_who = _text(admin_client.get("/admin/audit?who=zed"))
    assert "1 event match" in by_who
    by_text = _text(admin_client.get("/admin/audit?text=u5"))
    assert "11 events match" in by_text  # u5, u50..u59
    like_chars = _text(admin_client.get("/admin/audit?text=%25"))
    assert "0 events match" in like_chars  # % is a character, not a wildcard
    bad = admin_client.get("/admin/audit?since=2030-01-02&until=2030-01-01")
    assert "The end date is before the start date." in _text(bad)
    today = _text(admin_client.get("/admin/audit?since=2000-01-01&until=2100-01-01&who=zed"))
    assert "1 event match" in today


def test_csv_export_follows_the_filters_and_defuses_formulas(app, admin_client):
    _seed(app, n=3)
    response = admin_client.get("/admin/audit.csv?who=zed")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == list(audit.CSV_COLUMNS)
    assert len(rows) == 2
    assert rows[1][3] == "user.changed"
    assert rows[1][5].startswith("'=HYPERLINK")  # a spreadsheet shows it, never runs it
    everything = list(csv.reader(io.StringIO(admin_client.get("/admin/audit.csv").get_data(as_text=True))))
    assert len(everything) > 5


def test_only_admins_read_the_trail(app, client, checker_client):
    assert client.get("/admin/audit").status_code == 403
    assert checker_client.get("/admin/audit.csv").status_code == 403


def test_unknown_actions_are_refused(app):
    with app.app_context(), pytest.raises(ValueError):
        audit.record("made.up", actor=None)


def test_the_command_line_is_named_as_the_actor(app):
    with app.app_context():
        event = audit.record("user.changed", actor=None, target=f"user {uuid.uuid4().hex[:6]}")
        assert event.actor_name.startswith("command line")
        assert event.ip == ""


def test_sign_in_events_record_the_client_address_behind_a_proxy(tmp_path):
    from tests.helpers import make_app

    app = make_app(tmp_path, {"CAP_PROXY_FIX": "1"})
    client = app.test_client()
    client.post("/login", data={"username": "agent", "password": "help-desk-sandbox"},
                headers={"X-Forwarded-For": "203.0.113.9"})
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.sign_in"))
        assert event.ip == "203.0.113.9"
    signed_in_client(app, "checker")  # without the header: the direct peer
    with app.app_context():
        last = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.sign_in")).all()[-1]
        assert last.ip == "127.0.0.1"


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_migrated_database_refuses_changes_too(tmp_path, kind):
    """`flask db upgrade` installs the same append-only triggers as create_all."""
    from tests.helpers import make_app

    url = f"sqlite:///{tmp_path / 'migrated.sqlite3'}" if kind == "sqlite" else postgres_schema_url()
    app = make_app(tmp_path, {"DATABASE_URL": url}, SCHEMA_SETUP="check")
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        audit.record("auth.sign_in", actor=None, actor_name="t")
        db.session.commit()
        for statement in ("UPDATE audit_events SET detail = 'x'", "DELETE FROM audit_events"):
            with pytest.raises(DatabaseError, match="append-only"):
                with db.engine.begin() as connection:
                    connection.execute(text(statement))


def test_a_forged_address_is_defused_in_the_csv_export(tmp_path):
    """Security finding 12 of issue 11: the ip column, reachable through a trusted X-Forwarded-For."""
    from tests.helpers import make_app

    app = make_app(tmp_path, {"CAP_PROXY_FIX": "1"})
    forged = '=HYPERLINK("http://evil.example/")'  # no comma: a proxy list's last entry is the address
    app.test_client().post("/login", data={"username": "agent", "password": "help-desk-sandbox"},
                           headers={"X-Forwarded-For": forged})
    admin = signed_in_client(app, "admin")
    rows = list(csv.reader(io.StringIO(admin.get("/admin/audit.csv").get_data(as_text=True))))
    ip = rows[0].index("ip")
    cells = [row[ip] for row in rows[1:] if "HYPERLINK" in row[ip]]
    assert cells == ["'" + forged]  # shown as text, never run


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_cell_of_every_export_is_guarded(start):
    """Every export goes through views/csv_export.csv_lines, which guards each cell, header row aside."""
    from views.csv_export import csv_lines

    text = "".join(csv_lines(["a", "b", "c"], [[start + "1+1", 7, None], ["ok", start + "cmd|' /C calc'!A0", ""]]))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1] == ["'" + start + "1+1", "7", ""]
    assert rows[2] == ["ok", "'" + start + "cmd|' /C calc'!A0", ""]
