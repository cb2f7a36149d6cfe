"""/healthz and /readyz: open without sign-in, honest about the database, settings and Redis."""

from __future__ import annotations

from tests.helpers import make_app


def test_healthz_answers_without_sign_in(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_is_ready_with_a_migrated_database_and_complete_settings(app):
    response = app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": "ok", "gateway_settings": "ok"}}


def test_readyz_says_when_the_database_is_unreachable(tmp_path):
    app = make_app(tmp_path, {"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"},
                   SCHEMA_SETUP="check")
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unreachable (OperationalError)"
    assert client.get("/healthz").status_code == 200  # the process itself is fine


def test_readyz_and_pages_say_which_command_an_unmigrated_database_needs(tmp_path):
    app = make_app(tmp_path, SCHEMA_SETUP="check")
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "run `flask --app app db upgrade`" in ready.get_json()["checks"]["database"]
    page = client.get("/login")
    assert page.status_code == 503
    assert "flask --app app db upgrade" in page.get_data(as_text=True)


def test_readyz_checks_redis_when_jobs_use_it(tmp_path, redis_settings):
    assert make_app(tmp_path, redis_settings).test_client().get("/readyz").get_json()["checks"]["redis"] == "ok"
    down = make_app(tmp_path, {"REDIS_URL": "redis://127.0.0.1:1/0"}).test_client().get("/readyz")
    assert down.status_code == 503
    assert down.get_json()["checks"]["redis"].startswith("unreachable")


def test_readyz_names_missing_gateway_settings_but_never_a_value(app):
    secret = app.config["CAP_UI_AUTH_TOKEN"]
    app.config["CAP_UI_AUTH_TOKEN"] = ""
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["gateway_settings"] == "missing CAP_UI_AUTH_TOKEN"
    assert secret not in response.get_data(as_text=True)
    assert app.config["SECRET_KEY"] not in response.get_data(as_text=True)
