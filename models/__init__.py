"""Database models, one module per area; importing this package registers every table."""

from models.base import utcnow
from models.requests import (
    FAILED_TO_SUBMIT,
    NOT_CREATED,
    SENDING,
    UNKNOWN,
    StatusEvent,
    TrackedRequest,
)

__all__ = [
    "FAILED_TO_SUBMIT",
    "NOT_CREATED",
    "SENDING",
    "UNKNOWN",
    "StatusEvent",
    "TrackedRequest",
    "utcnow",
]
