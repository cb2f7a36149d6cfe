"""The checker's side: what waits for a decision, and approving or rejecting it exactly once.

Pending requests are read from the gateway's list (so requests made in Capillary's own UI
appear too, imported as read-only records). A decision is *claimed* in the database before
the PUT (§2) is sent: the claim is a row in ``decisions`` under a partial unique index on the
requestId, so a double click, two browsers or two app processes send one PUT at most.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import gateway_setup
from extensions import db
from gateway.errors import AccessDenied, AlreadyDecided, GatewayError, GatewayRejected
from models import Decision, TrackedRequest, User, utcnow
from models.approvals import DECISION_FAILED, DECISION_SENDING, DECISION_SENT, DECISION_UNKNOWN
from services.lifecycle.refresh import refresh
from services.lifecycle.updates import apply_update
from services.lifecycle.wording import OWN_TOKEN_REFUSED, describe, failure_text, outcome_of, what_happened
from services.people import audit, identity
from services.people.permissions import decision_refusal

log = logging.getLogger(__name__)

DECISIONS = ("approved", "rejected")
_AUDIT_ACTIONS = {"approved": "request.approved", "rejected": "request.rejected"}
MESSAGE_MAX = 500


class CallCancelled(Exception):
    """Raised by a ``gate`` given to :func:`decide` when the call must not start (a job stopping)."""


@dataclass
class DecisionResult:
    """What happened to a decision: ``ok`` (Capillary took it), ``unknown`` or ``refused``."""

    status: str
    message: str
    errors: dict[str, str] = field(default_factory=dict)  # form field -> message (nothing sent)


def check_decision(record: TrackedRequest, decision: str, message: str, *,
                   actor: User | None) -> DecisionResult | None:
    """Return why ``decision`` cannot be made now (nothing is sent), or None when it can."""
    errors = check_message(decision, message)
    if errors:
        return DecisionResult("refused", _("Check the decision and the message."), errors)
    blocked = why_not_decidable(record, actor=actor)
    return DecisionResult("refused", blocked) if blocked else None


def check_message(decision: str, message: str) -> dict[str, str]:
    """Return what is wrong with a decision and its message (form field -> words); empty when fine."""
    errors = {}
    if decision not in DECISIONS:
        errors["decision"] = _("Choose approve or reject.")
    text = (message or "").strip()
    if not text:
        errors["message"] = _("Enter a message for the maker: it is sent to Capillary with the decision.")
    elif len(text) > MESSAGE_MAX:
        errors["message"] = _("The message must be at most %(max)d characters (it has %(count)d).",
                              max=MESSAGE_MAX, count=len(text))
    elif any(not ch.isprintable() and ch not in "\n\r\t" for ch in text):
        errors["message"] = _("The message contains characters that cannot be sent (e.g. control characters).")
    return errors


def why_not_decidable(record: TrackedRequest, *, actor: User | None) -> str | None:
    """Say why ``actor`` cannot decide ``record`` now (who asks, its state, an earlier claim), or None."""
    refusal = decision_refusal(actor, record) if actor is not None else None
    if refusal:  # maker-checker: nobody decides a request they submitted
        return refusal
    if record.request_id is None:
        return _("This request has no Capillary request ID, so it cannot be decided.")
    if record.state != "AdminTask":
        return _("This request is no longer waiting for approval. Its state is now “%(state)s”.",
                 state=describe(record.state).badge)
    if capillary_says_decided(record):
        return _("Capillary says this request was already decided by someone (code 2002), so it cannot be "
                 "decided again. Its decision shows on the request's page as soon as Capillary's answer "
                 "can be read.")
    live = live_decision(record)
    return already_decided_text(live) if live is not None else None


def capillary_says_decided(record: TrackedRequest) -> bool:
    """Whether Capillary answered a decision on ``record`` with code 2002 (already decided): never send another."""
    if record.request_id is None:
        return False
    return db.session.scalar(
        select(Decision.id).where(Decision.tracked_pk == record.id, Decision.error_code == AlreadyDecided.CODE)
        .limit(1)
    ) is not None


def live_decision(record: TrackedRequest) -> Decision | None:
    """Return the decision already claimed or sent for ``record`` in this app, if any."""
    if record.request_id is None:
        return None
    return db.session.scalar(
        select(Decision).where(Decision.request_id == record.request_id, Decision.status != DECISION_FAILED)
    )


def already_decided_text(live: Decision) -> str:
    """Explain an existing claim in words."""
    who = live.decided_by or _("a checker")
    approve = live.decision == "approved"
    if live.status == DECISION_SENT:
        if approve:
            return _("This request was already approved by %(who)s in this app. Nothing was sent again.", who=who)
        return _("This request was already rejected by %(who)s in this app. Nothing was sent again.", who=who)
    if live.status == DECISION_UNKNOWN:
        if approve:
            return _("A decision to approve it by %(who)s was sent but no clear answer came back; check the "
                     "request's status before deciding again. Nothing was sent again.", who=who)
        return _("A decision to reject it by %(who)s was sent but no clear answer came back; check the "
                 "request's status before deciding again. Nothing was sent again.", who=who)
    if approve:
        return _("%(who)s is deciding this request right now (approve). Nothing was sent again.",
                 who=who.capitalize())
    return _("%(who)s is deciding this request right now (reject). Nothing was sent again.",
             who=who.capitalize())


def decide(record: TrackedRequest, decision: str, message: str, *, actor: User | None,
           gate: AbstractContextManager[object] | None = None) -> DecisionResult:
    """Approve or reject ``record`` with ``message``: claim, send one PUT, record the result.

    Commits. Never raises a gateway error: each failure comes back as a result in words.
    ``gate`` (a job's) is entered after the claim is committed and held around the PUT only,
    e.g. a slot of the job's concurrency and a rate-limit permit; if it raises
    :class:`CallCancelled` nothing was sent, the claim is removed and the exception goes on.
    """
    refused = check_decision(record, decision, message, actor=actor)
    if refused is not None:
        return refused
    message = message.strip()
    decided_by = actor.name if actor is not None else None
    claim = Decision(request_id=record.request_id, tracked_pk=record.id, decision=decision,
                     message=message, decided_by=decided_by, status=DECISION_SENDING)
    db.session.add(claim)
    # Read now: the commit expires the record, and apply_update re-reads it (locked) after the PUT.
    record_pk, request_id = record.id, record.request_id
    assert request_id is not None  # check_decision refuses a record without one
    try:
        db.session.commit()
    except IntegrityError:
        # Another click, browser or process claimed it first: it owns the one PUT.
        db.session.rollback()
        live = live_decision(record)
        return DecisionResult("refused", already_decided_text(live) if live else _("This request is being decided."))
    try:
        token = identity.checker_token(actor)
        with gate or nullcontext():
            info = gateway_setup.gateway_client().decide(request_id, decision, message, token)
    except CallCancelled:
        db.session.delete(claim)  # never sent: the request may be decided again
        db.session.commit()
        raise
    except GatewayError as exc:
        return _failed(record, claim, exc, actor)
    claim.status = DECISION_SENT
    audit.record(_AUDIT_ACTIONS[decision], actor=actor, target=f"request {record_pk}", detail=message[:300])
    verb = "Approved" if decision == "approved" else "Rejected"
    note = f"{verb} in this app by {decided_by or 'a checker'}: “{message}”."  # an English record
    if info.state in ("approved", "failed"):
        with force_locale("en"):
            note += " " + outcome_of(info.state, info.details).words
    apply_update(record, info, note)
    state = describe(record.state).badge.lower()  # before the commit expires the record (no re-read)
    db.session.commit()
    if decision == "approved":
        return DecisionResult("ok", _("Approved. Capillary now shows the request as %(state)s.", state=state))
    return DecisionResult("ok", _("Rejected. Capillary now shows the request as %(state)s.", state=state))


def _failed(record: TrackedRequest, claim: Decision, exc: GatewayError, actor: User | None) -> DecisionResult:
    claim.error_kind, claim.error_message, claim.error_code = exc.kind, exc.message, exc.code
    # A 401 or code 2013 to their own token; a deployment problem goes to administrators.
    rejected_own = identity.note_gateway_error(exc, actor, target=f"request {record.id}")
    if rejected_own:
        claim.error_kind = OWN_TOKEN_REFUSED  # their own token, not the shared one
    if exc.may_exist:
        # It may have been applied: keep the claim so nobody sends a second PUT; a refresh settles it.
        claim.status = DECISION_UNKNOWN
        audit.record(_AUDIT_ACTIONS[claim.decision], actor=actor, target=f"request {record.id}",
                     detail=f"outcome unknown: {claim.message}"[:300])
        db.session.commit()
        return DecisionResult(
            "unknown",
            _("Could not confirm the decision: %(error)s It may have reached Capillary; the status "
              "page checks and shows the outcome. Do not decide again until it does.",
              error=what_happened(exc.kind, exc.code)),
        )
    # Surely not applied: the claim is freed for another try (not after code 2002: see why_not_decidable).
    claim.status = DECISION_FAILED
    claim.updated_at = utcnow()
    db.session.commit()
    words = failure_text(claim.error_kind, exc.code, exc.detail, fallback=exc.message)
    # Whole sentences, each translated on its own, joined with spaces.
    text = " ".join(part for part in (_("Capillary did not take the decision: %(error)s", error=words.what),
                                      words.reference) if part)
    if rejected_own:
        text += " " + _("Your own Capillary token is now marked as rejected: set a new one on your profile.")
    if isinstance(exc, AccessDenied):
        text += " " + _("If you made this request yourself, another checker must decide it.")
    elif isinstance(exc, GatewayRejected):
        # Capillary refused it, e.g. decided meanwhile: our state is stale, so ask now, whatever the interval.
        refreshed = refresh(record, force=True)
        if refreshed.changed or isinstance(exc, AlreadyDecided):
            text += " " + _decided_words(record)
    if words.documented and not isinstance(exc, AlreadyDecided):
        text += " " + words.todo
    return DecisionResult("refused", text + " " + _("Nothing was changed."))


def _decided_words(record: TrackedRequest) -> str:
    """Say what the request is now, with the decision Capillary recorded when it shows one."""
    if record.state == "AdminTask":
        return _("Capillary's decision could not be read yet: the request's page shows it as soon as it can.")
    text = _("The request is now %(state)s.", state=describe(record.state).badge.lower())
    outcome = outcome_of(record.state, record.details)
    if outcome.decision_message:
        text += " " + _("The checker's message in Capillary: “%(message)s”.", message=outcome.decision_message)
    return text
