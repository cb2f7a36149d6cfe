"""Probes for load balancers and orchestrators; open without sign-in, never showing a secret.

- ``/healthz``: the process is up and answering (no database or network call).
- ``/readyz``: this instance can do its work: the database answers and is at the
  migrations' head, the gateway settings are complete, and Redis answers when jobs use it.
- ``/readyz/jobs``: the background work is being done (jobs/status.py): live RQ workers and
  the oldest queued job's age with Redis, this process's job threads without, and a recent
  successful status sync. Kept apart from ``/readyz`` on purpose: a stopped worker is a
  problem of the deployment, and must not take every web instance out of the load balancer.
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
    return jsonify({"status": "ready" if ready else "not ready", "checks": checks}), 200 if ready else 503


@bp.get("/readyz/jobs")
def readyz_jobs():
    """Answer 200 when the job system works, else 503 with what is wrong (no secrets)."""
    from jobs.status import job_system

    found = job_system(current_app._get_current_object())  # type: ignore[attr-defined]  # a proxy
    body = {
        "status": "ok" if not found.problems else "failing",
        "backend": found.backend,
        "workers": found.workers,
        "queued": found.queued,
        "oldest_queued_seconds": None if found.oldest_queued_seconds is None else round(found.oldest_queued_seconds),
        "last_successful_sync": found.last_sync.isoformat(timespec="seconds") + "Z" if found.last_sync else None,
        "problems": found.problems,
    }
    return jsonify(body), 200 if not found.problems else 503


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
