"""The bulk job: send a confirmed batch's valid rows, a few at a time, under the rate limit.

Safety comes from the database, so any number of app processes and workers may run jobs:

- **One runner per batch.** A runner first takes the batch's *lease* with an atomic UPDATE and
  renews it from a heartbeat thread; a lease that ran out belongs to a dead worker, and the
  next runner takes over.
- **Rows are marked before sending.** Claiming a row is one transaction: the row goes from
  ``pending`` to ``sending`` (an UPDATE that only one claimer can win; ``SKIP LOCKED`` on
  PostgreSQL) and its TrackedRequest is inserted, with a submission key made of the batch and
  line (unique, as is ``(batch_id, batch_line)``). Only then is the gateway called.
- **An interrupted row is never re-sent.** A row left in ``sending`` by a dead worker may or
  may not exist in Capillary; the next runner marks it ``interrupted`` and its request
  ``unknown``, for reconciliation against Capillary's request list (services/lifecycle/reconcile.py).

Concurrency is bounded by ``CAP_BULK_CONCURRENCY``; every call waits for a permit from the
shared :mod:`services.bulk.throttle` (``CAP_BULK_RATE_PER_MINUTE``), and a 429 pauses everyone.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

import gateway_setup
import metrics
from extensions import db
from gateway.errors import GatewayError, RateLimited
from gateway.payload import StatusChange
from gateway.types import RequestInfo
from models import SENDING, UNKNOWN, StatusEvent, TrackedRequest, utcnow
from models.batches import DONE, INTERRUPTED, PENDING, QUEUED, ROW_DONE, ROW_SENDING, RUNNING, Batch, BatchRow
from services.bulk.throttle import app_throttle
from services.lifecycle.submission import build_for_sending, new_record, store_outcome

log = logging.getLogger(__name__)

# A job sends for at most this long, then hands the batch back to the queue, so one big file
# never holds a worker (or the periodic sync behind it) for an hour.
SLICE_SECONDS = 300
# Tries per row when Capillary answers 429 (it surely did not create the request then).
RATE_LIMITED_TRIES = 3
DEFAULT_RETRY_AFTER = 60.0

# How a run ended.
FINISHED, BUSY, STOPPED, SLICED, LOST = "finished", "busy", "stopped", "sliced", "lost"


@dataclass(frozen=True)
class Claimed:
    """A row taken by this runner: its request is stored in state ``sending``, not yet sent."""

    row_id: int
    line: int
    record_pk: int
    payload: dict  # the exact body, with the inner Authorization: kept in memory only


def submission_key(batch_id: int, line: int) -> str:
    """The submission key of a batch row: the same row can never make two requests."""
    return f"bulk-{batch_id}-{line}"


def run_batch(batch_id: int, *, should_stop: Callable[[], bool] = lambda: False,
              slice_seconds: float = SLICE_SECONDS) -> str:
    """Send the batch's pending rows until none is left; return how the run ended.

    :returns: ``finished`` (every row sent), ``busy`` (another worker holds the batch),
        ``stopped`` (``should_stop()`` turned true), ``sliced`` (time slice used up) or
        ``lost`` (the lease was lost). After ``stopped`` or ``sliced`` the batch is free
        again and should be queued again.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # typed as Flask, is a proxy
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not take_lease(batch_id, owner):
        return BUSY
    mark_interrupted(batch_id)
    lost = threading.Event()
    heartbeat = threading.Thread(target=_heartbeat, args=(app, batch_id, owner, lost), daemon=True,
                                 name=f"bulk-{batch_id}-lease")
    heartbeat.start()
    deadline = time.monotonic() + slice_seconds

    def halted() -> bool:
        return should_stop() or lost.is_set()

    outcome = _send_rows(app, batch_id, halted, deadline)
    if lost.is_set():
        outcome = LOST
    lost.set()  # also stops the heartbeat
    heartbeat.join(timeout=5)
    if outcome == LOST:
        log.warning("bulk batch %s: lease lost; another worker continues it", batch_id)
        return LOST
    mark_interrupted(batch_id)  # a row whose outcome could not be recorded (e.g. a database error)
    if outcome == FINISHED and not _pending_rows(batch_id):
        release_lease(batch_id, owner, DONE)
        log.info("bulk batch %s finished", batch_id)
        return FINISHED
    release_lease(batch_id, owner, QUEUED)
    return STOPPED if outcome == FINISHED else outcome


def _send_rows(app: Flask, batch_id: int, halted: Callable[[], bool], deadline: float) -> str:
    """Claim and send rows with bounded concurrency; return why it stopped claiming.

    While calls are in flight the next rows are already claimed (stored, in ``sending``), so a
    slot that frees starts its next call at once. Each call takes its rate-limit permit as it
    starts; when the limit binds, the permit comes first and one row is claimed after it, so a
    claimed row never waits long. Rows claimed but not sent when the run ends are put back.
    """
    concurrency = app.config["CAP_BULK_CONCURRENCY"]
    throttle = app_throttle(app)
    slots = threading.Semaphore(concurrency)
    uploader = db.session.execute(
        select(Batch.created_by_id, Batch.created_by_name).where(Batch.id == batch_id)).one()
    ready: deque[tuple[Claimed, bool]] = deque()  # (row, whether its permit is already taken)
    try:
        # Twice the calls in flight: a thread still writing one row's outcome never delays the next call.
        with ThreadPoolExecutor(max_workers=2 * concurrency, thread_name_prefix=f"bulk-{batch_id}") as pool:
            while True:
                if halted():
                    return STOPPED
                if time.monotonic() > deadline:
                    return SLICED
                if not ready:
                    if throttle.has_room(concurrency):
                        ready.extend((row, False) for row in claim_rows(batch_id, concurrency, *uploader))
                    elif throttle.acquire(halted):
                        ready.extend((row, True) for row in claim_rows(batch_id, 1, *uploader))
                    else:
                        return STOPPED
                    if not ready:
                        return FINISHED
                if not slots.acquire(timeout=0.5):
                    continue
                row, permitted = ready[0]
                if halted() or not (permitted or throttle.acquire(halted)):
                    slots.release()
                    return STOPPED
                ready.popleft()
                pool.submit(_send_one, app, row, uploader[0], slots, halted)
    finally:
        if ready:
            unclaim(batch_id, [row for row, _permitted in ready])


def unclaim(batch_id: int, rows: list[Claimed]) -> None:
    """Put claimed rows that were never sent back to ``pending`` (their stored requests go)."""
    record_ids = [row.record_pk for row in rows]
    db.session.rollback()
    unsent = list(db.session.scalars(select(TrackedRequest.id).where(
        TrackedRequest.id.in_(record_ids), TrackedRequest.state == SENDING)))
    db.session.execute(delete(StatusEvent).where(StatusEvent.request_pk.in_(unsent)))
    db.session.execute(delete(TrackedRequest).where(TrackedRequest.id.in_(unsent)))
    db.session.execute(
        update(BatchRow).where(BatchRow.batch_id == batch_id, BatchRow.id.in_([row.row_id for row in rows]),
                               BatchRow.status == ROW_SENDING)
        .values(status=PENDING).execution_options(synchronize_session=False))
    db.session.commit()


def claim_rows(batch_id: int, limit: int, uploader_id: int | None, uploader_name: str | None) -> list[Claimed]:
    """Atomically take up to ``limit`` pending rows (lowest lines first) and store their requests.

    One transaction: the rows go from ``pending`` to ``sending`` by an UPDATE only one claimer
    can win per row, and each gets its TrackedRequest in state ``sending``. Rows another
    claimer took meanwhile are simply not returned.
    """
    candidates = db.session.execute(
        select(BatchRow.id, BatchRow.line, BatchRow.change)
        .where(BatchRow.batch_id == batch_id, BatchRow.status == PENDING)
        .order_by(BatchRow.line).limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL: claimers pass each other by
    ).all()
    if not candidates:
        db.session.rollback()
        return []
    taken = set(db.session.scalars(
        update(BatchRow).where(BatchRow.id.in_([c.id for c in candidates]), BatchRow.status == PENDING)
        .values(status=ROW_SENDING).returning(BatchRow.id).execution_options(synchronize_session=False)
    ))
    claimed, records = [], []
    for candidate in candidates:
        if candidate.id not in taken:
            continue  # another claimer won this row
        change = StatusChange(**candidate.change)
        payload = build_for_sending(change)
        record = new_record(change, submission_key(batch_id, candidate.line), payload)
        record.batch_id, record.batch_line = batch_id, candidate.line
        # The uploader is the submitter (history, tokens); the person who confirmed the file is a
        # maker of each row too (services/people/permissions.makers_of).
        record.submitted_by_id, record.submitted_by = uploader_id, uploader_name
        db.session.add(record)
        records.append(record)
        claimed.append((candidate, payload))
    try:
        db.session.commit()
    except IntegrityError:
        # A row already has its request (so it was sent before): settle such rows one by one.
        db.session.rollback()
        return _claim_one_by_one(batch_id, [c.id for c, _payload in claimed], uploader_id, uploader_name)
    return [Claimed(c.id, c.line, record.id, payload) for (c, payload), record in zip(claimed, records, strict=True)]


def _claim_one_by_one(batch_id: int, row_ids: list[int], uploader_id: int | None,
                      uploader_name: str | None) -> list[Claimed]:
    """Claim rows singly; a row whose request already exists is marked done, never sent again."""
    result = []
    for row_id in row_ids:
        row = db.session.execute(select(BatchRow.id, BatchRow.line, BatchRow.change)
                                 .where(BatchRow.id == row_id, BatchRow.status == PENDING)).first()
        if row is None:
            continue
        change = StatusChange(**row.change)
        payload = build_for_sending(change)
        record = new_record(change, submission_key(batch_id, row.line), payload)
        record.batch_id, record.batch_line = batch_id, row.line
        record.submitted_by_id, record.submitted_by = uploader_id, uploader_name
        db.session.execute(update(BatchRow).where(BatchRow.id == row_id).values(status=ROW_SENDING))
        db.session.add(record)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            db.session.execute(update(BatchRow).where(BatchRow.id == row_id)
                               .values(status=ROW_DONE, finished_at=utcnow()))
            db.session.commit()
            continue
        result.append(Claimed(row.id, row.line, record.id, payload))
    return result


def _send_one(app: Flask, claimed: Claimed, token_user: int | None, slots: threading.Semaphore,
              halted: Callable[[], bool]) -> None:
    """Send one claimed row, then record the outcome on its request and row (a pool thread).

    The slot is given back as soon as the gateway has answered, so the next row's call starts
    while this one's outcome is written: the bound is on calls in flight.
    """
    freed = threading.Event()

    def free_slot() -> None:
        if not freed.is_set():
            freed.set()
            slots.release()

    try:
        with app.app_context():
            user = _user(token_user)
            outcome = _call_gateway(claimed, user, halted)
            free_slot()
            record = db.session.get_one(TrackedRequest, claimed.record_pk)
            note = f"Created in Capillary (bulk file #{record.batch_id}, line {claimed.line})."

            def row_done() -> None:
                db.session.execute(update(BatchRow).where(BatchRow.id == claimed.row_id)
                                   .values(status=ROW_DONE, finished_at=utcnow()))

            store_outcome(record, outcome, note, also=row_done)
            metrics.record_bulk_row(record.state)
    except Exception:
        # The row stays in "sending"; the runner marks it interrupted (never re-sent).
        log.exception("bulk row %s: could not record the outcome", claimed.row_id)
    finally:
        free_slot()


def _call_gateway(claimed: Claimed, user, halted: Callable[[], bool]) -> RequestInfo | GatewayError:
    """Create the request; after a 429 wait as told (pausing every job) and try again.

    :returns: the gateway's view of the new request, or the error that ended the tries.
    """
    from services.people import identity

    throttle = app_throttle()
    for attempt in range(1, RATE_LIMITED_TRIES + 1):
        try:
            token = identity.maker_token(user)
            return gateway_setup.gateway_client().create_request(claimed.payload, token)
        except RateLimited as exc:
            if attempt < RATE_LIMITED_TRIES and not halted():
                throttle.pause(exc.retry_after or DEFAULT_RETRY_AFTER)
                if throttle.acquire(halted):
                    continue
            return exc
        except GatewayError as exc:
            return exc
    raise AssertionError("unreachable: the last try returns")  # pragma: no cover


def _user(user_id: int | None):
    """The person whose Capillary token sends the rows: the uploader (None: the deployment's token)."""
    if user_id is None:
        return None
    from models import User

    return db.session.get(User, user_id)


def _pending_rows(batch_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(BatchRow)
        .where(BatchRow.batch_id == batch_id, BatchRow.status == PENDING)
    ) or 0


# -- the batch's lease ----------------------------------------------------------------------------


def _lease_length() -> timedelta:
    return timedelta(seconds=current_app.config["CAP_BULK_LEASE_SECONDS"])


def take_lease(batch_id: int, owner: str) -> bool:
    """Become the batch's only runner, unless a live runner holds it; return whether we did."""
    now = utcnow()
    # An UPDATE/DELETE returns a CursorResult (it has rowcount); SQLAlchemy 2.0 types execute() as Result.
    taken = db.session.execute(  # type: ignore[attr-defined]
        update(Batch)
        .where(Batch.id == batch_id, Batch.state.in_((QUEUED, RUNNING)),
               or_(Batch.lease_until.is_(None), Batch.lease_until < now))
        .values(state=RUNNING, lease_owner=owner, lease_until=now + _lease_length(),
                started_at=func.coalesce(Batch.started_at, now))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return taken == 1


def renew_lease(batch_id: int, owner: str) -> bool:
    """Extend our lease; False means it was taken over (we were presumed dead)."""
    # A CursorResult, typed as Result in SQLAlchemy 2.0 (see take_lease).
    renewed = db.session.execute(  # type: ignore[attr-defined]
        update(Batch).where(Batch.id == batch_id, Batch.lease_owner == owner)
        .values(lease_until=utcnow() + _lease_length()).execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return renewed == 1


def release_lease(batch_id: int, owner: str, state: str) -> None:
    """Give the batch up, leaving it in ``state`` (``done``, or ``queued`` to be continued)."""
    values: dict[str, object] = {"state": state, "lease_owner": None, "lease_until": None}
    if state == DONE:
        values["finished_at"] = utcnow()
    db.session.execute(update(Batch).where(Batch.id == batch_id, Batch.lease_owner == owner).values(**values)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def _heartbeat(app: Flask, batch_id: int, owner: str, lost: threading.Event) -> None:
    """Renew the lease every third of its length until told to stop (``lost`` set) or it is lost."""
    interval = app.config["CAP_BULK_LEASE_SECONDS"] / 3
    while not lost.wait(interval):
        try:
            with app.app_context():
                if not renew_lease(batch_id, owner):
                    lost.set()
        except Exception:  # a database blip: try again next beat; the lease outlives two misses
            log.exception("bulk batch %s: could not renew the lease", batch_id)


def mark_interrupted(batch_id: int) -> int:
    """Settle rows a runner left in ``sending`` (call only while holding the lease): never re-sent.

    Their requests may exist in Capillary, so they become ``unknown`` and reconciliation
    (services/reconcile.py) looks them up in Capillary's request list.
    """
    lines = list(db.session.scalars(
        select(BatchRow.line).where(BatchRow.batch_id == batch_id, BatchRow.status == ROW_SENDING)
    ))
    if not lines:
        return 0
    records = db.session.scalars(
        select(TrackedRequest).where(TrackedRequest.batch_id == batch_id, TrackedRequest.batch_line.in_(lines),
                                     TrackedRequest.state == SENDING)
    )
    for record in records:
        record.error_kind = "interrupted"
        record.error_message = ("The worker sending this row stopped before Capillary's answer was recorded, "
                                "so the request may exist in Capillary.")
        record.record_state(UNKNOWN, record.error_message + " It is looked up in Capillary's request list; "
                            "it is never sent again automatically.")
    db.session.execute(
        update(BatchRow).where(BatchRow.batch_id == batch_id, BatchRow.status == ROW_SENDING)
        .values(status=INTERRUPTED, finished_at=utcnow()).execution_options(synchronize_session=False)
    )
    db.session.commit()
    metrics.BULK_ROWS.labels("unknown").inc(len(lines))
    log.warning("bulk batch %s: %d row(s) interrupted mid-call, left to reconciliation", batch_id, len(lines))
    return len(lines)
