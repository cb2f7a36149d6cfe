"""A request's state and outcome in plain words: what each means and what a person can do.

States are the app's own (sending, unknown, …) and Capillary's (AdminTask, approved, …). A
decided request's outcome reads ``details`` as the gateway reports it (docs/CAPILLARY_API.md §2.3, §2.4):
the decision in ``AdminTask-Payload``, the downstream Update Customer Status call in
``IntouchAPITask_Output`` (HTTP status, headers as lists, body with the v2 ``errors`` envelope).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class StateText:
    """How one state is shown: a short badge text, a sentence, and a badge tone."""

    badge: str
    meaning: str
    tone: str  # neutral | waiting | good | bad | warn


# The words are lazy (translated when shown); describe() hands out plain strings.
STATES = {
    "sending": StateText(_l("Sending"), _l("Stored in the app and being sent to Capillary."), "neutral"),
    "failed_to_submit": StateText(
        _l("Not submitted"), _l("Capillary did not create this request. Nothing will happen to the customer."), "bad"
    ),
    "unknown": StateText(
        _l("Outcome unknown"),
        _l("The request was sent but no clear answer came back: it may or may not exist in Capillary."),
        "warn",
    ),
    "not_created": StateText(
        _l("Not created in Capillary"),
        _l("The request was never found in Capillary's request list, so it was not created. You can resend it."),
        "bad",
    ),
    "AdminTask": StateText(_l("Waiting for approval"), _l("Waiting for a checker's approval in Capillary."), "waiting"),
    "approved": StateText(
        _l("Approved"), _l("A checker approved it and Capillary applied the status change."), "good"
    ),
    "rejected": StateText(
        _l("Rejected"), _l("A checker rejected it. The customer's status was not changed."), "bad"
    ),
    "failed": StateText(
        _l("Failed"), _l("Approved, but Capillary could not apply the change to the customer."), "bad"
    ),
}


def describe(state: str) -> StateText:
    """Return the plain-words description of ``state`` (unknown states shown as they are).

    The words are plain strings in the current request's language (English outside a request).
    """
    known = STATES.get(state)
    if known is None:
        return StateText(state, _("Capillary reports the state '%(state)s'.", state=state), "neutral")
    return replace(known, badge=str(known.badge), meaning=str(known.meaning))

# -- outcomes ------------------------------------------------------------------------------------

# Intouch error codes of the Update Customer Status API (§5), in words a store manager can act on.
ERROR_WORDS = {
    "8015": _l("Customer not found: no customer in Capillary has this identifier."),
    "8013": _l("Invalid identifier: Capillary could not look the customer up with the identifier given."),
    "8003": _l("Invalid source: Capillary does not accept the source sent with the change."),
    "UPDATECUSTOMERSTATUS_1032": _l(
        "Status change blocked: the customer is deleted or pending deletion, and such customers "
        "cannot be changed through this API."
    ),
}


@dataclass(frozen=True)
class Outcome:
    """What became of a request, ready to show."""

    decision: str | None = None  # approved | rejected (None: no checker decision recorded)
    decision_message: str | None = None
    auto_approved: bool = False  # approved with no checker decision (§6 auto-approval)
    executed: bool = False  # the Intouch task ran (IntouchAPITask_Output present)
    http_status: int | None = None
    succeeded: bool | None = None
    error_code: str | None = None
    error_message: str | None = None  # as Capillary worded it
    words: str = ""  # the outcome in plain words, in the request's language (see updates.note_for)

    @property
    def decision_text(self) -> str:
        """The decision as a short phrase, e.g. "Approved"."""
        if self.decision == "approved":
            return _("Approved")
        if self.decision == "rejected":
            return _("Rejected")
        return ""


def describe_error(code, message: str | None = None) -> str:
    """Turn an Intouch error code (and Capillary's message) into plain words (the request's language)."""
    known = ERROR_WORDS.get(str(code))
    if known:
        return str(known)
    if message:
        return _("Capillary's customer API refused the change (code %(code)s: %(message)s).",
                 code=code, message=message)
    return _("Capillary's customer API refused the change (code %(code)s).", code=code)


def outcome_of(state: str, details: dict | None) -> Outcome:
    """Read ``details`` of a request in ``state`` into an :class:`Outcome`."""
    details = details if isinstance(details, dict) else {}
    admin = details.get("AdminTask-Payload")
    admin = admin if isinstance(admin, dict) else {}
    decision = admin.get("actionDecision") or details.get("AdminTask_Output")
    decision = decision if decision in ("approved", "rejected") else None
    message = admin.get("actionMessage") if isinstance(admin.get("actionMessage"), str) else None
    output = details.get("IntouchAPITask_Output")
    fields = _read_output(output) if isinstance(output, dict) else {}
    auto = state in ("approved", "failed") and decision is None and "IntouchAPITask_Output" in details
    outcome = Outcome(decision=decision, decision_message=message, auto_approved=auto,
                      executed=isinstance(output, dict), **fields)
    return _with_words(state, outcome)


def _read_output(output: dict) -> dict:
    headers, body = output.get("headers"), output.get("body")
    headers = headers if isinstance(headers, dict) else {}
    body = body if isinstance(body, dict) else {}
    status = output.get("status")
    http_status = int(status) if isinstance(status, (int, float)) and not isinstance(status, bool) else None
    code = message = None
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code, message = errors[0].get("code"), errors[0].get("message")
    header_code = _first(headers.get("status_code"))
    if code is None and header_code and header_code not in ("200", "201"):
        code = header_code  # e.g. 744 with HTTP 200 (§2.4's points-redemption example)
    failed_flag = _first(headers.get("fail")) == "1" or _first(headers.get("success")) == "0"
    succeeded = not failed_flag and code is None and (http_status is None or http_status < 400)
    return {
        "http_status": http_status,
        "succeeded": succeeded,
        "error_code": str(code) if code is not None else None,
        "error_message": message if isinstance(message, str) else None,
    }


def _first(value) -> str | None:
    if isinstance(value, list) and value:
        return str(value[0])
    return str(value) if isinstance(value, (str, int)) else None


def _with_words(state: str, outcome: Outcome) -> Outcome:
    if state == "rejected":
        words = _("A checker rejected the request; the customer's status was not changed.")
    elif state == "failed":
        reason = describe_error(outcome.error_code, outcome.error_message) if outcome.error_code else (
            _("Capillary's customer API answered HTTP %(status)s.", status=outcome.http_status)
            if outcome.http_status else _("Capillary did not say why."))
        words = _("Approved, but Capillary could not apply the change. %(reason)s", reason=reason)
    elif state == "approved":
        words = _("Capillary changed the customer's status.") if outcome.succeeded is not False else (
            _("Approved; Capillary reported a problem applying it."))
    else:
        words = ""
    return replace(outcome, words=words)


# -- gateway failures -----------------------------------------------------------------------------

# What a person should do after a gateway failure, by the failure's kind (gateway/errors.py).
ADVICE = {
    "error": _l("Try again in a few minutes. If it keeps happening, contact your Capillary administrator."),
    "unreachable": _l("Check the network or try again shortly; nothing was created in Capillary."),
    "timeout": _l(
        "The request may or may not exist in Capillary. Do not send it again yet: the app "
        "checks Capillary's request list and will match it or offer a resend."
    ),
    "rejected": _l("Correct the request and submit it again."),
    "token_rejected": _l("Your Capillary sign-in token is invalid or expired: renew it, then retry."),
    "access_denied": _l("Ask Capillary's access team for the needed access (CanMakeRequest or CanCheckRequest)."),
    "not_found": _l("Check the request ID and the CAP_GATEWAY_URL setting."),
    "rate_limited": _l("Capillary is limiting requests: wait a minute, then retry."),
    "server_error": _l(
        "Capillary had a problem. The request may or may not exist: the app will check "
        "Capillary's request list before offering a resend."
    ),
    "unavailable": _l("Capillary is temporarily unavailable; nothing was created. Try again in a few minutes."),
    "unreadable": _l(
        "The answer could not be read, so the request may or may not exist in Capillary. "
        "The app will check Capillary's request list before offering a resend."
    ),
}


ADVICE["connection_lost"] = ADVICE["timeout"]  # the answer was lost the same way


def advice_for(kind: str | None) -> str:
    """Return what a person should do after a gateway failure of ``kind`` (the request's language)."""
    return str(ADVICE.get(kind or "", ADVICE["error"]))
