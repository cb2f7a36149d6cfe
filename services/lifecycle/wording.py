"""A request's state and outcome in plain words: what each means and what a person can do.

States are the app's own (sending, unknown, …) and Capillary's (AdminTask, approved, …). A
decided request's outcome reads ``details`` as the gateway reports it (docs/CAPILLARY_API.md §2.3, §2.4):
the decision in ``AdminTask-Payload``, the downstream Update Customer Status call in
``IntouchAPITask_Output`` (HTTP status, headers as lists, a v2 or v1.1 body), and what Capillary's
support needs from it (the downstream request id, till, org, warnings).

Gateway failures are worded by Capillary's documented code when there is one (§1.5,
:data:`CODE_WORDS`), else by their kind (:data:`ADVICE`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache, lru_cache

from flask_babel import force_locale, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from gateway.envelope import error_facts, warning_texts
from gateway.errors import ADMIN_KINDS, CODE_KINDS
from i18n import N_


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
    "sandbox_gone": StateText(
        _l("No longer in the training sandbox"),
        _l("The training sandbox was reset or restarted and no longer knows this request. Nothing more will "
           "happen to it; make a new request to try again."),
        "neutral",
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
    # Kept per language: a status page describes a state for each open request it lists.
    return _described(state, str(get_locale() or "en"))


@lru_cache(maxsize=256)
def _described(state: str, _locale: str) -> StateText:
    known = STATES.get(state)
    if known is None:
        return StateText(state, _("Capillary reports the state '%(state)s'.", state=state), "neutral")
    return replace(known, badge=str(known.badge), meaning=str(known.meaning))

# Capillary's identifier types (gateway/payload.py IDENTIFIER_NAMES) as words inside a sentence.
IDENTIFIER_WORDS = {
    "mobile": _l("mobile number"),
    "email": _l("email address"),
    "externalId": _l("external ID"),
    "cardnumber": _l("card number"),
    "cardExternalId": _l("card external ID"),
    "wechat": _l("WeChat ID"),
    "fbid": _l("Facebook ID"),
    "martjackId": _l("Martjack ID"),
}


def identifier_words(name: str | None) -> str:
    """An identifier type in plain words (an unknown one as it is)."""
    return str(IDENTIFIER_WORDS.get(name or "", name or ""))


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
    "744": _l("Reference number already exists: Capillary already has a change with this reference."),
}
# Codes of a change Capillary could not apply because of the values sent: fixed by a new request.
FIXABLE_CODES = ("8015", "8013")
# The downstream call's id, in both spellings Capillary's examples use (§2.4); headers are case-insensitive.
DOWNSTREAM_ID_HEADERS = ("x-cap-request-id", "x-cap-requestid")


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
    # What Capillary's support asks for: the downstream call's id, and the till and org it ran as.
    downstream_request_id: str | None = None
    till: str | None = None
    org_id: str | None = None
    warnings: tuple[str, ...] = ()  # the downstream answer's warnings, as Capillary worded them

    @property
    def fixable(self) -> bool:
        """Capillary could not apply it because of what was typed (customer not found, invalid
        identifier, HTTP 400): the person can fix the values and submit a new request."""
        return self.succeeded is False and (self.error_code in FIXABLE_CODES or self.http_status == 400)

    @property
    def decision_text(self) -> str:
        """The decision as a short phrase, e.g. "Approved"."""
        if self.decision == "approved":
            return _("Approved")
        if self.decision == "rejected":
            return _("Rejected")
        return ""


def describe_error(code, message: str | None = None) -> str:
    """Turn an Intouch error code into plain words (the request's language).

    A code without words of its own is not put in the sentence: the code and Capillary's
    ``message`` show in the details for support (requests/_downstream.html).
    """
    known = ERROR_WORDS.get(str(code))
    if known:
        return str(known)
    return _("Capillary's customer API refused the change; the details for Capillary's support below say how.")


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
    """Read ``IntouchAPITask_Output``: status, headers (maps of lists) and a body of any documented shape."""
    headers = output.get("headers")
    header = {str(name).lower(): value for name, value in headers.items()} if isinstance(headers, dict) else {}
    body = output.get("body")
    status = output.get("status")
    http_status = int(status) if isinstance(status, (int, float)) and not isinstance(status, bool) else None
    # v2 errors[], v1.1 response.status / item_status, or a flat code and message (gateway/envelope.py).
    facts = error_facts(body) if isinstance(body, dict) else None
    code = facts.code if facts is not None else None
    message = facts.message if facts is not None else None
    header_code = _first(header.get("status_code"))
    if header_code and header_code not in ("200", "201") and (code is None or code in ("200", "201", "500")):
        # e.g. 744 with HTTP 200 (§2.4's failed example): the header names the item's own failure,
        # which says more than a body that only carries the batch's status.
        code = header_code
    failed_flag = _first(header.get("fail")) == "1" or _first(header.get("success")) == "0"
    succeeded = not failed_flag and code is None and (http_status is None or http_status < 400)
    return {
        "http_status": http_status,
        "succeeded": succeeded,
        "error_code": code,
        "error_message": message,
        "downstream_request_id": downstream_request_id({"IntouchAPITask_Output": output}),
        "till": _first(header.get("till")),
        "org_id": _first(header.get("org_id")),
        "warnings": tuple(warning_texts(body)) if isinstance(body, dict) else (),
    }


def downstream_request_id(details: dict | None) -> str | None:
    """Capillary's id of the downstream call in ``details`` (X-CAP-REQUEST-ID / X-Cap-RequestID), if any."""
    output = details.get("IntouchAPITask_Output") if isinstance(details, dict) else None
    headers = output.get("headers") if isinstance(output, dict) else None
    header = {str(name).lower(): value for name, value in headers.items()} if isinstance(headers, dict) else {}
    found = next((_first(header.get(name)) for name in DOWNSTREAM_ID_HEADERS if header.get(name)), None)
    return found[:128] if found else None


def _first(value) -> str | None:
    if isinstance(value, list) and value:
        return str(value[0])
    return str(value) if isinstance(value, (str, int)) else None


def _with_words(state: str, outcome: Outcome) -> Outcome:
    if state == "rejected":
        words = _("A checker rejected the request; the customer's status was not changed.")
    elif state == "failed":
        reason = describe_error(outcome.error_code, outcome.error_message) if (
            outcome.error_code or outcome.http_status) else _("Capillary did not say why.")
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
    "token_rejected": _l("You cannot fix this yourself: the app's administrators were told and must renew the "
                         "shared token. Try again later, or set a Capillary token of your own on your profile "
                         "page and retry."),
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
    "already_decided": _l("Nothing more to do: the request's page shows the decision Capillary recorded."),
    "invalid_payload": _l("Check the values, correct them and submit again. If they look right, "
                          "contact your Capillary administrator."),
    "unsupported_type": _l("Contact Capillary support to enable the customer status change workflow "
                           "for your organisation."),
    "org_header": _l("An administrator must check the CAP_ORG_ID setting; if it is right, contact Capillary support."),
    "misconfigured": _l("Capillary's workflow is misconfigured: contact Capillary support."),
    "gateway_credentials": _l("An administrator must check the gateway credentials (CAP_GATEWAY_AUTH and "
                              "the Basic or OAuth settings)."),
}


ADVICE["connection_lost"] = ADVICE["timeout"]  # the answer was lost the same way
# The person's own token could not be used: they can set a new one, or clear it to use the shared one.
ADVICE["own_token_rejected"] = ADVICE["own_token_expired"] = ADVICE["own_token_unreadable"] = _l(
    "Set a new token on your profile page (or clear it to use the shared token), then use Edit and retry.")
ADVICE["own_token_refused"] = ADVICE["own_token_rejected"]
# Whose token Capillary refused decides what the person can do, whatever code came with it (2013).
TOKEN_KINDS = ("token_rejected", "own_token_refused")
OWN_TOKEN_REFUSED = "own_token_refused"  # noqa: S105 - a failure kind, not a secret


def advice_for(kind: str | None) -> str:
    """Return what a person should do after a gateway failure of ``kind`` (the request's language)."""
    return str(ADVICE.get(kind or "", ADVICE["error"]))


@dataclass(frozen=True)
class CodeText:
    """One documented request-workflow code in words: what happened, and what to do if not the kind's advice."""

    what: str
    todo: str | None = None


# Capillary's request-workflow codes (docs/CAPILLARY_API.md §1.5) in plain words. The kind each
# maps to (gateway/errors.py CODE_KINDS) decides what the app does; these say it to people.
CODE_WORDS = {
    "2001": CodeText(_l("Capillary refused: the Capillary user this app acts as has no permission for this. "
                        "Submitting needs CanMakeRequest; approving or rejecting needs CanCheckRequest."),
                     ADVICE["access_denied"]),
    "2002": CodeText(_l("Capillary says this request was already decided by someone, so this decision was "
                        "not applied.")),
    "2005": CodeText(_l("Capillary refused the organisation ID this app sends: it is missing or invalid.")),
    "2007": CodeText(_l("Capillary does not know this request ID or action name."),
                     _l("Check that the request still exists in Capillary. If it does, contact your "
                        "Capillary administrator.")),
    "2008": CodeText(_l("Capillary refused the request as invalid.")),
    "2009": CodeText(_l("Capillary does not support this request type for your organisation.")),
    "2011": CodeText(_l("Capillary refused the field the app sorts its request list by."),
                     _l("This is a problem in how the app asks Capillary: tell your administrator.")),
    "2012": CodeText(_l("Capillary refused the order the app sorts its request list in."),
                     _l("This is a problem in how the app asks Capillary: tell your administrator.")),
    "2013": CodeText(_l("Capillary could not verify the credentials: the sign-in token is invalid or expired, "
                        "or Capillary's identity service failed."),
                     _l("Renew the Capillary sign-in token, then retry. If a new token fails too, contact "
                        "Capillary support.")),
    "2014": CodeText(_l("Capillary says the earning entity ID is missing or invalid.")),
    "2015": CodeText(_l("Capillary says the goodwill points are invalid.")),
    "2018": CodeText(_l("Capillary's workflow is misconfigured: its maximum goodwill points property is invalid.")),
    "2019": CodeText(_l("Capillary's workflow is misconfigured: its auto-approval property is invalid.")),
    "2020": CodeText(_l("Capillary's workflow is misconfigured: its configuration is not supported.")),
    "2021": CodeText(_l("Capillary has no workflow for this request, or the workflow is inactive."),
                     _l("Contact Capillary support: the customer status change workflow is missing or "
                        "inactive for your organisation.")),
    "2022": CodeText(_l("Capillary could not build the customer API address from the request."),
                     _l("Check the customer identifier and the source, correct them and submit again. If they "
                        "look right, an administrator must check the CAP_INTOUCH_HOST setting.")),
    "2023": CodeText(_l("Capillary's workflow is misconfigured: it could not read the headers of the task.")),
    "2024": CodeText(_l("Capillary's workflow is misconfigured: it could not be built or deployed.")),
    "2026": CodeText(_l("Capillary says the organisation header is missing.")),
    "2027": CodeText(_l("Capillary's workflow is misconfigured: the hostname is missing from its extension "
                        "properties.")),
    "2028": CodeText(_l("Capillary's workflow is misconfigured: the path is missing from its extension "
                        "properties.")),
    "2029": CodeText(_l("Capillary's workflow is misconfigured: the method is missing from its extension "
                        "properties.")),
    "2030": CodeText(_l("Capillary could not upload to its file service."),
                     _l("Try again later. If it keeps happening, contact Capillary support.")),
}


# What happened, by the failure's kind, when Capillary gave no documented code: the gateway's own
# message (exc.message) is an English record for logs; these are its words for people.
KIND_WHAT = {
    "error": _l("Something went wrong while talking to Capillary."),
    "unreachable": _l("The app could not connect to Capillary, so nothing was sent."),
    "timeout": _l("The request was sent, but Capillary's answer did not come in time."),
    "connection_lost": _l("The request was sent, but the connection to Capillary broke before its answer came."),
    "rejected": _l("Capillary refused the request as it was sent."),
    # A refused token: the person's own (marked rejected, own_token_refused) or else the shared one.
    "token_rejected": _l("Capillary refused the shared Capillary token this app uses for everyone (not a token "
                         "of yours): it is invalid or has expired."),
    "own_token_refused": _l("Capillary refused your own Capillary token: it is invalid or has expired."),
    "gateway_credentials": _l("Capillary refused this app's gateway credentials."),
    "access_denied": _l("Capillary refused: the Capillary user this app acts as lacks the access needed "
                        "(CanMakeRequest to submit, CanCheckRequest to approve)."),
    "not_found": _l("Capillary's gateway answered that it does not know this address or request."),
    "already_decided": _l("Capillary says this request was already decided by someone, so this decision was "
                          "not applied."),
    "invalid_payload": _l("Capillary refused the request as invalid."),
    "unsupported_type": _l("Capillary does not support this request type for your organisation."),
    "org_header": _l("Capillary refused the organisation ID this app sends: it is missing or invalid."),
    "misconfigured": _l("Capillary's workflow is misconfigured."),
    "rate_limited": _l("Capillary is limiting requests: too many were sent in a short time."),
    "server_error": _l("Capillary's gateway failed with an internal error."),
    "unavailable": _l("Capillary's gateway is temporarily unavailable."),
    "unreadable": _l("Capillary's answer could not be read."),
    "interrupted": _l("The worker sending this row stopped before Capillary's answer was recorded, so the "
                      "request may exist in Capillary."),
    "not_created": _l("The request was never found in Capillary's request list, so it was not created."),
    "own_token_rejected": _l("Nothing was sent: Capillary had already rejected your own Capillary token."),
    "own_token_expired": _l("Nothing was sent: your own Capillary token has expired."),
    "own_token_unreadable": _l("Nothing was sent: your own Capillary token can no longer be read (the app's key "
                               "changed)."),
}


def what_happened(kind: str | None, code: str | None = None) -> str:
    """Say in the request's language what a gateway failure of ``kind`` (and ``code``) was."""
    known = CODE_WORDS.get(code or "")
    if known is not None:
        return str(known.what)
    return str(KIND_WHAT.get(kind or "", KIND_WHAT["error"]))


def english_what(kind: str | None, code: str | None = None) -> str:
    """:func:`what_happened` as an English record, to store (shown translated by :func:`note_words`)."""
    with force_locale("en"):
        return what_happened(kind, code)


@dataclass(frozen=True)
class FailureText:
    """A gateway failure in words, ready to show (the request's language)."""

    what: str  # what happened
    todo: str  # what to do
    code: str | None = None  # Capillary's code, shown so support can be told it
    said: str | None = None  # Capillary's own message, verbatim (never translated)
    for_admins: bool = False  # a problem of the deployment: reported to administrators too
    documented: bool = False  # worded from Capillary's documented code (else from the kind)
    status: int | None = None  # the HTTP status Capillary answered, for the details line

    @property
    def details(self) -> str:
        """The codes, for support only: e.g. "HTTP 400 · error 8015" ("" when there are none)."""
        if self.status is not None and self.code is not None:
            return _("HTTP %(status)s · error %(code)s", status=self.status, code=self.code)
        if self.status is not None:
            return _("HTTP %(status)s", status=self.status)
        if self.code is not None:
            return _("error %(code)s", code=self.code)
        return ""

    @property
    def reference(self) -> str:
        """Capillary's code and own message, for support ("" unless the code is a documented one)."""
        if not self.documented:
            return ""
        if self.said:
            return _("Capillary answered code %(code)s: “%(message)s”.", code=self.code, message=self.said)
        return _("Capillary answered code %(code)s.", code=self.code)


def failure_text(kind: str | None, code: str | None = None, said: str | None = None,
                 fallback: str | None = None, status: int | None = None) -> FailureText:
    """Word a gateway failure: by Capillary's documented code when there is one, else by ``kind``.

    :param said: Capillary's own message, shown as it came (in a details line, never in prose).
    :param fallback: the recorded message of a failure with no kind (not a gateway error); a
        gateway error is always worded by its kind, never by its English record.
    :param status: the HTTP status Capillary answered, for the details line.
    """
    known = CODE_WORDS.get(code or "")
    if code is not None and known is not None:
        mapped = CODE_KINDS[code].kind
        todo = ADVICE[kind] if kind in TOKEN_KINDS else (known.todo or ADVICE.get(mapped, ADVICE["error"]))
        return FailureText(what=str(known.what), todo=str(todo),
                           code=code, said=said, for_admins=mapped in ADMIN_KINDS, documented=True,
                           status=status)
    what = fallback if (fallback and not kind) else what_happened(kind)
    return FailureText(what=what, todo=advice_for(kind), code=code, said=said,
                       for_admins=(kind or "") in ADMIN_KINDS, status=status)


# -- timeline notes ------------------------------------------------------------------------------

# A timeline note is stored as an English record (services/lifecycle: decisions, updates,
# submission, reconcile). Fixed notes are msgids themselves; notes with values follow one of
# these templates, and are translated by reading the values back out of the English record.
NOTE_TEMPLATES = (
    N_("Approved in this app by %(who)s: “%(message)s”. %(outcome)s"),
    N_("Approved in this app by %(who)s: “%(message)s”."),
    N_("Rejected in this app by %(who)s: “%(message)s”. %(outcome)s"),
    N_("Rejected in this app by %(who)s: “%(message)s”."),
    N_("Approved by a checker: “%(message)s”. %(outcome)s"),
    N_("Approved by a checker. %(outcome)s"),
    N_("Rejected by a checker: “%(message)s”."),
    N_("Rejected by a checker."),
    "Approved, but Capillary could not apply the change. %(reason)s",
    # Words of earlier releases, still in stored notes.
    N_("Capillary's customer API refused the change (code %(code)s: %(message)s)."),
    N_("Capillary's customer API refused the change (code %(code)s)."),
    N_("Capillary's customer API answered HTTP %(status)s."),
    "Capillary reports the state '%(state)s'.",
    N_("Capillary's request list could not be searched: %(problem)s"),
)


def not_found_words(num: int) -> str:
    """The note of a request never found in Capillary, ``num`` minutes after it was sent."""
    return ngettext("Not found in Capillary's request list %(num)s minute after it was sent: it was not created.",
                    "Not found in Capillary's request list %(num)s minutes after it was sent: it was not created.",
                    num)


# Plural notes, each a function of the count; stored in English (english_note), read back here.
NOTE_PLURALS = (not_found_words,)
_SENTINEL = 987654321


# Fixed notes written elsewhere as plain strings (marked here so the catalog has them).
FIXED_NOTES = (
    N_("Capillary did not create the request."),
    N_("Sent, but no clear answer came back: the app checks Capillary's request list."),
    N_("The worker sending this row stopped before Capillary's answer was recorded, so the request may exist "
       "in Capillary. It is looked up in Capillary's request list; it is never sent again automatically."),
    N_("a checker"),
)
# Values that are themselves notes (or fixed words) and are translated in turn.
_WORDED_VALUES = {"outcome", "reason", "who", "problem"}


@cache
def _note_pattern(template: str) -> re.Pattern:
    parts = re.split(r"%\((\w+)\)s", template)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
    return re.compile(regex, re.DOTALL)


def _known(text: str) -> str | None:
    """``text`` translated when it is a msgid (or a fixed word), else None."""
    words = _(text)
    return words if words != text else None


def note_words(note: str | None, _depth: int = 0) -> str:
    """Show a stored timeline note (an English record) in the page's language.

    A note that is no msgid and follows no template (e.g. a record written by an older
    release) is shown as it is.
    """
    if not note:
        return ""
    locale = get_locale()
    if locale is None or locale.language == "en":
        return note  # the record's own language
    known = _known(note)
    if known is not None or _depth > 3:
        return known if known is not None else note
    for template in NOTE_TEMPLATES:
        found = _note_pattern(template).fullmatch(note)
        if found is None:
            continue
        values = found.groupdict()
        for name in _WORDED_VALUES & values.keys():
            worded = note_words(values[name], _depth + 1)
            if name != "who" and worded == values[name] and _known(values[name]) is None:
                break  # not a note we know: try the next template
            values[name] = worded
        else:
            return _(template, **values)
    for words in NOTE_PLURALS:
        num = _english_count(words, note)
        if num is not None:
            return words(num)
    return note


def english_note(words, num: int) -> str:
    """The English record of the plural note ``words(num)`` (translated when shown by :func:`note_words`)."""
    with force_locale("en"):
        return words(num)


def _english_count(words, note: str) -> int | None:
    """The count of ``note`` when it is the English record of ``words(count)``, else None."""
    if note == english_note(words, 1):
        return 1
    plural = re.escape(english_note(words, _SENTINEL)).replace(str(_SENTINEL), r"(\d+)")
    found = re.fullmatch(plural, note)
    return int(found.group(1)) if found else None


def why_not_done(record) -> str | None:
    """Why Capillary did not create or apply ``record``, in words (None when nothing went wrong)."""
    if record.state == "failed":
        return outcome_of(record.state, record.details).words
    if record.error_kind:
        return failure_text(record.error_kind, record.error_code, record.error_detail).what
    return None
