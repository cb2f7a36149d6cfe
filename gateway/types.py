"""Small typed views of the gateway's JSON answers (docs/CAPILLARY_API.md §1.4, §2.3, §4.1)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.errors import UnreadableResponse

TERMINAL_STATES = frozenset({"approved", "rejected", "failed"})


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
        user_id = data.get("userId")
        try:
            user_id = int(user_id) if user_id is not None else None
        except (TypeError, ValueError):
            user_id = None
        details = data.get("details")
        return cls(
            requestId=request_id,
            state=state,
            requestType=str(data.get("requestType") or ""),
            userId=user_id,
            userName=str(data.get("userName") or ""),
            startTime=data.get("startTime") if isinstance(data.get("startTime"), str) else None,
            endTime=data.get("endTime") if isinstance(data.get("endTime"), str) else None,
            details=details if isinstance(details, dict) else {},
        )


@dataclass(frozen=True)
class RequestPage:
    """One page of the list endpoint."""

    items: list[RequestInfo]
    total_elements: int
    total_pages: int
    number: int
