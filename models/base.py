"""Conventions shared by every model."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current UTC time as a naive datetime (the database convention)."""
    return datetime.now(UTC).replace(tzinfo=None)
