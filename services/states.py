"""Request states in plain words: what each means and what a person can do about it."""

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
