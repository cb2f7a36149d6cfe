"""A tracked status-change request and its timeline of state changes.

Times are naive UTC throughout. Nothing here ever holds the Intouch Authorization value or
a UI token: payloads and gateway details are stored masked.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import DDL, JSON, ForeignKey, Index, String, Text, UniqueConstraint, event, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import Model
from models.base import utcnow

if TYPE_CHECKING:
    from models.users import User

# Local states, beside Capillary's own (AdminTask, approved, rejected, failed).
SENDING = "sending"
FAILED_TO_SUBMIT = "failed_to_submit"
UNKNOWN = "unknown"
NOT_CREATED = "not_created"
# Training sandbox only: the sandbox no longer knows the request (it was reset or restarted).
SANDBOX_GONE = "sandbox_gone"


class TrackedRequest(Model):
    """One customer status-change request, stored before it is sent and tracked until decided."""

    __tablename__ = "tracked_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique per form: a double click or a re-posted form makes one record and one call.
    submission_key: Mapped[str] = mapped_column(String(64), unique=True)
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(32), default=SENDING)
    request_type: Mapped[str] = mapped_column(String(64), default="customer-status-change")
    # "app" for requests made here, "imported" for ones found in Capillary (read-only).
    origin: Mapped[str] = mapped_column(String(16), default="app")

    till_id: Mapped[str] = mapped_column(String(64))
    store_id: Mapped[str] = mapped_column(String(64))
    zone_id: Mapped[str] = mapped_column(String(64))
    concept_id: Mapped[str] = mapped_column(String(64))
    identifier_name: Mapped[str] = mapped_column(String(32))
    identifier_value: Mapped[str] = mapped_column(String(160))
    label: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(64), default="INSTORE")
    account_id: Mapped[str] = mapped_column(String(64), default="")
    use_async: Mapped[bool] = mapped_column(default=False)

    payload: Mapped[dict | None] = mapped_column(JSON)  # as sent, Authorization masked
    details: Mapped[dict | None] = mapped_column(JSON)  # gateway details, masked

    maker_user_id: Mapped[int | None] = mapped_column()
    maker_user_name: Mapped[str | None] = mapped_column(String(255))
    start_time: Mapped[datetime | None] = mapped_column()
    end_time: Mapped[datetime | None] = mapped_column()
    # The signed-in user who submitted it (None for imported requests): the maker-checker and
    # store-scope rules and the audit trail key on this, never on a name.
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)

    error_kind: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(Text)  # an English record, for logs and support
    # What a page needs to word the failure in the reader's language (services/lifecycle/wording.py):
    # Capillary's error code, its own message and the HTTP status.
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_detail: Mapped[str | None] = mapped_column(Text)
    error_status: Mapped[int | None] = mapped_column()
    # Capillary's id of the downstream call that ran the approved task (X-CAP-REQUEST-ID, §2.4):
    # the first thing Capillary's support asks for; a column so the bulk results file can list it.
    downstream_request_id: Mapped[str | None] = mapped_column(String(128))
    # The customer's status in Capillary's status log (docs/CAPILLARY_API.md §10): read when the
    # request was submitted ("before") and after Capillary applied it ("after", the verification).
    # Status and label only: a customer's name is never stored.
    customer_status_before: Mapped[str | None] = mapped_column(String(64))
    customer_label_before: Mapped[str | None] = mapped_column(String(128))
    customer_before_at: Mapped[datetime | None] = mapped_column()
    customer_status_after: Mapped[str | None] = mapped_column(String(64))
    customer_label_after: Mapped[str | None] = mapped_column(String(128))
    customer_after_at: Mapped[datetime | None] = mapped_column()

    # Who submitted it: the app's user (services.people.identity) or, for imported ones, Capillary's userName.
    submitted_by: Mapped[str | None] = mapped_column(String(255))
    # The poll limit: when the gateway was last asked about it (claimed by an atomic UPDATE).
    last_polled_at: Mapped[datetime | None] = mapped_column()
    # The last failed refresh, shown as "could not refresh: ..." until one succeeds.
    refresh_error: Mapped[str | None] = mapped_column(Text)
    refresh_error_at: Mapped[datetime | None] = mapped_column()
    # A request resent after it was not created in Capillary points back at the original.
    resent_from_id: Mapped[int | None] = mapped_column(ForeignKey("tracked_requests.id"))

    # A row of a bulk CSV file (models/batches.py): unique, so a row can never be sent twice.
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    batch_line: Mapped[int | None] = mapped_column()

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    submitter: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    events: Mapped[list[StatusEvent]] = relationship(
        back_populates="request", order_by="StatusEvent.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        # History: every filter is an equality prefix on (filter, created_at, id), so a page
        # is one index range scan whatever the filter (keyset pagination, views/history.py).
        Index("ix_tracked_requests_created", "created_at", "id"),
        Index("ix_tracked_requests_updated", "updated_at", "id"),
        Index("ix_tracked_requests_state_created", "state", "created_at", "id"),
        Index("ix_tracked_requests_store_created", "store_id", "created_at", "id"),
        # A store's requests in one state (a store manager's pending list): page and count
        # read this index alone instead of looking up every row of the store.
        Index("ix_tracked_requests_store_state_created", "store_id", "state", "created_at", "id"),
        Index("ix_tracked_requests_label_created", "label", "created_at", "id"),
        Index("ix_tracked_requests_origin_created", "origin", "created_at", "id"),
        Index("ix_tracked_requests_submitted_by_created", "submitted_by", "created_at", "id"),
        Index("ix_tracked_requests_maker_created", "maker_user_name", "created_at", "id"),
        Index("ix_tracked_requests_identifier", "identifier_value", "created_at", "id"),
        # A submitter's requests changed since they last looked ("My requests", the header's badge).
        Index("ix_tracked_requests_submitter_updated", "submitted_by_id", "updated_at"),
        # Partial: almost every row has no resend, and with statistics an index full of NULLs
        # looks useless to the planner, which then scans for "was this resent?".
        Index("ix_tracked_requests_resent_from", "resent_from_id",
              sqlite_where=text("resent_from_id IS NOT NULL"), postgresql_where=text("resent_from_id IS NOT NULL")),
        UniqueConstraint("batch_id", "batch_line"),
    )

    def form_values(self) -> dict[str, Any]:
        """Return the values a person entered, keyed like the form fields (for edit/retry)."""
        return {
            "tillId": self.till_id,
            "storeId": self.store_id,
            "zoneId": self.zone_id,
            "conceptId": self.concept_id,
            "identifierName": self.identifier_name,
            "identifierValue": self.identifier_value,
            "label": self.label,
            "reason": self.reason,
            "source": self.source,
            "accountId": self.account_id,
            "use_async": self.use_async,
        }

    @property
    def customer_verified(self) -> bool:
        """Whether the status log, read after approval, shows the requested label."""
        return bool(self.customer_label_after) and (self.customer_label_after or "").casefold() == self.label.casefold()

    def record_state(self, state: str, note: str = "", at: datetime | None = None) -> bool:
        """Set ``state``; append a timeline event when it changed. Return whether it changed."""
        if self.state == state and self.events:
            return False
        self.state = state
        self.events.append(StatusEvent(state=state, note=note[:500], at=at or utcnow()))
        return True


# Identifier search by any part, any case (services/lifecycle/history.py): a trigram index on
# PostgreSQL (pg_trgm, migration 0013). SQLite has no such index; its search scans the
# narrow ix_tracked_requests_identifier instead (docs/BENCHMARKS.md).
Index(
    "ix_tracked_requests_identifier_trgm",
    func.lower(TrackedRequest.identifier_value).label("identifier_lower"),
    postgresql_using="gin", postgresql_ops={"identifier_lower": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")
# Tables made from the models (tests, the sandbox, benchmarks) need the extension first;
# migration 0013 does the same for a migrated database.
event.listen(TrackedRequest.__table__, "before_create",
             DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"))


class StatusEvent(Model):
    """One state change of a tracked request, with when it was seen and why."""

    __tablename__ = "status_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_pk: Mapped[int] = mapped_column(ForeignKey("tracked_requests.id"), index=True)
    state: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[TrackedRequest] = relationship(back_populates="events")
