"""Typed gateway failures, each with a plain-words message and whether the request may exist.

``may_exist`` drives the record's state after a failed create: ``False`` means the gateway
surely did not create the request (``failed_to_submit``); ``True`` means it may have been
created and the outcome must be reconciled (``unknown``).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l


class GatewayError(Exception):
    """Base class for everything that can go wrong talking to the gateway."""

    kind = "error"
    may_exist = False
    advice = _l("Try again in a few minutes. If it keeps happening, contact your Capillary administrator.")

    def __init__(self, message: str, *, status: int | None = None, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail


class GatewayUnreachable(GatewayError):
    """No connection could be made: nothing was sent."""

    kind = "unreachable"
    advice = _l("Check the network or try again shortly; nothing was created in Capillary.")


class GatewayTimeout(GatewayError):
    """The request was sent but no answer came in time: the outcome is unknown."""

    kind = "timeout"
    may_exist = True
    advice = _l(
        "The request may or may not exist in Capillary. Do not send it again yet: the app "
        "checks Capillary's request list and will match it or offer a resend."
    )


class GatewayConnectionLost(GatewayTimeout):
    """The connection broke after the request was sent: the outcome is unknown."""

    kind = "connection_lost"


class GatewayRejected(GatewayError):
    """The gateway answered 4xx: it refused the request, so nothing was created."""

    kind = "rejected"
    advice = _l("Correct the request and submit it again.")


class TokenRejected(GatewayRejected):
    """401: the X-CAP-UI-AUTH-TOKEN (or gateway credentials) are invalid or expired."""

    kind = "token_rejected"
    advice = _l("Your Capillary sign-in token is invalid or expired: renew it, then retry.")


class AccessDenied(GatewayRejected):
    """403: the Capillary user lacks the needed access (CanMakeRequest / CanCheckRequest)."""

    kind = "access_denied"
    advice = _l("Ask Capillary's access team for the needed access (CanMakeRequest or CanCheckRequest).")


class NotFound(GatewayRejected):
    """404: the gateway does not know that request or path."""

    kind = "not_found"
    advice = _l("Check the request ID and the CAP_GATEWAY_URL setting.")


class RateLimited(GatewayRejected):
    """429: too many requests; ``retry_after`` seconds (when given) says when to try again."""

    kind = "rate_limited"
    advice = _l("Capillary is limiting requests: wait a minute, then retry.")

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class GatewayServerError(GatewayError):
    """5xx: the gateway failed while handling the request; it may have been created."""

    kind = "server_error"
    may_exist = True
    advice = _l(
        "Capillary had a problem. The request may or may not exist: the app will check "
        "Capillary's request list before offering a resend."
    )


class GatewayUnavailable(GatewayServerError):
    """503: the gateway refused service before handling the request."""

    kind = "unavailable"
    may_exist = False
    advice = _l("Capillary is temporarily unavailable; nothing was created. Try again in a few minutes.")


class UnreadableResponse(GatewayError):
    """The answer was not the documented JSON (not JSON, or no ``data``)."""

    kind = "unreadable"
    may_exist = True
    advice = _l(
        "The answer could not be read, so the request may or may not exist in Capillary. "
        "The app will check Capillary's request list before offering a resend."
    )
