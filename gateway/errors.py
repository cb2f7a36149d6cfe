"""Typed gateway failures: a ``kind``, the facts (HTTP status, Capillary's own words), an English
message for logs and records, and whether the request may exist.

The package knows no Flask: what a person should *do* about each kind is worded, and translated,
by the app (services/lifecycle/wording.py).

``may_exist`` drives the record's state after a failed create: ``False`` means the gateway
surely did not create the request (``failed_to_submit``); ``True`` means it may have been
created and the outcome must be reconciled (``unknown``).
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base class for everything that can go wrong talking to the gateway."""

    kind = "error"
    may_exist = False

    def __init__(self, message: str, *, status: int | None = None, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail


class GatewayUnreachable(GatewayError):
    """No connection could be made: nothing was sent."""

    kind = "unreachable"


class GatewayTimeout(GatewayError):
    """The request was sent but no answer came in time: the outcome is unknown."""

    kind = "timeout"
    may_exist = True


class GatewayConnectionLost(GatewayTimeout):
    """The connection broke after the request was sent: the outcome is unknown."""

    kind = "connection_lost"


class GatewayRejected(GatewayError):
    """The gateway answered 4xx: it refused the request, so nothing was created."""

    kind = "rejected"


class TokenRejected(GatewayRejected):
    """401: the X-CAP-UI-AUTH-TOKEN (or gateway credentials) are invalid or expired."""

    kind = "token_rejected"


class AccessDenied(GatewayRejected):
    """403: the Capillary user lacks the needed access (CanMakeRequest / CanCheckRequest)."""

    kind = "access_denied"


class NotFound(GatewayRejected):
    """404: the gateway does not know that request or path."""

    kind = "not_found"


class RateLimited(GatewayRejected):
    """429: too many requests; ``retry_after`` seconds (when given) says when to try again."""

    kind = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class GatewayServerError(GatewayError):
    """5xx: the gateway failed while handling the request; it may have been created."""

    kind = "server_error"
    may_exist = True


class GatewayUnavailable(GatewayServerError):
    """503: the gateway refused service before handling the request."""

    kind = "unavailable"
    may_exist = False


class UnreadableResponse(GatewayError):
    """The answer was not the documented JSON (not JSON, or no ``data``)."""

    kind = "unreadable"
    may_exist = True
