"""Bring every open record up to date from Capillary's request list, in a few calls.

One run (``flask requests sync``, or a background job calling :func:`sync_requests`):

1. reconciles lost submissions (``unknown``, or ``sending`` for too long; see
   :mod:`services.lifecycle.reconcile`);
2. lists every request still waiting in ``AdminTask`` (§4.1, paged);
3. lists decided requests (``approved,rejected,failed``) since the oldest open record that
   is no longer waiting, or ``CAP_SYNC_LOOKBACK_DAYS`` back, whichever is earlier;
4. applies each listed request to its record, and imports the ones the app has never seen
   (made in Capillary's UI) as read-only records, except any that may be one of this app's own
   submissions still waiting for its answer (:func:`services.lifecycle.adoption.import_unseen`);
5. fetches one by one only the few open records neither list returned.

Safe to run from cron and next to the web app: every write is forward-only and guarded by
unique requestIds, so overlapping runs agree; a copy merged into its submission meanwhile is
skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

import gateway_setup
from extensions import db
from gateway.errors import GatewayError, RateLimited
from gateway.payload import REQUEST_TYPE
from gateway.types import TERMINAL_STATES, RequestInfo
from models import SENDING, UNKNOWN, TrackedRequest, utcnow
from services.lifecycle import reconcile, verification
from services.lifecycle.adoption import import_unseen, tracked_by_request_id
from services.lifecycle.refresh import FINAL_STATES, forgotten_by_sandbox
from services.lifecycle.updates import RecordGone, apply_update
from services.lifecycle.wording import english_what
from services.people import identity

log = logging.getLogger(__name__)

MAX_PAGES = 500  # 50,000 requests at 100 a page: a bound, not an expectation
MAX_SINGLE_GETS = 50


@dataclass
class SyncSummary:
    """What a sync run did, for the command's one-line report and for jobs."""

    pages: int = 0
    listed: int = 0
    updated: int = 0
    imported: int = 0
    fetched_one_by_one: int = 0
    adopted: int = 0
    not_created: int = 0
    ambiguous: int = 0
    verified: int = 0  # approved requests whose customer status log now shows the change (§10)
    steps_ok: int = 0
    failures: list[str] = field(default_factory=list)
    # Set by a 429: the rest of the run makes no more calls (the next run comes after the wait).
    rate_limited: RateLimited | None = None

    def note_failure(self, text: str, exc: GatewayError) -> None:
        """Record a failed call; a 429 also stops the calls still to come in this run."""
        self.failures.append(text)
        if isinstance(exc, RateLimited) and self.rate_limited is None:
            self.rate_limited = exc

    def holding_back(self, what: str) -> bool:
        """True (and noted once per step) when Capillary asked to wait: skip ``what``."""
        if self.rate_limited is None:
            return False
        wait = f" for {self.rate_limited.retry_after:g} s" if self.rate_limited.retry_after else ""
        self.failures.append(f"{what}: skipped, Capillary asked to wait{wait} (429)")
        return True

    @property
    def did_nothing(self) -> bool:
        """True when every gateway call the run needed failed: nothing was learned."""
        return self.steps_ok == 0 and bool(self.failures)

    def line(self) -> str:
        """The run in one line, e.g. for cron mail."""
        text = (
            f"sync: {self.pages} page(s), {self.listed} request(s) listed; {self.updated} updated, "
            f"{self.imported} imported, {self.fetched_one_by_one} fetched one by one; reconciled: "
            f"{self.adopted} found, {self.not_created} not created, {self.ambiguous} with several matches; "
            f"{self.verified} verified in Capillary; {len(self.failures)} failure(s)"
        )
        if self.failures:
            text += " - " + " | ".join(self.failures[:3]) + (" | …" if len(self.failures) > 3 else "")
        return text


def _today_in_gateway_zone(now: datetime) -> datetime:
    zone = ZoneInfo(current_app.config.get("CAP_GATEWAY_TIMEZONE", "UTC"))
    return now.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)


def sync_requests(*, page_size: int | None = None, lookback_days: int | None = None,
                  now: datetime | None = None) -> SyncSummary:
    """Run one sync (see the module docstring); return its summary. Never raises a gateway error."""
    config = current_app.config
    now = now or utcnow()
    size = page_size or config["CAP_SYNC_PAGE_SIZE"]
    lookback = config["CAP_SYNC_LOOKBACK_DAYS"] if lookback_days is None else lookback_days
    summary = SyncSummary()

    _reconcile_lost(summary, now)

    listed: dict[str, RequestInfo] = {}
    _list_into(listed, summary, "waiting requests", size, states=["AdminTask"])
    open_records = list(db.session.scalars(
        select(TrackedRequest).where(TrackedRequest.request_id.is_not(None),
                                     TrackedRequest.state.not_in(FINAL_STATES))
    ))
    moved_on = [r for r in open_records if r.request_id not in listed]
    since = _since(moved_on, lookback, now)
    if since is not None:
        _list_into(listed, summary, "decided requests", size,
                   states=sorted(TERMINAL_STATES), start_date=since)
    summary.listed = len(listed)

    _apply_listed(listed, summary)
    _fetch_leftovers([r for r in moved_on if r.request_id not in listed], summary)
    summary.verified = verification.verify_pending()
    log.info(summary.line())
    return summary


def _reconcile_lost(summary: SyncSummary, now: datetime) -> None:
    lost = db.session.scalars(
        select(TrackedRequest).where(TrackedRequest.request_id.is_(None),
                                     TrackedRequest.state.in_((UNKNOWN, SENDING)))
        .order_by(TrackedRequest.id)
    ).all()
    searched: dict[tuple, list[RequestInfo] | GatewayError] = {}
    for record in lost:
        if not reconcile.is_due(record, now):
            continue
        key = reconcile.search_key(record)
        if key not in searched:  # one search per store, till and day, however many records
            if summary.holding_back("reconciling lost submissions"):
                return
            try:
                searched[key] = reconcile.search(key)
            except GatewayError as exc:
                searched[key] = exc
        found = searched[key]
        if isinstance(found, GatewayError):
            summary.note_failure(f"request {record.id}: Capillary's request list could not be searched: "
                                 f"{found.message}", found)
            continue
        result = reconcile.reconcile(record, now=now, listed=found)
        if result.outcome == reconcile.FAILED:
            summary.failures.append(f"request {record.id}: {result.message}")
            continue
        summary.steps_ok += 1
        summary.adopted += result.outcome == reconcile.ADOPTED
        summary.not_created += result.outcome == reconcile.MARKED_NOT_CREATED
        summary.ambiguous += result.outcome == reconcile.SEVERAL


def _since(moved_on: list[TrackedRequest], lookback: int, now: datetime) -> str | None:
    """The first day (gateway time) to list decided requests from, or None to skip that list."""
    days = []
    if lookback > 0:
        days.append(_today_in_gateway_zone(now) - timedelta(days=lookback - 1))
    days += [_today_in_gateway_zone(r.start_time or r.created_at) for r in moved_on]
    return min(days).strftime("%Y-%m-%d") if days else None


def _list_into(listed: dict, summary: SyncSummary, what: str, size: int, **query) -> None:
    if summary.holding_back(f"listing {what}"):
        return
    try:
        items, pages = reconcile.list_all(
            {"request_type": REQUEST_TYPE, "sort_order": "desc", **query},
            page_size=size, max_pages=MAX_PAGES, token=identity.maker_token(None),
        )
    except GatewayError as exc:
        summary.note_failure(f"listing {what}: {exc.message}", exc)
        return
    summary.steps_ok += 1
    summary.pages += pages
    for info in items:
        listed.setdefault(info.requestId, info)


def _apply_listed(listed: dict[str, RequestInfo], summary: SyncSummary) -> None:
    records = tracked_by_request_id(listed)
    unseen = [info for request_id, info in listed.items() if request_id not in records]
    summary.imported += import_unseen(unseen)[1]
    for request_id, record in records.items():
        summary.updated += _apply(record, listed[request_id])


def _apply(record: TrackedRequest, info: RequestInfo) -> bool:
    """Apply ``info`` to ``record`` and commit; False when the record was merged away meanwhile."""
    try:
        changed = apply_update(record, info)
    except RecordGone:
        changed = False
    db.session.commit()
    return changed


def _fetch_leftovers(leftovers: list[TrackedRequest], summary: SyncSummary) -> None:
    client = gateway_setup.gateway_client()
    for record in leftovers[:MAX_SINGLE_GETS]:
        if summary.holding_back("fetching open requests one by one"):
            return
        assert record.request_id is not None  # open records are selected with one
        try:
            info = client.get_request(record.request_id, identity.reading_token(record.submitter))
        except GatewayError as exc:
            if forgotten_by_sandbox(record, exc):  # settled: the training sandbox was reset
                db.session.commit()
                summary.updated += 1
                continue
            record.refresh_error, record.refresh_error_at = english_what(exc.kind, exc.code), utcnow()
            db.session.commit()
            summary.note_failure(f"request {record.id}: {exc.message}", exc)
            continue
        summary.steps_ok += 1
        summary.fetched_one_by_one += 1
        summary.updated += _apply(record, info)
    if len(leftovers) > MAX_SINGLE_GETS:
        summary.failures.append(f"{len(leftovers) - MAX_SINGLE_GETS} open request(s) left for the next run")
