"""The admin pages: adding and changing people, and the read-only settings with secrets masked."""

from __future__ import annotations

import re

import pytest

from extensions import db
from services.people import accounts
from tests.helpers import make_app, sign_in, signed_in_client

PASSWORD = "a long first password"  # noqa: S105 - a test account's


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def _user(app, name):
    with app.app_context():
        user = accounts.find_user(name)
        return user.id if user else None


def test_an_admin_adds_a_maker_who_can_then_sign_in(app, admin_client):
    page = admin_client.get("/admin/users/new").get_data(as_text=True)
    for role in ("maker", "agent", "checker", "admin"):
        assert f'value="{role}"' in page
    response = admin_client.post("/admin/users/new", data={
        "username": "Olga", "display_name": "Olga Store 7", "roles": ["maker"],
        "stores": "50682288 zone=50682286 concept=50678331\n", "password": PASSWORD})
    assert response.status_code == 303
    listing = _text(admin_client.get("/admin/users"))
    assert "olga" in listing and "Olga Store 7" in listing and "50682288" in listing
    client = app.test_client()
    sign_in(client, "olga", PASSWORD)
    assert 'value="50682288"' in client.get("/requests/new").get_data(as_text=True)


def test_the_add_form_explains_what_is_wrong(app, admin_client):
    cases = [
        ({"username": "", "roles": ["agent"], "password": PASSWORD}, "Enter a username."),
        ({"username": "p1", "roles": [], "password": PASSWORD}, "Choose at least one role."),
        ({"username": "p2", "roles": ["agent"], "password": ""}, "Give the user a first password"),
        ({"username": "p3", "roles": ["agent"], "password": "short"}, "at least 12 characters"),
        ({"username": "p4", "roles": ["maker"], "password": PASSWORD}, "A maker needs at least one store"),
        ({"username": "p5", "roles": ["maker"], "stores": "123 color=red", "password": PASSWORD}, "is not understood"),
        ({"username": "agent", "roles": ["agent"], "password": PASSWORD}, "already a user called agent"),
        ({"username": "p6", "roles": ["root"], "password": PASSWORD}, "is not a valid choice"),
    ]
    for data, message in cases:
        response = admin_client.post("/admin/users/new", data=data)
        assert response.status_code == 422, data
        assert message in _text(response), (data, _text(response)[:500])
        assert PASSWORD not in response.get_data(as_text=True)
    for name in ("p1", "p2", "p3", "p4", "p5", "p6"):
        assert _user(app, name) is None


def test_an_admin_changes_roles_and_stores_and_disables(app, admin_client):
    maker_id = _user(app, "maker")
    maker = signed_in_client(app, "maker")
    form = admin_client.get(f"/admin/users/{maker_id}").get_data(as_text=True)
    assert "50682288 zone=50682286 concept=50678331 till=50682289" in form
    response = admin_client.post(f"/admin/users/{maker_id}", data={
        "display_name": "Demo store manager", "roles": ["maker", "checker"],
        "stores": "50682288 zone=50682286 concept=50678331 till=50682289\n60000002"})
    assert response.status_code == 303
    with app.app_context():
        user = db.session.get(accounts.User, maker_id)
        assert user.roles == ("maker", "checker") and user.store_ids == ("50682288", "60000002")
    assert maker.get("/approvals").status_code == 200  # the new role applies at once
    response = admin_client.post(f"/admin/users/{maker_id}", data={
        "display_name": "Demo store manager", "roles": ["maker", "checker"], "stores": "60000002", "disabled": "y"})
    assert response.status_code == 303
    assert maker.get("/profile").status_code == 302  # disabled: signed out at once


def test_an_admin_sets_a_new_password(app, admin_client):
    agent_id = _user(app, "agent")
    response = admin_client.post(f"/admin/users/{agent_id}", data={
        "display_name": "Demo support agent", "roles": ["agent"], "password": "a brand new password"})
    assert response.status_code == 303
    old = app.test_client().post("/login", data={"username": "agent", "password": "help-desk-sandbox"})
    assert old.status_code == 401
    sign_in(app.test_client(), "agent", "a brand new password")


def test_admins_cannot_lock_themselves_out(app, admin_client):
    admin_id = _user(app, "admin")
    demote = admin_client.post(f"/admin/users/{admin_id}", data={"roles": ["agent"], "display_name": ""})
    assert demote.status_code == 422
    assert "cannot remove your own administrator role" in _text(demote)
    disable = admin_client.post(f"/admin/users/{admin_id}", data={"roles": ["admin"], "disabled": "y"})
    assert disable.status_code == 422 and "cannot disable your own account" in _text(disable)
    with app.app_context():
        assert db.session.get(accounts.User, admin_id).roles == ("admin",)


def test_the_last_admin_stays(app, admin_client):
    with app.app_context():
        accounts.create_user("second", ["admin"], PASSWORD, actor=None, actor_name="test")
        db.session.commit()
    second = app.test_client()
    sign_in(second, "second", PASSWORD)
    admin_id = _user(app, "admin")
    assert second.post(f"/admin/users/{admin_id}", data={"roles": ["admin"], "disabled": "y"}).status_code == 303
    # "second" is now the only active administrator: that cannot be taken away, by anyone.
    with app.app_context(), pytest.raises(accounts.PeopleError, match="last active administrator"):
        accounts.update_user(accounts.find_user("second"), roles=["agent"], stores=[], display_name="", disabled=False,
                            actor=None)


def test_unknown_user_pages_are_404(admin_client):
    assert admin_client.get("/admin/users/99999").status_code == 404


def test_settings_are_shown_with_every_secret_masked(tmp_path):
    secrets = {
        "CAP_UI_AUTH_TOKEN": "ui-token-XyZ-111", "CAP_CHECKER_UI_AUTH_TOKEN": "checker-token-XyZ-222",
        "CAP_INTOUCH_PASSWORD": "till-pass-XyZ-333", "SECRET_KEY": "secret-key-XyZ-444" * 3,
        "CAP_GATEWAY_PASSWORD": "gw-pass-XyZ-555", "CAP_OAUTH_SECRET": "oauth-XyZ-666",
    }
    app = make_app(tmp_path, {**secrets, "REDIS_URL": "redis://:redis-pass-XyZ-777@127.0.0.1:6379/3"})
    page = signed_in_client(app, "admin").get("/admin/settings")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for value in [*secrets.values(), "redis-pass-XyZ-777", app.config["CAP_TOKEN_KEY"]]:
        assert value not in html
    text = _text(page)
    assert "CAP_UI_AUTH_TOKEN set (hidden)" in text
    assert "CAP_INTOUCH_AUTHORIZATION not set" in text
    assert "CAP_ORG_ID 100" in text  # ordinary settings are shown
    assert "redis://:***@127.0.0.1:6379/3" in text


def test_names_are_escaped_wherever_they_are_shown(app, admin_client):
    """ASVS 5.3.3: Jinja autoescaping, no |safe on people's input."""
    response = admin_client.post("/admin/users/new", data={
        "username": "xss", "display_name": '<script>alert("x")</script>', "roles": ["agent"], "password": PASSWORD})
    assert response.status_code == 303
    listing = admin_client.get("/admin/users").get_data(as_text=True)
    assert '<script>alert("x")</script>' not in listing
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in listing
    client = app.test_client()
    sign_in(client, "xss", PASSWORD)
    assert "<script>alert" not in client.get("/profile").get_data(as_text=True)
