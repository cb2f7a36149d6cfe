"""Probes for load balancers and orchestrators; open without sign-in, never showing a secret.

- ``/healthz``: the process is up and answering (no database or network call).
- ``/readyz``: this instance can do its work: the database answers and is at the
  migrations' head, the gateway settings are complete, and Redis answers when jobs use it.
  Its ``warnings`` name what works but looks wrong (e.g. no gateway auth in real mode); a
  warning never makes the instance unready.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from extensions import db

bp = Blueprint("health", __name__)

# Settings the gateway cannot be called without (config.py stops real-mode start-up without
# them; checked again here so the probe says so plainly if a deployment ever runs without).
GATEWAY_SETTINGS = ("CAP_GATEWAY_URL", "CAP_ORG_ID", "CAP_UI_AUTH_TOKEN", "CAP_INTOUCH_HOST")


@bp.get("/healthz")
def healthz():
    """Answer 200 while the process serves requests."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Answer 200 when ready to serve, else 503 naming each failed check (no secrets)."""
    checks = {"database": _database(), "gateway_settings": _gateway_settings()}
    if current_app.config["REDIS_URL"]:
        checks["redis"] = _redis()
    ready = all(result == "ok" for result in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    warnings = _warnings()
    if warnings:
        body["warnings"] = warnings
    return jsonify(body), 200 if ready else 503


def _warnings() -> dict[str, str]:
    """Settings that work but look wrong, by name: the gateway without Basic or OAuth in real mode."""
    from gateway_setup import gateway_auth_warning

    warning = gateway_auth_warning(current_app.config)
    return {"gateway_auth": warning} if warning else {}


def _database() -> str:
    import schema

    try:
        db.session.execute(text("SELECT 1"))
        ready = schema.schema_ready()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the type is enough
        db.session.rollback()
        return f"unreachable ({type(exc).__name__})"
    return "ok" if ready else current_app.extensions["schema"]["problem"]


def _gateway_settings() -> str:
    config = current_app.config
    missing = [name for name in GATEWAY_SETTINGS if not config.get(name)]
    if not (config.get("CAP_INTOUCH_AUTHORIZATION")
            or (config.get("CAP_INTOUCH_USERNAME") and config.get("CAP_INTOUCH_PASSWORD"))):
        missing.append("CAP_INTOUCH_USERNAME/CAP_INTOUCH_PASSWORD or CAP_INTOUCH_AUTHORIZATION")
    return "ok" if not missing else "missing " + ", ".join(missing)


def _redis() -> str:
    try:
        current_app.extensions["jobs"].redis.ping()
    except Exception as exc:  # noqa: BLE001
        return f"unreachable ({type(exc).__name__})"
    return "ok"
