"""Application factory: ``flask --app app run`` and ``gunicorn "app:create_app()"`` both call it.

Nothing is built at import time.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the app.

    :param test_config: settings that override the environment (tests pass these; they may
        include ``ENVIRON``, a dict read instead of ``os.environ``/``.env``).
    """
    import gateway_setup
    from config import ConfigError, load_settings

    app = Flask(__name__, instance_relative_config=True)
    test_config = dict(test_config or {})
    environ = test_config.pop("ENVIRON", None)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    try:
        app.config.update(load_settings(ROOT, Path(app.instance_path), environ))
    except ConfigError as exc:
        # A clear one-line message, not a stack trace, for operators starting the app.
        raise SystemExit(f"Configuration error: {exc}") from None
    app.config.update(
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session; expiry is handled by the session itself
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=6 * 1024 * 1024,
    )
    app.config.update(test_config)
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not uri.startswith("sqlite") or (":memory:" not in uri and uri.rstrip("/") != "sqlite:"):
        # A bulk or multi-decision job's threads (twice the concurrency), its claimer and heartbeat
        # and the web threads each hold a connection: a pool this large keeps them open instead of
        # reconnecting for every row (SQLite files too: an in-memory database has a pool of its own).
        app.config["SQLALCHEMY_ENGINE_OPTIONS"].setdefault("pool_size", 2 * app.config["CAP_BULK_CONCURRENCY"] + 8)

    _register_extensions(app)
    _register_blueprints(app)
    _configure_logging(app)
    gateway_setup.log_start_up_warnings(app)
    return app


def _register_extensions(app: Flask) -> None:
    """Bind the unbound extensions and the gateway client to ``app``."""
    import error_reporting
    import gateway_setup
    import i18n
    import jobs
    import metrics
    import schema
    import security
    from extensions import csrf, db, migrate
    from services.people import accounts
    from views import access

    db.init_app(app)
    migrate.init_app(app, db)
    csrf.init_app(app)
    i18n.init_app(app)  # before any page renders: templates use _() and the time filters
    security.init_app(app)  # headers, cookie flags, ProxyFix, sign-in rate limit; no debug in real mode
    gateway_setup.init_app(app)
    with app.app_context():
        import models  # noqa: F401 - register the tables
    # `flask db upgrade` makes the schema; pages answer 503 naming it while the database is behind.
    schema.init_app(app)
    access.init_app(app)  # sign-in on every page, session limits, roles
    accounts.init_app(app)  # the training sandbox's demo users
    jobs.init_app(app)
    metrics.init_app(app)  # Prometheus counts of requests and gateway calls (/metrics)
    error_reporting.init_app(app)  # Sentry, only when SENTRY_DSN is set


def _register_blueprints(app: Flask) -> None:
    """Attach the views (in the order their routes should win), error pages, template helpers, CLI."""
    import jobs.cli
    from commands import requests_cli, users_cli
    from views import (
        admin,
        approvals,
        auth,
        bulk,
        converters,
        errors,
        health,
        language,
        metrics,
        profile,
        template_helpers,
        trainer,
    )
    from views import requests as requests_area

    converters.init_app(app)  # before any route: bounds every <int:...> record ID
    for blueprint in (requests_area.bp, auth.bp, profile.bp, admin.bp, approvals.bp, trainer.bp, bulk.bp,
                      health.bp, metrics.bp, language.bp):
        app.register_blueprint(blueprint)
    for command_group in (requests_cli, jobs.cli, users_cli):
        command_group.init_app(app)
    errors.init_app(app)
    template_helpers.init_app(app)


def _configure_logging(app: Flask) -> None:
    """Structured logs with a request id, one line per request (app_logging.py)."""
    import app_logging

    app_logging.init_app(app)
