"""Bulk CSV submissions: store an upload as rows, confirm it, and report progress and results.

An upload is checked row by row (:mod:`services.bulk.csv_reader`) and stored as a :class:`Batch`
with one :class:`BatchRow` per line; the file itself is not kept. Nothing is sent until a
person confirms; the job that sends is :mod:`services.bulk.runner`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO, cast

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Table, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from extensions import db
from models import TrackedRequest, User, utcnow
from models.batches import (
    DUPLICATE,
    INTERRUPTED,
    INVALID,
    PENDING,
    QUEUED,
    REVIEW,
    ROW_DONE,
    ROW_SENDING,
    RUNNING,
    SKIPPED,
    Batch,
    BatchRow,
)
from services.bulk.csv_reader import COLUMNS, MAX_BYTES, BadFile, Rules, read_rows
from services.lifecycle.wording import describe, failure_text, outcome_of

log = logging.getLogger(__name__)

INSERT_CHUNK = 500
# Capillary states meaning the request exists there (whatever a checker later decides).
CREATED_STATES = ("AdminTask", "approved", "rejected", "failed")


def create_batch(stream: BinaryIO, filename: str, *, size: int, uploader: User | None) -> Batch:
    """Check the uploaded CSV and store it as a batch awaiting review; return the batch.

    :param size: the upload's size in bytes (checked against the 5 MB limit first).
    :raises BadFile: the file is too large or cannot be read; nothing is stored then.
    """
    if size > MAX_BYTES:
        raise BadFile(_("The file is %(size)s MB; the limit is %(limit)d MB (about 10,000 rows). "
                        "Split it into smaller files.", size=f"{size / 1024 / 1024:.1f}",
                        limit=MAX_BYTES // 1024 // 1024))
    config = current_app.config
    notices: list[str] = []
    batch = Batch(filename=(filename or "upload.csv")[:255], state=REVIEW,
                  created_by_id=uploader.id if uploader is not None else None,
                  created_by_name=uploader.name if uploader is not None else None)
    db.session.add(batch)
    db.session.flush()
    try:
        counts = _store_rows(batch.id, read_rows(stream, Rules.from_config(config),
                                                 max_rows=config["CAP_BULK_MAX_ROWS"], notices=notices))
    except BadFile:
        db.session.rollback()
        raise
    duplicates = _mark_duplicates(batch.id)
    batch.total_rows = counts["total"]
    batch.invalid_rows = counts["invalid"]
    batch.duplicate_rows = duplicates
    batch.valid_rows = counts["total"] - counts["invalid"] - duplicates
    batch.notices = notices
    db.session.commit()
    log.info("bulk file stored", extra={"batch": batch.id, "rows": batch.total_rows, "valid": batch.valid_rows})
    return batch


def _store_rows(batch_id: int, rows) -> dict[str, int]:
    """Insert the checked rows in chunks (no ORM objects kept: memory stays flat)."""
    counts = {"total": 0, "invalid": 0}
    chunk: list[dict] = []
    for row in rows:
        counts["total"] += 1
        counts["invalid"] += bool(row.errors)
        chunk.append({
            "batch_id": batch_id, "line": row.line, "status": INVALID if row.errors else PENDING,
            "values": row.values, "change": row.change_dict(), "errors": row.errors or None,
            "dedupe_key": row.dedupe_key,
        })
        if len(chunk) >= INSERT_CHUNK:
            db.session.execute(insert(BatchRow), chunk)
            chunk = []
    if chunk:
        db.session.execute(insert(BatchRow), chunk)
    return counts


def _mark_duplicates(batch_id: int) -> int:
    """Mark each valid row whose customer is on an earlier valid line; return how many.

    One grouped query finds the customers named more than once (and their first line); one
    UPDATE per such customer marks the later lines. Both use the (batch, customer) index, so
    the work grows with the rows, not with their square.
    """
    repeated = db.session.execute(
        select(BatchRow.dedupe_key, func.min(BatchRow.line))
        .where(BatchRow.batch_id == batch_id, BatchRow.status == PENDING)
        .group_by(BatchRow.dedupe_key).having(func.count() > 1)
    ).all()
    if not repeated:
        return 0
    rows = cast(Table, BatchRow.__table__)  # a declarative model's table; typed as the wider FromClause
    db.session.connection().execute(
        rows.update()
        .where(rows.c.batch_id == batch_id, rows.c.dedupe_key == bindparam("key"),
               rows.c.line > bindparam("first"), rows.c.status == PENDING)
        .values(status=DUPLICATE, duplicate_of=bindparam("first")),
        [{"key": key, "first": first} for key, first in repeated],
    )
    return db.session.scalar(select(func.count()).select_from(BatchRow)
                             .where(BatchRow.batch_id == batch_id, BatchRow.status == DUPLICATE)) or 0


def confirm(batch: Batch, *, actor: User | None) -> bool:
    """Move a batch from review to queued (once, audited as ``actor``); return whether this call did it."""
    from services.people import audit

    now = utcnow()
    # An UPDATE/DELETE returns a CursorResult (it has rowcount); SQLAlchemy 2.0 types execute() as Result.
    moved = db.session.execute(  # type: ignore[attr-defined]
        update(Batch).where(Batch.id == batch.id, Batch.state == REVIEW, Batch.valid_rows > 0)
        .values(state=QUEUED, confirmed_at=now, confirmed_by_id=actor.id if actor is not None else None)
    ).rowcount
    if moved:
        audit.record("bulk.confirmed", actor=actor, target=f"bulk file {batch.id}",
                     detail=(f"{batch.valid_rows} {'request' if batch.valid_rows == 1 else 'requests'} "
                             f"from {batch.filename}")[:500])
    db.session.commit()
    db.session.refresh(batch)
    return moved == 1


def discard(batch: Batch) -> bool:
    """Delete a batch still in review, rows and all; return whether it was deleted."""
    if batch.state != REVIEW:
        return False
    db.session.execute(delete(BatchRow).where(BatchRow.batch_id == batch.id))
    # A CursorResult, typed as Result in SQLAlchemy 2.0 (see confirm).
    deleted = db.session.execute(delete(Batch).where(Batch.id == batch.id, Batch.state == REVIEW)).rowcount  # type: ignore[attr-defined]
    db.session.commit()
    return deleted == 1


def resumable_batches(at_start: bool = False) -> list[int]:
    """Ids of confirmed batches no live worker holds: what a worker should (re)start.

    A running batch whose lease ran out lost its worker. A queued one normally has a job on
    its way; it is included when ``at_start`` (an in-process queue is empty after a restart)
    or when it has waited longer than a lease (its job may have been lost).
    """
    now = utcnow()
    lease = timedelta(seconds=current_app.config["CAP_BULK_LEASE_SECONDS"])
    free = or_(Batch.lease_until.is_(None), Batch.lease_until < now)
    waiting = Batch.state == QUEUED
    if not at_start:
        waiting = and_(waiting, Batch.confirmed_at < now - lease)
    return list(db.session.scalars(
        select(Batch.id).where(free, or_(Batch.state == RUNNING, waiting)).order_by(Batch.id)
    ))


# -- progress -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Where a confirmed batch stands, for the progress page and its JSON endpoint."""

    state: str
    to_send: int  # valid rows
    created: int  # Capillary created the request
    failed: int  # Capillary surely did not create it
    unknown: int  # sent, outcome not known yet (reconciliation will tell)
    in_flight: int
    remaining: int  # not finished yet (pending or in flight)
    per_minute: float  # recent rate
    seconds_left: float | None

    @property
    def finished(self) -> int:
        """Rows with a recorded outcome."""
        return self.to_send - self.remaining

    @property
    def percent(self) -> int:
        """Share of rows finished, 0–100."""
        return int(100 * self.finished / self.to_send) if self.to_send else 100

    def as_json(self) -> dict:
        """The progress as the JSON endpoint returns it."""
        return {
            "state": self.state, "toSend": self.to_send, "created": self.created, "failed": self.failed,
            "unknown": self.unknown, "inFlight": self.in_flight, "remaining": self.remaining,
            "finished": self.finished, "percent": self.percent, "perMinute": round(self.per_minute, 1),
            "secondsLeft": None if self.seconds_left is None else round(self.seconds_left),
        }


def progress(batch: Batch) -> Progress:
    """Count the batch's rows by outcome, and estimate the rate and the time left."""
    by_status = dict(db.session.execute(
        select(BatchRow.status, func.count()).where(BatchRow.batch_id == batch.id).group_by(BatchRow.status)
    ).tuples().all())
    by_state = dict(db.session.execute(
        select(TrackedRequest.state, func.count()).where(TrackedRequest.batch_id == batch.id)
        .group_by(TrackedRequest.state)
    ).tuples().all())
    finished_states = {ROW_DONE, INTERRUPTED}
    to_send = sum(n for status, n in by_status.items() if status not in (INVALID, DUPLICATE, SKIPPED))
    remaining = sum(n for status, n in by_status.items() if status in (PENDING, ROW_SENDING))
    created = sum(n for state, n in by_state.items() if state in CREATED_STATES)
    failed = sum(n for state, n in by_state.items() if state in ("failed_to_submit", "not_created"))
    finished = sum(n for status, n in by_status.items() if status in finished_states)
    # A burst in the first seconds extrapolates above the limit, which no whole minute can reach.
    rate = min(_recent_rate(batch), float(current_app.config["CAP_BULK_RATE_PER_MINUTE"]))
    seconds_left = remaining / rate * 60 if rate > 0 and remaining else (0.0 if not remaining else None)
    return Progress(
        state=batch.state, to_send=to_send, created=created, failed=failed,
        unknown=max(finished - created - failed, 0), in_flight=by_status.get(ROW_SENDING, 0),
        remaining=remaining, per_minute=rate, seconds_left=seconds_left,
    )


def _recent_rate(batch: Batch) -> float:
    """Rows finished per minute over the last minute (or since the start, if more recent)."""
    if batch.started_at is None:
        return 0.0
    now = utcnow()
    since = max(now - timedelta(minutes=1), batch.started_at)
    span = (now - since).total_seconds()
    if span <= 0:
        return 0.0
    recent = db.session.scalar(
        select(func.count()).select_from(BatchRow)
        .where(BatchRow.batch_id == batch.id, BatchRow.finished_at >= since)
    ) or 0
    return recent * 60 / max(span, 1.0)


# -- pages of rows and the results file -----------------------------------------------------------


def rows_page(batch_id: int, statuses: tuple[str, ...], page: int,
              size: int) -> tuple[Sequence[tuple[BatchRow, TrackedRequest | None]], int]:
    """Return one page of the batch's rows in these statuses (by line) with their requests, and the count."""
    where = (BatchRow.batch_id == batch_id, BatchRow.status.in_(statuses))
    total = db.session.scalar(select(func.count()).select_from(BatchRow).where(*where)) or 0
    request = aliased(TrackedRequest)
    rows = db.session.execute(
        select(BatchRow, request)
        .outerjoin(request, and_(request.batch_id == BatchRow.batch_id, request.batch_line == BatchRow.line))
        .where(*where).order_by(BatchRow.line).limit(size).offset((page - 1) * size)
    ).tuples().all()
    return rows, total


# Why the customer check left a row out (the results file and the review page).
LEFT_OUT_WORDS = {
    "not_found": _l("No customer in Capillary has this identifier (code 8015); the row is not sent."),
    "invalid": _l("Capillary says the identifier is invalid (code 8013); the row is not sent."),
    "noop": _l("The customer already has this label; the row is not sent."),
}

# The file's own columns as uploaded, then what became of each line: the requestId, the state in
# words, the error in words, and downstreamRequestId (Capillary's id of the call that ran an
# approved row, X-CAP-REQUEST-ID: what its support asks for, docs/CAPILLARY_API.md §2.4).
RESULT_COLUMNS = ("line", *COLUMNS, "requestId", "state", "error", "downstreamRequestId")
_RESULT_PAGE = 1000


def result_records(batch_id: int) -> Iterator[tuple]:
    """Yield one row of :data:`RESULT_COLUMNS` for every line, a page at a time.

    States and errors are in the reader's language; a documented Capillary code is named
    after the words, for support.
    """
    last_line = 0
    while True:
        page = db.session.execute(
            select(BatchRow.line, BatchRow.values, BatchRow.status, BatchRow.errors, BatchRow.duplicate_of,
                   BatchRow.customer_check,
                   TrackedRequest.request_id, TrackedRequest.state, TrackedRequest.error_message,
                   TrackedRequest.error_kind, TrackedRequest.error_code, TrackedRequest.error_detail,
                   TrackedRequest.details, TrackedRequest.downstream_request_id)
            .outerjoin(TrackedRequest, and_(TrackedRequest.batch_id == BatchRow.batch_id,
                                            TrackedRequest.batch_line == BatchRow.line))
            .where(BatchRow.batch_id == batch_id, BatchRow.line > last_line)
            .order_by(BatchRow.line).limit(_RESULT_PAGE)
        ).all()
        if not page:
            return
        for (line, values, status, errors, duplicate_of, check, request_id, state, error_message,
             error_kind, error_code, error_detail, details, downstream_id) in page:
            if state == "failed":
                error_message = outcome_of(state, details).words
            elif error_kind:
                failure = failure_text(error_kind, error_code, error_detail, fallback=error_message)
                error_message = " ".join(part for part in (failure.what, failure.reference) if part)
            own = [(values or {}).get(column, "") for column in COLUMNS]
            yield (line, *own, request_id or "", *_result_words(status, errors, duplicate_of, check, state,
                                                                      error_message),
                   downstream_id or "")
        last_line = page[-1][0]
        db.session.expire_all()


def _result_words(status, errors, duplicate_of, check, state, error_message) -> tuple[str, str]:
    """The line's state and error in words (``check``: what the customer check found)."""
    if status == INVALID:
        return _("Not valid: not sent"), "; ".join(f"{column}: {message}" for column, message in errors or [])
    if status == DUPLICATE:
        return (_("Duplicate: not sent"),
                _("The same customer as line %(line)s; only that line is sent.", line=duplicate_of))
    if status == SKIPPED:
        return _("Left out by the customer check: not sent"), str(LEFT_OUT_WORDS.get(check, check or ""))
    if status == PENDING:
        return _("Not sent yet"), ""
    return describe(state or "sending").badge, error_message or ""


def lost_request_ids(batch_id: int) -> list[int]:
    """Ids of the batch's requests sent by a worker that died before the answer was recorded."""
    return list(db.session.scalars(
        select(TrackedRequest.id).where(TrackedRequest.batch_id == batch_id, TrackedRequest.state == "unknown",
                                        TrackedRequest.error_kind == "interrupted")
    ))
