"""Apply what the gateway says about a request to its tracked record."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app

from gateway.payload import mask_secrets
from gateway.types import RequestInfo
from models import TrackedRequest, utcnow


def parse_gateway_time(value: str | None) -> datetime | None:
    """Read a gateway time (no zone, in ``CAP_GATEWAY_TIMEZONE``) as naive UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(current_app.config.get("CAP_GATEWAY_TIMEZONE", "UTC")))
    return parsed.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def apply_info(record: TrackedRequest, info: RequestInfo, note: str) -> bool:
    """Copy the gateway's view onto ``record``; return whether the state changed."""
    record.request_id = info.requestId
    if info.userId is not None:
        record.maker_user_id = info.userId
    if info.userName:
        record.maker_user_name = info.userName[:255]
    record.request_type = info.requestType or record.request_type
    record.start_time = parse_gateway_time(info.startTime) or record.start_time
    record.end_time = parse_gateway_time(info.endTime)
    # Capillary echoes the task with its inner Authorization header: never store that.
    record.details = mask_secrets(info.details)
    record.error_kind = record.error_message = None
    record.updated_at = utcnow()
    return record.record_state(info.state, note)
