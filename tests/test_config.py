"""Settings: sandbox defaults, real-mode requirements named in the error, labels list."""

import pytest

from tests.helpers import make_app

REAL = {
    "CAP_GATEWAY_URL": "https://eucrm.cc.capillarytech.com",
    "CAP_ORG_ID": "50672",
    "CAP_UI_AUTH_TOKEN": "jwt-for-tests",
    "CAP_INTOUCH_HOST": "https://eu.api.capillarytech.com",
    "CAP_INTOUCH_USERNAME": "store.till",
    "CAP_INTOUCH_PASSWORD": "till-password",
    "SECRET_KEY": "k" * 32,
    "CAP_TOKEN_KEY": "ZmRmX2tleV9mb3JfdGVzdHNfb25seV8zMmJ5dGVzISE=",
}


def test_sandbox_is_the_default(tmp_path):
    app = make_app(tmp_path)
    assert app.config["SANDBOX_MODE"] is True
    assert app.config["CAP_GATEWAY_URL"] == "sandbox"
    assert app.config["CAP_STATUS_LABELS"] == (
        "Active", "Suspended", "Fraud suspected", "Fraud confirmed", "Internal"
    )


@pytest.mark.parametrize("missing", ["CAP_ORG_ID", "CAP_UI_AUTH_TOKEN", "CAP_INTOUCH_HOST", "SECRET_KEY"])
def test_real_mode_names_each_missing_setting(tmp_path, missing):
    environ = {k: v for k, v in REAL.items() if k != missing}
    with pytest.raises(SystemExit, match=missing):
        make_app(tmp_path, environ)


def test_real_mode_needs_intouch_credentials(tmp_path):
    environ = {k: v for k, v in REAL.items() if not k.startswith("CAP_INTOUCH_USER") and k != "CAP_INTOUCH_PASSWORD"}
    with pytest.raises(SystemExit, match="CAP_INTOUCH_AUTHORIZATION"):
        make_app(tmp_path, environ)
    app = make_app(tmp_path, {**environ, "CAP_INTOUCH_AUTHORIZATION": "Basic abc"})
    assert app.config["SANDBOX_MODE"] is False


def test_real_mode_starts_with_complete_settings(tmp_path):
    app = make_app(tmp_path, {**REAL, "CAP_STATUS_LABELS": "Active, Blocked ,Active"})
    assert app.config["CAP_STATUS_LABELS"] == ("Active", "Blocked")
    assert "sandbox_app" not in app.extensions


def test_bad_numbers_are_reported(tmp_path):
    with pytest.raises(SystemExit, match="CAP_READ_TIMEOUT"):
        make_app(tmp_path, {"CAP_READ_TIMEOUT": "soon"})


def test_customer_settings_have_safe_defaults_and_are_checked(tmp_path):
    from gateway_setup import _customer_client  # noqa: F401 - the client is built from these

    app = make_app(tmp_path)
    assert app.config["CAP_CUSTOMER_LOOKUP"] is True
    assert app.config["CAP_ALLOW_UNKNOWN_CUSTOMER"] is False
    assert 0 < app.config["CAP_CUSTOMER_CACHE_SECONDS"] <= 60
    with pytest.raises(SystemExit, match="CAP_CUSTOMER_CACHE_SECONDS"):
        make_app(tmp_path, {"CAP_CUSTOMER_CACHE_SECONDS": "120"})
    with pytest.raises(SystemExit, match="CAP_CUSTOMER_LOOKUP"):
        make_app(tmp_path, {"CAP_CUSTOMER_LOOKUP": "maybe"})
    with pytest.raises(SystemExit, match="CAP_CUSTOMER_API_URL"):
        make_app(tmp_path, {"CAP_CUSTOMER_API_URL": "eu.api.capillarytech.com"})


def test_the_customer_api_defaults_to_the_intouch_host(tmp_path):
    app = make_app(tmp_path, REAL)
    assert app.extensions["customer_client"].transport.base_url == REAL["CAP_INTOUCH_HOST"]
    app = make_app(tmp_path, {**REAL, "CAP_CUSTOMER_API_URL": "https://customers.example.com/",
                              "CAP_CUSTOMER_LOOKUP": "off"})
    assert app.extensions["customer_client"].transport.base_url == "https://customers.example.com"
    assert app.config["CAP_CUSTOMER_LOOKUP"] is False


# -- the sandbox's session key (security finding 13 of issue 11) --------------------------------------

OLD_PUBLIC_KEY = "sandbox-only-secret-key-not-for-real-use"  # what every sandbox used before


def test_the_sandbox_session_key_is_random_per_instance_folder_and_kept(tmp_path):
    import stat
    from pathlib import Path

    from config import SANDBOX_KEY_FILE, load_settings

    root = Path(__file__).resolve().parent.parent
    first = load_settings(root, tmp_path / "one", {})["SECRET_KEY"]
    assert len(first) >= 32 and first != OLD_PUBLIC_KEY
    assert load_settings(root, tmp_path / "one", {})["SECRET_KEY"] == first  # kept across restarts
    assert load_settings(root, tmp_path / "two", {})["SECRET_KEY"] != first  # another sandbox, another key
    key_file = tmp_path / "one" / SANDBOX_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in (tmp_path / "one").iterdir()] == [SANDBOX_KEY_FILE]  # no draft left behind
    assert load_settings(root, tmp_path / "one", {"SECRET_KEY": "x" * 40})["SECRET_KEY"] == "x" * 40


def test_a_session_cookie_signed_with_the_old_public_key_signs_nobody_in(tmp_path):
    import time

    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface
    from flask_login.utils import _create_identifier
    from sqlalchemy import select

    from extensions import db
    from models.users import User
    from tests.helpers import signed_in_client

    app = make_app(tmp_path)
    signed_in_client(app, "admin")  # the demo administrator exists
    with app.app_context():
        admin = db.session.scalars(select(User).where(User.username == "admin")).one()
        identity = admin.get_id()
    headers = {"User-Agent": "forger"}
    with app.test_request_context("/", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        browser = _create_identifier()  # Flask-Login's "strong" protection checks it
    forger = Flask("forger")
    forger.secret_key = OLD_PUBLIC_KEY
    now = int(time.time())
    cookie = SecureCookieSessionInterface().get_signing_serializer(forger).dumps(
        {"_user_id": identity, "_fresh": True, "_id": browser, "signed_in_at": now, "seen_at": now})
    client = app.test_client()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    response = client.get("/admin/users", headers=headers)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
