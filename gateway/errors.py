"""Typed gateway failures: a ``kind``, the facts (HTTP status, Capillary's code and own words), an
English message for logs and records, and whether the request may exist.

The package knows no Flask: what a person should *do* about each kind (and each documented
code) is worded, and translated, by the app (services/lifecycle/wording.py).

``may_exist`` drives the record's state after a failed create: ``False`` means the gateway
surely did not create the request (``failed_to_submit``); ``True`` means it may have been
created and the outcome must be reconciled (``unknown``).

Capillary's request-workflow error codes 2001–2030 (docs/CAPILLARY_API.md §1.5) come with no
documented HTTP status, so a documented code decides the kind whatever the status
(:data:`CODE_KINDS`); an unknown code keeps the kind of its HTTP status, code attached.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base class for everything that can go wrong talking to the gateway."""

    kind = "error"
    may_exist = False

    def __init__(self, message: str, *, status: int | None = None, detail: str | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail
        self.code = code  # Capillary's error code as text (e.g. "2008"), when its body gave one


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
    """401 or code 2013: the X-CAP-UI-AUTH-TOKEN (or gateway credentials) are invalid or expired."""

    kind = "token_rejected"


class GatewayCredentialsRejected(GatewayRejected):
    """Capillary refused the deployment's gateway credentials (the OAuth key and secret): not a person's token."""

    kind = "gateway_credentials"


class AccessDenied(GatewayRejected):
    """403 or code 2001: the Capillary user lacks the needed access (CanMakeRequest / CanCheckRequest)."""

    kind = "access_denied"


class NotFound(GatewayRejected):
    """404, or code 2007 (wrong request ID or action) / 2021 (no such workflow, or inactive)."""

    kind = "not_found"


class AlreadyDecided(GatewayRejected):
    """Code 2002: the workflow was already completed by a user; a decision must not be sent again."""

    kind = "already_decided"
    CODE = "2002"


class InvalidPayload(GatewayRejected):
    """Codes 2008, 2011, 2012, 2014, 2015, 2022: Capillary refused what the app sent as invalid."""

    kind = "invalid_payload"


class UnsupportedType(GatewayRejected):
    """Code 2009: the request type is not supported (not enabled for this org)."""

    kind = "unsupported_type"


class OrgHeaderRejected(GatewayRejected):
    """Codes 2005, 2026: the organisation header is missing or invalid (the CAP_ORG_ID setting)."""

    kind = "org_header"


class WorkflowMisconfigured(GatewayRejected):
    """Codes 2018–2020, 2023, 2024, 2027–2030: Capillary's workflow set-up is broken (its support fixes it)."""

    kind = "misconfigured"


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


# Capillary's documented request-workflow codes (docs/CAPILLARY_API.md §1.5) and the kind each
# becomes. Each is a refusal, so none leaves a request behind (the app's reading: Capillary
# documents no status or body for them).
CODE_KINDS: dict[str, type[GatewayError]] = {
    "2001": AccessDenied,
    "2002": AlreadyDecided,
    "2005": OrgHeaderRejected,
    "2007": NotFound,
    "2008": InvalidPayload,
    "2009": UnsupportedType,
    "2011": InvalidPayload,
    "2012": InvalidPayload,
    "2013": TokenRejected,
    "2014": InvalidPayload,
    "2015": InvalidPayload,
    "2018": WorkflowMisconfigured,
    "2019": WorkflowMisconfigured,
    "2020": WorkflowMisconfigured,
    "2021": NotFound,
    "2022": InvalidPayload,
    "2023": WorkflowMisconfigured,
    "2024": WorkflowMisconfigured,
    "2026": OrgHeaderRejected,
    "2027": WorkflowMisconfigured,
    "2028": WorkflowMisconfigured,
    "2029": WorkflowMisconfigured,
    "2030": WorkflowMisconfigured,
}
DOCUMENTED_CODES = tuple(CODE_KINDS)

# Kinds that are the deployment's problem, not the person's: reported to administrators.
ADMIN_KINDS = frozenset({"misconfigured", "org_header", "unsupported_type", "gateway_credentials"})
