"""Migrations: they build exactly the models' schema on SQLite and PostgreSQL, and the app
refuses to serve a database that is behind (naming the command), except in the sandbox."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

import schema
from extensions import db
from tests.databases import postgres_schema_url
from tests.helpers import make_app


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path) -> str:
    """The URL of an empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    return postgres_schema_url()


def upgrade(app) -> None:
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output


# SQLite cannot reflect expression indexes; the trigram index is PostgreSQL's only (ddl_if).
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index "
                            "'ix_tracked_requests_identifier_trgm'")
def test_flask_db_upgrade_builds_exactly_the_models_schema(tmp_path, empty_database):
    app = make_app(tmp_path, {"DATABASE_URL": empty_database}, SCHEMA_SETUP="check")
    upgrade(app)
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []  # no pending autogenerate diff
        assert set(context.get_current_heads()) == set(schema.head_revisions())


def test_the_resent_index_covers_only_resent_requests(tmp_path, empty_database):
    app = make_app(tmp_path, {"DATABASE_URL": empty_database}, SCHEMA_SETUP="check")
    upgrade(app)
    with app.app_context(), db.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            definition = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_tracked_requests_resent_from'").scalar_one()
        else:
            definition = connection.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_tracked_requests_resent_from' "
                "AND schemaname = current_schema()").scalar_one()
        assert "resent_from_id IS NOT NULL" in definition


def test_the_migrations_go_down_to_nothing_and_back_up(tmp_path, empty_database):
    app = make_app(tmp_path, {"DATABASE_URL": empty_database}, SCHEMA_SETUP="check")
    upgrade(app)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
    with app.app_context():
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade(app)
    with app.app_context():
        assert schema.status().up_to_date


def test_an_unmigrated_database_gets_a_503_naming_the_command_until_upgraded(tmp_path):
    app = make_app(tmp_path, SCHEMA_SETUP="check")
    client = app.test_client()
    page = client.get("/login")
    assert page.status_code == 503
    text = page.get_data(as_text=True)
    assert "The app&#39;s database needs an upgrade" in text and "flask --app app db upgrade" in text
    assert client.get("/healthz").status_code == 200
    upgrade(app)
    assert client.get("/login").status_code == 200  # checked again on the next request


def test_the_sandbox_on_sqlite_upgrades_itself(tmp_path):
    url = f"sqlite:///{tmp_path / 'sandbox.sqlite3'}"
    app = make_app(tmp_path, {"DATABASE_URL": url}, SCHEMA_SETUP=None)
    with app.app_context():
        assert schema.status().up_to_date
    assert app.test_client().get("/login").status_code == 200


def test_real_mode_never_upgrades_by_itself(tmp_path):
    from tests.test_config import REAL

    url = f"sqlite:///{tmp_path / 'real.sqlite3'}"
    app = make_app(tmp_path, {**REAL, "DATABASE_URL": url}, SCHEMA_SETUP=None)
    with app.app_context():
        assert not schema.status().up_to_date
    assert app.test_client().get("/healthz").status_code == 200


def test_a_sandbox_database_from_before_migrations_says_to_delete_it(tmp_path):
    path = tmp_path / "old.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    db.metadata.create_all(engine)  # what db.create_all() used to leave behind
    engine.dispose()
    app = make_app(tmp_path, {"DATABASE_URL": f"sqlite:///{path}"}, SCHEMA_SETUP=None)
    page = app.test_client().get("/login")
    assert page.status_code == 503
    assert f"delete {path}" in page.get_data(as_text=True)
