"""``flask users ...``: create (the first admin in real mode), list, disable, enable, set-password."""

from __future__ import annotations

from sqlalchemy import select

from extensions import db
from models import AuditEvent
from services.people import accounts
from tests.helpers import make_app, sign_in
from tests.test_config import REAL

PASSWORD = "a sturdy first password"  # noqa: S105 - a test account's


def _run(app, *args, stdin=None):
    return app.test_cli_runner().invoke(args=["users", *args], input=stdin)


def test_real_mode_starts_with_nobody_and_the_cli_makes_the_first_admin(tmp_path):
    app = make_app(tmp_path, REAL)
    listed = _run(app, "list")
    assert "No users yet" in listed.output
    result = _run(app, "create", "Root.Admin", "--role", "admin", "--display-name", "Operations",
                  "--password-stdin", stdin=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Created root.admin (admin)." in result.output
    assert PASSWORD not in result.output
    client = app.test_client()
    sign_in(client, "root.admin", PASSWORD)
    assert client.get("/admin/users").status_code == 200
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.created"))
        assert event.actor_name.startswith("command line")
        assert event.target == "user root.admin"


def test_makers_are_created_with_their_stores(app):
    result = _run(app, "create", "store7", "--role", "maker", "--role", "checker",
                  "--store", "50682288 zone=50682286 concept=50678331 till=50682289",
                  "--store", "60000002", "--password-stdin", stdin=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = accounts.find_user("store7")
        assert user.roles == ("maker", "checker")
        assert [s.describe() for s in user.stores] == [
            "50682288 zone=50682286 concept=50678331 till=50682289", "60000002"]
    listed = _run(app, "list").output
    assert "store7\tmaker,checker\tstores: 50682288 zone=50682286 concept=50678331 till=50682289; 60000002" in listed
    assert "scrypt" not in listed


def test_mistakes_are_explained_and_nothing_is_created(app):
    cases = [
        (["create", "x1", "--role", "maker", "--password-stdin"], PASSWORD, "A maker needs at least one store"),
        (["create", "x2", "--role", "agent", "--password-stdin"], "short", "at least 12 characters"),
        (["create", "agent", "--role", "agent", "--password-stdin"], PASSWORD, "already a user called agent"),
        (["create", "x3", "--role", "wizard", "--password-stdin"], PASSWORD, "Invalid value for '--role'"),
        (["create", "x4", "--role", "agent", "--password-stdin"], "", "No password on standard input"),
        (["create", "bad name", "--role", "agent", "--password-stdin"], PASSWORD, "A username is 2 to 64"),
        (["create", "x5", "--role", "maker", "--store", "zone=1", "--password-stdin"], PASSWORD, "is not a store"),
    ]
    for args, stdin, message in cases:
        result = _run(app, *args, stdin=stdin + "\n" if stdin else "")
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    with app.app_context():
        for name in ("x1", "x2", "x3", "x4", "x5"):
            assert accounts.find_user(name) is None


def test_passwords_are_never_taken_from_the_command_line(app):
    result = _run(app, "create", "x6", "--role", "agent", "--password", PASSWORD)
    assert result.exit_code != 0
    assert "No such option" in result.output
    # Without --password-stdin and with no terminal to ask on, it says how to give one.
    piped = _run(app, "create", "x7", "--role", "agent", stdin=PASSWORD + "\n")
    assert piped.exit_code != 0
    assert "--password-stdin" in piped.output


def test_disable_enable_and_set_password(app):
    _run(app, "create", "temp1", "--role", "agent", "--password-stdin", stdin=PASSWORD + "\n")
    client = app.test_client()
    sign_in(client, "temp1", PASSWORD)
    result = _run(app, "disable", "TEMP1")
    assert result.exit_code == 0 and "Disabled temp1." in result.output
    assert client.get("/profile").status_code == 302  # signed out at once
    assert "disabled" in _run(app, "list").output
    assert "already disabled" in _run(app, "disable", "temp1").output
    assert app.test_client().post("/login", data={"username": "temp1", "password": PASSWORD}).status_code == 401
    assert _run(app, "enable", "temp1").exit_code == 0
    new_password = "another sturdy password"
    result = _run(app, "set-password", "temp1", "--password-stdin", stdin=new_password + "\n")
    assert result.exit_code == 0 and "New password set for temp1." in result.output
    assert app.test_client().post("/login", data={"username": "temp1", "password": PASSWORD}).status_code == 401
    sign_in(app.test_client(), "temp1", new_password)
    assert "no user called ghost" in _run(app, "disable", "ghost").output
    with app.app_context():
        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.target == "user temp1")).all()
    assert {"user.created", "user.disabled", "user.enabled", "user.password_set"} <= set(actions)


def test_windows_line_endings_on_stdin_are_not_part_of_the_password(app):
    _run(app, "create", "crlf", "--role", "agent", "--password-stdin", stdin=PASSWORD + "\r\n")
    sign_in(app.test_client(), "crlf", PASSWORD)
