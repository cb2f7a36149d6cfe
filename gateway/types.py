"""Small typed views of the gateway's JSON answers (docs/CAPILLARY_API.md §1.4, §2.3, §4.1)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from gateway.errors import UnreadableResponse

TERMINAL_STATES = frozenset({"approved", "rejected", "failed"})
# Bounds of what a real answer holds; anything past them is a broken or hostile gateway, read
# as "unreadable" here rather than failing later in the database or a template.
MAX_USER_ID = 2**31 - 1  # Capillary's user ids are 32-bit; so is the column keeping them
MAX_DETAILS_DEPTH = 32  # the documented details are two or three levels deep
YEARS = range(1970, 3000)  # of a request's times


@dataclass(frozen=True)
class RequestInfo:
    """One request-workflow request as the gateway reports it."""

    requestId: str
    state: str
    requestType: str = ""
    userId: int | None = None
    userName: str = ""
    startTime: str | None = None
    endTime: str | None = None
    details: dict = field(default_factory=dict)

    @property
    def validate_maker_access(self) -> bool | None:
        """``details.ValidateMakerAccess_Output`` when present."""
        return self.details.get("ValidateMakerAccess_Output")

    @property
    def validate_payload(self) -> bool | None:
        """``details.ValidatePayload_Output`` when present."""
        return self.details.get("ValidatePayload_Output")

    @classmethod
    def from_json(cls, data) -> RequestInfo:
        """Parse one request object; raise UnreadableResponse if it lacks the basics."""
        if not isinstance(data, dict):
            raise UnreadableResponse("The gateway's answer has no request object in 'data'.")
        request_id, state = data.get("requestId"), data.get("state")
        if not isinstance(request_id, str) or not request_id or not isinstance(state, str):
            raise UnreadableResponse("The gateway's answer lacks a requestId or state.")
        details = data.get("details")
        details = details if isinstance(details, dict) else {}
        if _depth(details) > MAX_DETAILS_DEPTH:
            raise UnreadableResponse("The gateway's answer is nested far deeper than any documented one.")
        return cls(
            requestId=request_id,
            state=state,
            requestType=str(data.get("requestType") or ""),
            userId=_user_id(data.get("userId")),
            userName=str(data.get("userName") or ""),
            startTime=_time(data.get("startTime"), "startTime"),
            endTime=_time(data.get("endTime"), "endTime"),
            details=details,
        )


def _user_id(value) -> int | None:
    """The maker's user id: None when missing or not a number; unreadable when no real id could be it."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        raise UnreadableResponse("The gateway's answer has a userId that is not a number.")
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    if not 0 <= number <= MAX_USER_ID:
        raise UnreadableResponse("The gateway's answer has a userId out of range.")
    return number


def _time(value, name: str) -> str | None:
    """A time as given (the app converts it); unreadable when it names an impossible date."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value  # not a time at all: the app shows none (services/lifecycle/updates.py)
    # Years well inside what datetime holds, so converting to UTC from any zone cannot overflow.
    if parsed.year not in YEARS:
        raise UnreadableResponse(f"The gateway's answer has a {name} outside any plausible date.")
    return value


def _depth(value) -> int:
    """How deeply ``value`` nests lists and objects, counted without recursion (so never too deep to count)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_DETAILS_DEPTH:
                return deepest
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return deepest


@dataclass(frozen=True)
class RequestPage:
    """One page of the list endpoint."""

    items: list[RequestInfo]
    total_elements: int
    total_pages: int
    number: int
