"""Submit a status change: store it first, then send it, then record what happened.

The record is committed in state ``sending`` before the gateway is called, so a crash or a
lost answer never loses the submission; the unique submission key makes a double click or a
re-posted form produce one record and one gateway call.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

import gateway_setup
import metrics
from extensions import db
from gateway.errors import GatewayError
from gateway.payload import StatusChange, build_payload, mask_secrets
from gateway.types import RequestInfo
from i18n import N_
from models import FAILED_TO_SUBMIT, NOT_CREATED, SENDING, UNKNOWN, TrackedRequest, User, utcnow
from services.lifecycle.adoption import RequestIdTaken, take_request_id
from services.lifecycle.updates import apply_update
from services.lifecycle.wording import OWN_TOKEN_REFUSED
from services.people import audit, identity, permissions

log = logging.getLogger(__name__)


def build_for_sending(change: StatusChange) -> dict:
    """Return the exact body to send (it holds the inner Authorization: keep it in memory)."""
    from flask import current_app

    return build_payload(change, current_app.config["CAP_INTOUCH_HOST"], gateway_setup.intouch_authorization())


# Built once: SQLAlchemy keys a statement object for its compiled cache only the first time
# (views/access._USER_BY_ID). Every submission runs it.
_BY_KEY = select(TrackedRequest).where(TrackedRequest.submission_key == bindparam("key"))


def find_by_key(submission_key: str) -> TrackedRequest | None:
    """Return the record already made for this submission key, if any."""
    return db.session.execute(_BY_KEY, {"key": submission_key}).scalar_one_or_none()


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


def submit(change: StatusChange, submission_key: str, *, actor: User | None, stored_note: str | None = None,
           **record_fields) -> tuple[TrackedRequest, bool]:
    """Store and send one status change.

    :param stored_note: the note of the first timeline event instead of the usual one.
    :param actor: the person submitting (None: nobody in particular, e.g. a script). The record
        remembers them, their own Capillary token is used, and the audit event is committed
        together with the record.
    :returns: ``(record, sent)``; ``sent`` is False when the key was already used, in which
        case the earlier record is returned and nothing is sent.
    :raises OutcomeNotRecorded: the request was sent but its answer could not be stored.
    """
    payload = build_for_sending(change)
    record = new_record(change, submission_key, payload)
    record.submitter = actor
    record.submitted_by = actor.name if actor is not None else None
    for name, value in record_fields.items():
        setattr(record, name, value)
    if stored_note:  # e.g. with the customer's status read before sending (services/lifecycle/verification.py)
        record.events[0].note = stored_note
    db.session.add(record)
    try:
        # A used key fails here (unique), without a look-up first: the form's view has just
        # looked, and the constraint is what holds against a double click anyway.
        db.session.flush()  # gives the id the audit event names
        audit.record("request.submitted", actor=actor, target=f"request {record.id}",
                     detail=f"store {record.store_id}: {record.identifier_name} → {record.label}")
        _commit_keeping_loaded()
    except IntegrityError:
        # Another request with this key won the race: it owns the one gateway call.
        db.session.rollback()
        earlier = find_by_key(submission_key)
        if earlier is None:
            raise  # not the key: some other constraint failed
        return earlier, False
    send(record, payload)
    return record, True


def _commit_keeping_loaded() -> None:
    """Commit without expiring what the session holds.

    The record, its first timeline event and the submitter were written or read by this very
    transaction, and nothing else changes a record while it is ``sending``: re-reading them
    before the call (as a commit's expiry would) only delays it. The answer is still applied to
    a freshly read, locked row (``updates.apply_update``).
    """
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


class OutcomeNotRecorded(Exception):
    """The request went to Capillary, but the app could not store the answer.

    The record stays ``sending`` in the database; reconciliation finds it in Capillary later.
    Pages must say it was sent (so nobody submits it again), not that nothing was sent.
    """

    def __init__(self, record_id: int):
        super().__init__(f"request {record_id}: sent, but the outcome could not be stored")
        self.record_id = record_id


def send(record: TrackedRequest, payload: dict) -> None:
    """Call the gateway for a stored record and commit the outcome.

    :raises OutcomeNotRecorded: the database failed after the call.
    """
    record_id = record.id  # still known if the session has to be rolled back
    try:
        # The submitter's own token if they stored one, else the deployment's.
        token = identity.maker_token(record.submitter)
        answer: RequestInfo | GatewayError = gateway_setup.gateway_client().create_request(payload, token)
    except GatewayError as exc:
        answer = exc
    try:
        state = store_outcome(record, answer, N_("Created in Capillary."), just_created=True)
    except (SQLAlchemyError, RequestIdTaken) as exc:
        # RequestIdTaken: another record of this app adopted the request by its values while this
        # one was presumed dead; a person has to look (logged), so it stays as sent, unrecorded.
        db.session.rollback()
        log.error("request %s: the outcome could not be stored: %s", record_id, exc)
        raise OutcomeNotRecorded(record_id) from exc
    metrics.record_submission(state)


def store_outcome(record: TrackedRequest, answer: RequestInfo | GatewayError, note: str,
                  also: Callable[[], None] | None = None, *, just_created: bool = False) -> str:
    """Record the gateway's answer to a create on ``record`` and commit, with ``also()`` in that transaction.

    Shared by single submissions and bulk rows. An importer's copy of the request, stored
    while the answer was on its way, is merged in (``adoption.take_request_id``); if the commit
    meets one stored after that looked, everything is rolled back and done once more.

    :param just_created: ``record`` was stored by this session for this one call (a single
        submission, whose request ends here): only its columns are re-read before the answer is
        applied, and it stays loaded after the commit (the redirect names its id).
    :returns: the record's state as committed.
    :raises SQLAlchemyError: the database failed (the record stays ``sending``).
    :raises RequestIdTaken: another of this app's records holds the requestId (nothing stored).
    """
    for attempt in (1, 2):
        try:
            if isinstance(answer, GatewayError):
                record_failure(record, answer)
            else:
                record_created(record, answer, note, just_created=just_created and attempt == 1)
            if also is not None:
                also()
            state = record.state
            if just_created:
                _commit_keeping_loaded()
            else:
                db.session.commit()
            return state
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable: the second attempt returns or raises")


def record_created(record: TrackedRequest, info: RequestInfo, note: str, *, just_created: bool = False) -> None:
    """Record Capillary's answer to a create on ``record`` (the caller commits).

    The record takes the requestId even when an importer's copy holds it (its history moves
    over), and the answer applies forward only: a copy a checker already decided stays decided.
    ``just_created``: see :func:`updates.apply_update`; not when a copy was merged (its
    timeline and decisions moved onto the record).
    """
    merged = take_request_id(record, info.requestId)
    apply_update(record, info, note, just_created=just_created and not merged)
    # The create answer is Capillary's word on the request as of now: it starts the refresh
    # clock, so the status page shown next does not ask Capillary again at once.
    record.last_polled_at = utcnow()


def record_failure(record: TrackedRequest, exc: GatewayError) -> None:
    """Record a failed create on ``record``: ``unknown`` when it may exist, else ``failed_to_submit``.

    Shared by single submissions and bulk rows. Capillary's code, message and HTTP status are
    kept so pages can word the failure in the reader's language. A 401 or code 2013 to the
    submitter's own token marks it rejected (and says so); a problem of the deployment is
    reported to administrators. The caller commits.
    """
    record.error_kind = exc.kind
    record.error_message = exc.message
    record.error_code = exc.code
    record.error_detail = exc.detail
    record.error_status = exc.status
    if identity.note_gateway_error(exc, record.submitter, target=f"request {record.id}"):
        record.error_kind = OWN_TOKEN_REFUSED  # their own token, not the shared one: pages say so
        record.error_message += (" Your own Capillary token is now marked as rejected: set a new one "
                                 "on your profile page, then use Edit and retry.")
    # The note is fixed words (translated when shown); the failure's facts are on the record.
    if exc.may_exist:
        record.record_state(UNKNOWN,
                            N_("Sent, but no clear answer came back: the app checks Capillary's request list."))
    else:
        record.record_state(FAILED_TO_SUBMIT, N_("Capillary did not create the request."))


# -- resending ------------------------------------------------------------------------------------


def resend_key(record: TrackedRequest) -> str:
    """The resend's submission key: new, but the same for every click on one record's button."""
    return hashlib.sha256(f"resend-of-{record.id}".encode()).hexdigest()[:32]


def resent_as(record: TrackedRequest) -> TrackedRequest | None:
    """Return the record that resent ``record``, if it was resent."""
    return db.session.scalar(select(TrackedRequest).where(TrackedRequest.resent_from_id == record.id))


def resend(record: TrackedRequest, *, actor: User | None) -> tuple[TrackedRequest, bool]:
    """Submit ``record``'s values again as a new request; return ``(new record, sent now)``.

    Only a request made in this app and found ``not_created`` can be resent. Clicking twice
    (or in two browsers) gives the same key, so one new record and one gateway call. The
    person resending becomes the new request's submitter.

    :raises ValueError: when ``record`` may not be resent.
    """
    if record.origin != "app" or record.state != NOT_CREATED:
        raise ValueError(_("Only a request that was not created in Capillary can be resent."))
    refusal = permissions.submit_refusal(actor, record.form_values()) if actor is not None else None
    if refusal:  # e.g. a maker since moved off the request's store
        raise ValueError(refusal)
    change = StatusChange(**record.form_values())
    return submit(change, resend_key(record), actor=actor if actor is not None else record.submitter,
                  resent_from_id=record.id)
