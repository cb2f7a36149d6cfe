"""Application factory: ``flask --app app run`` and ``gunicorn "app:create_app()"`` both call it.

Nothing is built at import time.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the app.

    :param test_config: settings that override the environment (tests pass these; they may
        include ``ENVIRON``, a dict read instead of ``os.environ``/``.env``).
    """
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
        CAP_GATEWAY_TIMEZONE="UTC",
    )
    app.config.update(test_config)

    _register_extensions(app)
    _register_blueprints(app)
    _configure_logging(app)
    return app


def _register_extensions(app: Flask) -> None:
    """Bind the unbound extensions and the gateway client to ``app``."""
    from extensions import csrf, db
    from services import gateway_setup

    db.init_app(app)
    csrf.init_app(app)
    gateway_setup.init_app(app)
    with app.app_context():
        import models  # noqa: F401 - register the tables

        db.create_all()


# Each module exposes ``bp`` (a Blueprint); listed in the order their routes should win.
BLUEPRINT_MODULES = (
    "views.workflow",
)

# Each module exposes ``init_app(app)`` registering a ``flask <group>`` CLI group.
COMMAND_MODULES = ()


def _register_blueprints(app: Flask) -> None:
    """Attach the views, error pages, template helpers and CLI commands."""
    from importlib import import_module

    from views import errors, template_helpers

    for name in BLUEPRINT_MODULES:
        app.register_blueprint(import_module(name).bp)
    for name in COMMAND_MODULES:
        import_module(name).init_app(app)
    errors.init_app(app)
    template_helpers.init_app(app)


def _configure_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
