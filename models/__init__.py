"""Database models, one module per area; importing this package registers every table."""

from models.approvals import Decision
from models.audit import AuditEvent
from models.base import utcnow
from models.batches import Batch, BatchRow
from models.decision_runs import DecisionRun, DecisionRunItem
from models.job_runs import JobRun
from models.reconcile import ReconcileCandidate
from models.requests import (
    FAILED_TO_SUBMIT,
    NOT_CREATED,
    SENDING,
    UNKNOWN,
    StatusEvent,
    TrackedRequest,
)
from models.users import ROLES, StoreAssignment, User, UserRole

__all__ = [
    "AuditEvent",
    "ROLES",
    "StoreAssignment",
    "User",
    "UserRole",
    "Batch",
    "BatchRow",
    "JobRun",
    "Decision",
    "DecisionRun",
    "DecisionRunItem",
    "ReconcileCandidate",
    "FAILED_TO_SUBMIT",
    "NOT_CREATED",
    "SENDING",
    "UNKNOWN",
    "StatusEvent",
    "TrackedRequest",
    "utcnow",
]
