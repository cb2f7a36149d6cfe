"""Request states in plain words: what each means and what a person can do about it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StateText:
    """How one state is shown: a short badge text, a sentence, and a badge tone."""

    badge: str
    meaning: str
    tone: str  # neutral | waiting | good | bad | warn


STATES = {
    "sending": StateText("Sending", "Stored in the app and being sent to Capillary.", "neutral"),
    "failed_to_submit": StateText(
        "Not submitted", "Capillary did not create this request. Nothing will happen to the customer.", "bad"
    ),
    "unknown": StateText(
        "Outcome unknown",
        "The request was sent but no clear answer came back: it may or may not exist in Capillary.",
        "warn",
    ),
    "not_created": StateText(
        "Not created in Capillary",
        "The request was never found in Capillary's request list, so it was not created. You can resend it.",
        "bad",
    ),
    "AdminTask": StateText("Waiting for approval", "Waiting for a checker's approval in Capillary.", "waiting"),
    "approved": StateText("Approved", "A checker approved it and Capillary applied the status change.", "good"),
    "rejected": StateText("Rejected", "A checker rejected it. The customer's status was not changed.", "bad"),
    "failed": StateText(
        "Failed", "Approved, but Capillary could not apply the change to the customer.", "bad"
    ),
}


def describe(state: str) -> StateText:
    """Return the plain-words description of ``state`` (unknown states shown as they are)."""
    return STATES.get(state) or StateText(state, f"Capillary reports the state '{state}'.", "neutral")
