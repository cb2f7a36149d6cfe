"""``flask requests …``: keep tracked requests in step with Capillary from cron or a shell."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from services.lifecycle.sync import sync_requests

group = AppGroup("requests", help="Follow status-change requests in Capillary.")


@group.command("sync")
@click.option("--page-size", type=click.IntRange(1, 1000), default=None,
              help="Requests per list page (default CAP_SYNC_PAGE_SIZE).")
@click.option("--lookback-days", type=click.IntRange(0, 366), default=None,
              help="Also list decided requests this many days back (default CAP_SYNC_LOOKBACK_DAYS).")
def sync_command(page_size: int | None, lookback_days: int | None) -> None:
    """Refresh every open request from Capillary's list, reconcile lost submissions, import new ones.

    Prints one summary line. Exits 1 only when nothing could be done (every gateway call
    failed); partial failures are reported in the line and exit 0.
    """
    from jobs import runs
    from jobs.tasks import sync_failure

    summary = runs.run_recorded(runs.SYNC, lambda: sync_requests(page_size=page_size, lookback_days=lookback_days),
                                sync_failure)
    click.echo(summary.line())
    if summary.did_nothing:
        raise SystemExit(1)


def init_app(app: Flask) -> None:
    """Register ``flask requests`` on ``app``."""
    app.cli.add_command(group)
