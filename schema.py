"""The database schema against the migrations: check it, upgrade it, or say what to run.

(Also SQLite's connection settings, so a file database copes with several writers.)

``flask db upgrade`` is how a deployment creates and updates its schema. The app factory
cannot block on it (``flask db upgrade`` itself calls ``create_app``), so instead it checks
once at start-up and, while the database is behind, every page answers 503 with the command
to run (see :func:`init_app`). In sandbox mode with SQLite the factory upgrades by itself,
so ``flask --app app run`` works on a fresh clone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app, render_template, request
from flask_babel import gettext as _
from sqlalchemy import event, inspect
from sqlalchemy.exc import SQLAlchemyError

from extensions import db, migrate

log = logging.getLogger(__name__)

UPGRADE_COMMAND = "flask --app app db upgrade"
# Endpoints that must answer even when the schema is behind (probes, the stylesheet).
OPEN_ENDPOINTS = {"static", "health.healthz", "health.readyz", "health.readyz_jobs", "metrics.metrics"}


@dataclass(frozen=True)
class SchemaStatus:
    """Where the database stands: its revision(s), the code's head(s), and what to do."""

    current: tuple[str, ...]
    heads: tuple[str, ...]
    error: str = ""  # set when the database could not be read at all
    # Revisions of the database this code's migrations do not know: newer code migrated it.
    newer: tuple[str, ...] = ()

    @property
    def up_to_date(self) -> bool:
        """True when the database is at the migrations' head, or ahead of it.

        Ahead is fine because migrations only ever add (expand, then contract a release
        later): this code still runs on the newer schema, which is what lets a deploy roll the
        code back, and keeps old processes serving while `flask db upgrade` runs.
        """
        return not self.error and (set(self.current) == set(self.heads) or bool(self.newer))

    def problem(self) -> str:
        """A one-line explanation for operators (empty when up to date)."""
        if self.error:
            return f"The database could not be checked: {self.error}"
        if self.up_to_date:
            return ""
        if not self.current:
            return f"The database has no schema yet: run `{UPGRADE_COMMAND}`."
        return (f"The database schema is at {', '.join(self.current)} but this code needs "
                f"{', '.join(self.heads)}: run `{UPGRADE_COMMAND}`.")


def _alembic_config():
    return current_app.extensions["migrate"].migrate.get_config()


def head_revisions() -> tuple[str, ...]:
    """Return the head revision(s) of the migrations folder (call inside an app context)."""
    return tuple(ScriptDirectory.from_config(_alembic_config()).get_heads())


def status() -> SchemaStatus:
    """Compare the database's alembic revision with the migrations' head."""
    if not Path(migrate.directory, "env.py").is_file():
        return SchemaStatus((), (), error=f"the migrations folder {migrate.directory} is missing")
    heads = head_revisions()
    try:
        with db.engine.connect() as connection:
            current = tuple(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        return SchemaStatus((), heads, error=type(exc).__name__)
    known = {script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}
    return SchemaStatus(current, heads, newer=tuple(rev for rev in current if rev not in known))


def upgrade() -> None:
    """Bring the database to the head revision (what ``flask db upgrade`` does).

    :raises alembic.util.CommandError: e.g. the database is at a revision the folder lacks.
    """
    config = _alembic_config()
    config.attributes["configure_logging"] = False  # keep the app's logging (migrations/env.py)
    command.upgrade(config, "head")


def unversioned_tables() -> bool:
    """True when the database has the app's tables but no migration record (a pre-migration file)."""
    names = set(inspect(db.engine).get_table_names())
    return "tracked_requests" in names and "alembic_version" not in names


def _sqlite_pragmas(connection, _record) -> None:
    # WAL lets readers work while one writer commits, and synchronous=NORMAL makes a commit
    # cost no fsync (still durable against a crash of the app; an OS crash may lose the last
    # commits). Without them, page views and a bulk job's threads queue behind every commit.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # (How long a writer waits for the lock stays the driver's: 5 s, or ?timeout= in DATABASE_URL.)
    cursor.close()


def init_app(app: Flask) -> None:
    """Set up the schema as ``SCHEMA_SETUP`` says and guard every page while it is behind.

    ``SCHEMA_SETUP`` is ``"create_all"`` (tests: tables straight from the models),
    ``"upgrade"`` (run the migrations now: the default in sandbox mode with SQLite) or
    ``"check"`` (the default otherwise: only check, and tell the operator).
    """
    mode = app.config.get("SCHEMA_SETUP") or _default_mode(app)
    # "hint" explains a failed automatic upgrade better than the revision numbers can.
    state = app.extensions["schema"] = {"ok": False, "problem": "", "hint": ""}
    with app.app_context():
        if db.engine.dialect.name == "sqlite" and db.engine.url.database not in (None, "", ":memory:"):
            event.listen(db.engine, "connect", _sqlite_pragmas)
        if mode == "create_all":
            db.create_all()
            state["ok"] = True
            return
        if mode == "upgrade":
            _upgrade_at_start(state)
        if not schema_ready(app) and _serving():
            log.warning("Not serving pages until the database is up to date. %s", state["problem"])
    app.before_request(_require_schema)


def _serving() -> bool:
    """True when this process is about to serve pages (gunicorn, `flask run`), not a CLI command.

    `flask db upgrade` builds the app too, while the schema is (by definition) behind: telling
    the operator that pages are not served would be noise at best, alarming at worst.
    """
    import click

    context = click.get_current_context(silent=True)
    return context is None or context.info_name == "run"


def _default_mode(app: Flask) -> str:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    return "upgrade" if app.config["SANDBOX_MODE"] and uri.startswith("sqlite") else "check"


def _upgrade_at_start(state: dict) -> None:
    if not Path(migrate.directory, "env.py").is_file():
        return  # `flask db init` is creating it; status() reports the missing folder meanwhile
    try:
        if unversioned_tables():
            state["hint"] = (
                "The sandbox database was made before migrations existed and holds only sandbox "
                f"data: delete {db.engine.url.database} and start the app again."
            )
            return
        upgrade()
    except Exception as exc:  # noqa: BLE001 - any failure is reported the same way, never a crash
        state["hint"] = f"Upgrading the database failed ({exc}); run `{UPGRADE_COMMAND}` to see why."


def schema_ready(app: Flask | None = None) -> bool:
    """True once the database has been seen at the head revision (checked again until then)."""
    state = (app or current_app).extensions["schema"]
    if not state["ok"]:
        found = status()
        state["ok"] = found.up_to_date
        if found.newer:
            log.warning("The database is at revision %s, which this code does not know: newer code migrated it. "
                        "Serving, since migrations only add to the schema.", ", ".join(found.newer))
        state["problem"] = "" if found.up_to_date else (state["hint"] or found.problem())
    return state["ok"]


def _require_schema():
    """Answer 503 with the command to run while the database is behind the code."""
    if request.endpoint in OPEN_ENDPOINTS or schema_ready():
        return None
    problem = current_app.extensions["schema"]["problem"]
    return render_template(
        "errors/error.html", status=503, title=_("The app's database needs an upgrade"),
        # The problem itself is the operator's one-line explanation (also logged): English.
        message=_("%(problem)s Nothing can be sent to Capillary until then.", problem=problem),
    ), 503
