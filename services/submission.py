"""Submit a status change: store it first, then send it, then record what happened.

The record is committed in state ``sending`` before the gateway is called, so a crash or a
lost answer never loses the submission; the unique submission key makes a double click or a
re-posted form produce one record and one gateway call.
"""

from __future__ import annotations

from flask import g
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import metrics
from extensions import db
from gateway.errors import GatewayError
from gateway.payload import StatusChange, build_payload, mask_secrets
from i18n import N_
from models import FAILED_TO_SUBMIT, SENDING, UNKNOWN, TrackedRequest, utcnow
from services import audit, gateway_setup, identity
from services.tracking import apply_info

_ACTING = object()


def build_for_sending(change: StatusChange) -> dict:
    """Return the exact body to send (it holds the inner Authorization: keep it in memory)."""
    from flask import current_app

    return build_payload(change, current_app.config["CAP_INTOUCH_HOST"], gateway_setup.intouch_authorization())


def find_by_key(submission_key: str) -> TrackedRequest | None:
    """Return the record already made for this submission key, if any."""
    return db.session.execute(
        select(TrackedRequest).where(TrackedRequest.submission_key == submission_key)
    ).scalar_one_or_none()


def new_record(change: StatusChange, submission_key: str, payload: dict) -> TrackedRequest:
    """Return an unsaved record for ``change`` in state ``sending`` (payload stored masked)."""
    record = TrackedRequest(
        submission_key=submission_key,
        till_id=change.tillId,
        store_id=change.storeId,
        zone_id=change.zoneId,
        concept_id=change.conceptId,
        identifier_name=change.identifierName,
        identifier_value=change.identifierValue,
        label=change.label,
        reason=change.reason,
        source=change.source,
        account_id=change.accountId,
        use_async=change.use_async,
        payload=mask_secrets(payload),
        state=SENDING,
    )
    record.record_state(SENDING, N_("Stored in the app; sending to Capillary."))
    return record


def submit(change: StatusChange, submission_key: str, *, actor=_ACTING,
           **record_fields) -> tuple[TrackedRequest, bool]:
    """Store and send one status change.

    :param actor: the User submitting (default: the signed-in person; None: nobody). The
        record remembers them, their own Capillary token is used, and the audit event is
        committed together with the record.
    :returns: ``(record, sent)``; ``sent`` is False when the key was already used, in which
        case the earlier record is returned and nothing is sent.
    """
    if actor is _ACTING:
        actor = identity.current_actor()
    existing = find_by_key(submission_key)
    if existing is not None:
        return existing, False
    payload = build_for_sending(change)
    record = new_record(change, submission_key, payload)
    for name, value in record_fields.items():
        setattr(record, name, value)
    record.submitter = actor
    db.session.add(record)
    try:
        db.session.flush()  # gives the id the audit event names
        audit.record("request.submitted", actor=actor, target=f"request {record.id}",
                     detail=f"store {record.store_id}: {record.identifier_name} → {record.label}")
        db.session.commit()
    except IntegrityError:
        # Another request with this key won the race: it owns the one gateway call.
        db.session.rollback()
        return find_by_key(submission_key), False
    send(record, payload)
    return record, True


def send(record: TrackedRequest, payload: dict) -> None:
    """Call the gateway for a stored record and commit the outcome."""
    # Tells the database error page that a failure from here on comes *after* sending.
    g.sent_to_gateway = True
    try:
        # The submitter's own token if they stored one, else the deployment's.
        token = gateway_setup.maker_token(record.submitter)
        info = gateway_setup.gateway_client().create_request(payload, token)
    except GatewayError as exc:
        record.error_kind = exc.kind
        record.error_message = exc.message
        if identity.note_gateway_error(exc, record.submitter):
            record.error_message += (" Your own Capillary token is now marked as rejected: set a new one "
                                     "on your profile page, then use Edit and retry.")
        record.record_state(UNKNOWN if exc.may_exist else FAILED_TO_SUBMIT, exc.message)
    else:
        apply_info(record, info, N_("Created in Capillary."))
        # The create answer is Capillary's word on the request as of now: it starts the
        # refresh clock, so the status page shown next does not ask Capillary again at once.
        record.last_polled_at = utcnow()
    db.session.commit()
    metrics.record_submission(record.state)
