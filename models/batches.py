"""A bulk CSV submission (Batch) and its rows (BatchRow), stored instead of the uploaded file.

Each valid row becomes one TrackedRequest (``tracked_requests.batch_id``/``batch_line``) when
a worker claims it. Rows are read and written with explicit queries, a page at a time (a
batch may hold 10,000 of them), so there is no ORM relationship to load them all by mistake.
Times are naive UTC.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from extensions import Model
from models.base import utcnow

# Batch states.
REVIEW = "review"  # uploaded and checked; nothing sent until a person confirms
QUEUED = "queued"  # confirmed; waiting for a worker
RUNNING = "running"  # a worker is sending rows (or was, until its lease ran out)
DONE = "done"  # every valid row has been sent

# BatchRow states.
INVALID = "invalid"  # failed the form's rules: never sent
DUPLICATE = "duplicate"  # the same customer as an earlier line: never sent
PENDING = "pending"  # valid, not sent yet
ROW_SENDING = "sending"  # claimed by a worker: its TrackedRequest exists, the call is under way
ROW_DONE = "done"  # the gateway's answer (or failure) is recorded on the TrackedRequest
INTERRUPTED = "interrupted"  # its worker died mid-call: never re-sent, left to reconciliation
SKIPPED = "skipped"  # the customer check left it out (not found, invalid, no change): never sent

# Where a file's customer check stands (Batch.check_state; None: never asked for).
CHECK_QUEUED = "queued"
CHECK_RUNNING = "running"
CHECK_DONE = "done"

# A row's customer-check outcome (BatchRow.customer_check). Never the customer's name.
FOUND = "found"
NOT_FOUND = "not_found"  # code 8015: left out
INVALID_IDENTIFIER = "invalid"  # code 8013: left out
NOOP = "noop"  # the new label is the customer's current one: left out
OPEN_DUPLICATE = "duplicate"  # an open request for the same customer exists: flagged, still sent
LOOKUP_FAILED = "lookup_failed"  # timeout, 5xx, 401...: could not be checked, still sent
LEFT_OUT = (NOT_FOUND, INVALID_IDENTIFIER, NOOP)


class Batch(Model):
    """One uploaded CSV file: counts from the check, state of the job, and its lease."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default=REVIEW)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who uploaded it.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str | None] = mapped_column(String(255))

    total_rows: Mapped[int] = mapped_column(default=0)
    valid_rows: Mapped[int] = mapped_column(default=0)
    invalid_rows: Mapped[int] = mapped_column(default=0)
    duplicate_rows: Mapped[int] = mapped_column(default=0)
    # Things worth telling the person about how the file was read (BOM, semicolons, extra columns).
    notices: Mapped[list | None] = mapped_column(JSON)

    confirmed_at: Mapped[datetime | None] = mapped_column()
    # Who confirmed it (a users.id): with the uploader, a maker of every row (the maker-checker
    # rule). No foreign key: SQLite could add one only by rebuilding the table, whose drop would
    # cascade to batch_rows (migration 0010).
    confirmed_by_id: Mapped[int | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    # The worker currently sending this batch, and until when its claim holds.
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column()
    # The customer check (CHECK_* above), asked for on the review page; None: not asked for.
    check_state: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (Index("ix_batches_state_created", "state", "created_at"),)


class BatchRow(Model):
    """One line of an uploaded file: its values as written, the checked request, any errors."""

    __tablename__ = "batch_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column()  # the file's line number (the header is line 1)
    status: Mapped[str] = mapped_column(String(16))
    values: Mapped[dict] = mapped_column(JSON)  # column -> text, as in the file
    change: Mapped[dict | None] = mapped_column(JSON)  # the checked StatusChange fields (valid rows)
    errors: Mapped[list | None] = mapped_column(JSON)  # [[column, message], ...]
    # The customer (identifier type and normalised value): two rows with one key are duplicates.
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    duplicate_of: Mapped[int | None] = mapped_column()  # the earlier line with the same customer
    finished_at: Mapped[datetime | None] = mapped_column()
    # The customer check's outcome (FOUND... above) and the customer's label then; never a name.
    customer_check: Mapped[str | None] = mapped_column(String(16))
    customer_label: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        UniqueConstraint("batch_id", "line"),
        # The claim query: the next pending line of a batch.
        Index("ix_batch_rows_batch_status_line", "batch_id", "status", "line"),
        Index("ix_batch_rows_batch_key", "batch_id", "dedupe_key"),
    )
