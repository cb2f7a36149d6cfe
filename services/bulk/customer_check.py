"""Check a bulk file's customers in Capillary before it is sent (issue 14, item 7).

Asked for on the review page; a background job (``bulk.check``) looks up each pending row's
customer with the customer client (through :func:`services.customers.checks`), under the same
shared rate limit (:mod:`services.bulk.throttle`, one permit per row) and concurrency
(``CAP_BULK_CONCURRENCY``) as sending. Each row gets an outcome:

- ``not_found`` (8015), ``invalid`` (8013) and ``noop`` (the new label is the current one): the
  row becomes ``skipped`` and is never sent;
- ``duplicate`` (an open request for the customer exists) and ``found``: sent as before;
- ``lookup_failed`` (timeout, 5xx, refused credentials…): could not be checked, still sent.

Only the outcome and the customer's current label are stored, never a name. Every write is
conditional (the row still pending and unchecked, the file still in review), so a file
confirmed mid-check simply sends the rows not left out by then; a second run checks only what
the first did not.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import func, select, update

from extensions import db
from gateway.payload import StatusChange
from models.batches import (
    CHECK_DONE,
    CHECK_QUEUED,
    CHECK_RUNNING,
    FOUND,
    INVALID_IDENTIFIER,
    LEFT_OUT,
    LOOKUP_FAILED,
    NOOP,
    NOT_FOUND,
    OPEN_DUPLICATE,
    PENDING,
    REVIEW,
    SKIPPED,
    Batch,
    BatchRow,
)
from services import customers
from services.bulk.throttle import app_throttle

log = logging.getLogger(__name__)

CHUNK = 200  # rows read from the database at a time
FINISHED, STOPPED = "finished", "stopped"


def request_check(batch: Batch) -> bool:
    """Mark ``batch`` as waiting for its customer check; return whether a job should be queued.

    Only a file in review, with look-ups on, and not already checked.
    """
    if not customers.enabled():
        return False
    # A CursorResult (it has rowcount); SQLAlchemy 2.0 types execute() as Result.
    moved = db.session.execute(  # type: ignore[attr-defined]
        update(Batch).where(Batch.id == batch.id, Batch.state == REVIEW,
                            (Batch.check_state.is_(None)) | (Batch.check_state != CHECK_DONE))
        .values(check_state=CHECK_QUEUED)
    ).rowcount
    db.session.commit()
    db.session.refresh(batch)
    return moved == 1


def check_batch(batch_id: int, *, should_stop: Callable[[], bool] = lambda: False) -> str:
    """Check every unchecked pending row of the file; return ``finished`` or ``stopped``.

    After ``stopped`` (the worker is shutting down) the file is left ``queued`` for a new job.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # typed as Flask, is a proxy
    if not customers.enabled() or not _in_review(batch_id):
        _set_state(batch_id, CHECK_DONE)
        return FINISHED
    _set_state(batch_id, CHECK_RUNNING)
    concurrency = app.config["CAP_BULK_CONCURRENCY"]
    throttle = app_throttle(app)
    slots = threading.Semaphore(concurrency)
    stopped = False
    after_line = 0

    halted = should_stop
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"bulk-check-{batch_id}") as pool:
        while not stopped:
            rows = db.session.execute(
                select(BatchRow.id, BatchRow.line, BatchRow.change)
                .where(BatchRow.batch_id == batch_id, BatchRow.status == PENDING,
                       BatchRow.customer_check.is_(None), BatchRow.line > after_line)
                .order_by(BatchRow.line).limit(CHUNK)
            ).all()
            db.session.rollback()  # no transaction held while the look-ups run
            if not rows or not _in_review(batch_id):
                break
            for row in rows:
                # A slot (calls in flight) first, then a permit (the shared per-minute limit).
                if not _take_slot(slots, halted):
                    stopped = True
                    break
                if not throttle.acquire(halted):
                    slots.release()
                    stopped = True
                    break
                pool.submit(_check_one, app, row.id, row.change, slots)
            after_line = rows[-1].line
    _set_state(batch_id, CHECK_QUEUED if stopped else CHECK_DONE)
    log.info("bulk batch %s: customer check %s", batch_id, STOPPED if stopped else FINISHED)
    return STOPPED if stopped else FINISHED


def _take_slot(slots: threading.Semaphore, halted: Callable[[], bool]) -> bool:
    """Wait for a free slot; False (no slot taken) if told to stop meanwhile."""
    while not slots.acquire(timeout=0.5):
        if halted():
            return False
    if halted():
        slots.release()
        return False
    return True


def outcome_of(change: StatusChange) -> tuple[str, str | None]:
    """Look the row's customer up; return its outcome and the customer's current label (if known)."""
    found = customers.checks(change)
    if found is None:  # look-ups were switched off meanwhile
        return LOOKUP_FAILED, None
    current = found.card.customer.current if found.card.customer is not None else None
    label = current.label if current is not None else None
    if found.blocked:
        return (NOT_FOUND if found.card.problem == "customer_not_found" else INVALID_IDENTIFIER), None
    if found.lookup_failed:
        return LOOKUP_FAILED, None
    if found.noop:
        return NOOP, label
    if found.duplicate:
        return OPEN_DUPLICATE, label
    return FOUND, label


def _check_one(app: Flask, row_id: int, change: dict, slots: threading.Semaphore) -> None:
    """Check one row and record its outcome (a pool thread)."""
    try:
        with app.app_context():
            try:
                outcome, label = outcome_of(StatusChange(**change))
            except Exception:  # whatever went wrong, the row is only "could not be checked"
                log.exception("bulk row %s: customer check failed", row_id)
                outcome, label = LOOKUP_FAILED, None
            finally:
                slots.release()
            _record(row_id, outcome, label)
    except Exception:
        log.exception("bulk row %s: could not record the customer check", row_id)


def _record(row_id: int, outcome: str, label: str | None) -> None:
    """Store the outcome; a left-out row becomes ``skipped`` (only while pending, unchecked, in review)."""
    values: dict[str, object] = {"customer_check": outcome, "customer_label": label[:128] if label else None}
    if outcome in LEFT_OUT:
        values["status"] = SKIPPED
    in_review = select(Batch.id).where(Batch.state == REVIEW)
    # A CursorResult (it has rowcount); SQLAlchemy 2.0 types execute() as Result.
    changed = db.session.execute(  # type: ignore[attr-defined]
        update(BatchRow).where(BatchRow.id == row_id, BatchRow.status == PENDING, BatchRow.customer_check.is_(None),
                               BatchRow.batch_id.in_(in_review))
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount
    if changed and outcome in LEFT_OUT:
        batch_id = select(BatchRow.batch_id).where(BatchRow.id == row_id).scalar_subquery()
        db.session.execute(update(Batch).where(Batch.id == batch_id).values(valid_rows=Batch.valid_rows - 1)
                           .execution_options(synchronize_session=False))
    db.session.commit()


def _in_review(batch_id: int) -> bool:
    state = db.session.scalar(select(Batch.state).where(Batch.id == batch_id))
    db.session.rollback()
    return state == REVIEW


def _set_state(batch_id: int, state: str) -> None:
    db.session.execute(update(Batch).where(Batch.id == batch_id).values(check_state=state)
                       .execution_options(synchronize_session=False))
    db.session.commit()


@dataclass(frozen=True)
class CheckProgress:
    """Where a file's customer check stands, for the review page."""

    state: str | None
    checked: int  # rows with an outcome
    to_check: int  # rows with an outcome, plus pending rows without one
    by_outcome: dict[str, int]

    @property
    def percent(self) -> int:
        """Share of rows checked, 0–100."""
        return int(100 * self.checked / self.to_check) if self.to_check else 100

    @property
    def left_out(self) -> int:
        """Rows the check left out of sending."""
        return sum(self.by_outcome.get(outcome, 0) for outcome in LEFT_OUT)


def check_progress(batch: Batch) -> CheckProgress:
    """Count the file's rows by customer-check outcome."""
    by_outcome = dict(db.session.execute(
        select(BatchRow.customer_check, func.count())
        .where(BatchRow.batch_id == batch.id, BatchRow.customer_check.is_not(None))
        .group_by(BatchRow.customer_check)
    ).tuples().all())
    unchecked = db.session.scalar(
        select(func.count()).select_from(BatchRow)
        .where(BatchRow.batch_id == batch.id, BatchRow.status == PENDING, BatchRow.customer_check.is_(None))
    ) or 0
    checked = sum(by_outcome.values())
    return CheckProgress(batch.check_state, checked, checked + unchecked,
                         {outcome: n for outcome, n in by_outcome.items() if outcome is not None})
