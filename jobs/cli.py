"""``flask worker``: run a background worker (RQ on ``REDIS_URL``)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then exit (no periodic tasks).")
@click.option("--name", default=None, help="The worker's name in Redis (default: host and process id).")
@with_appcontext
def worker_command(burst: bool, name: str | None) -> None:
    """Run a worker for bulk submissions, the periodic sync and resuming interrupted batches."""
    import schema

    app = current_app._get_current_object()  # type: ignore[attr-defined]  # typed as Flask, is a proxy
    if not app.config["REDIS_URL"]:
        raise click.ClickException(
            "REDIS_URL is not set. Without Redis, jobs run on worker threads inside the app process "
            "itself; set REDIS_URL (e.g. redis://127.0.0.1:6379/0) to run separate workers."
        )
    if not schema.schema_ready(app):
        raise click.ClickException(app.extensions["schema"]["problem"])
    backend = app.extensions["jobs"]
    try:
        backend.redis.ping()
        backend.work(burst=burst, name=name)
    except RedisError as exc:
        # Plain words for the operator (and systemd's journal), not a traceback; the password in
        # REDIS_URL, if any, stays out of it. Restart=always retries once Redis is back.
        where = make_url(app.config["REDIS_URL"]).render_as_string(hide_password=True)
        raise click.ClickException(
            f"Redis at {where} is not answering ({type(exc).__name__}: {exc}). Start Redis or correct REDIS_URL; "
            "queued work is kept in Redis and in the database, nothing is lost."
        ) from None


def init_app(app: Flask) -> None:
    """Register ``flask worker``."""
    app.cli.add_command(worker_command)
