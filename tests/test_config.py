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
