"""A request's status page: its state in plain words and timeline, live updates, "Refresh now",
resend, and choosing among matches found in Capillary."""

from __future__ import annotations

import json

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload, lazyload

from extensions import db
from gateway.errors import GatewayError
from models import NOT_CREATED, Decision, TrackedRequest, User
from models.users import TokenState
from services import customers
from services.lifecycle import reconcile, verification
from services.lifecycle.refresh import is_live, refresh
from services.lifecycle.submission import resend, resent_as
from services.lifecycle.wording import OWN_TOKEN_REFUSED, describe, failure_text, outcome_of, what_happened
from services.people import permissions
from views.access import acting_person, passive
from views.requests.fragments import live_html, timeline_html

# What a status page loads with the record, built once (loader options are immutable and reusable).
# The submitter is shown by name only: their roles and stores are not loaded with them. The
# timeline is read only when drawn (a settled request's is kept drawn: views/requests/fragments.py).
_PAGE_LOADING = (
    joinedload(TrackedRequest.submitter).options(lazyload(User.role_rows), lazyload(User.stores)),
)
# Built once, as views/access._USER_BY_ID: every status page and live poll runs them.
_RECORD_FOR_PAGE = select(TrackedRequest).options(*_PAGE_LOADING).where(TrackedRequest.id == bindparam("pk"))
_DECISIONS = select(Decision).where(Decision.tracked_pk == bindparam("pk")).order_by(Decision.id.desc())


def page_context(record: TrackedRequest) -> dict:
    """What the status page shows around its live fragment, and the fragment itself."""
    return {
        "record": record,
        "text": describe(record.state),
        "resent_from": db.session.get(TrackedRequest, record.resent_from_id) if record.resent_from_id else None,
        "poll_seconds": current_app.config["CAP_STATUS_POLL_SECONDS"],
        "live_html": live_html(record, lambda: status_context(record)),
    }


def status_context(record: TrackedRequest) -> dict:
    """What the live fragment (requests/_live.html) shows about ``record``."""
    decisions = db.session.scalars(_DECISIONS, {"pk": record.id}).all()
    return {
        "record": record,
        "text": describe(record.state),
        "outcome": outcome_of(record.state, record.details),
        "failure": failure_of(record),
        "decision_failures": {d.id: failure_text(d.error_kind, d.error_code, fallback=d.error_message)
                              for d in decisions if d.error_kind},
        "live": is_live(record),
        "candidates": reconcile.candidates_for(record) if record.request_id is None else [],
        "decisions": decisions,
        # Only a request found not created can be resent, and that state is final: no other
        # request can have been resent, so its page does not look.
        "resent_as": resent_as(record) if record.state == NOT_CREATED else None,
        "poll_seconds": current_app.config["CAP_STATUS_POLL_SECONDS"],
        "timeline": timeline_html(record),
    }


def failure_of(record: TrackedRequest):
    """The failed create of ``record`` in words (by Capillary's code when documented), or None."""
    if not (record.error_kind or record.error_message):
        return None
    failure = failure_text(record.error_kind, record.error_code, record.error_detail,
                           fallback=record.error_message, status=record.error_status)
    own_marked = (record.error_kind == OWN_TOKEN_REFUSED and record.submitter is not None
                  and record.submitter.token_state() == TokenState.REJECTED)
    return {"text": failure, "own_token_marked": own_marked}


def viewable_record(pk: int) -> TrackedRequest:
    """Load request ``pk`` with what its page shows (submitter, timeline), or answer 404.

    Another store's request is "not found" to a maker, not "forbidden": no probing of ids.
    """
    record = db.session.execute(_RECORD_FOR_PAGE, {"pk": pk}).scalar_one_or_none()
    if record is None or not permissions.can_view(current_user, record):
        abort(404)
    return record


def show(pk: int):
    """Show one tracked request: its state in plain words, what was sent, its timeline.

    An open request is first refreshed from Capillary (at most once per few seconds).
    """
    record = viewable_record(pk)
    refresh(record)
    verification.verify(record)  # once approved: does the status log show the change? (§10)
    card = customers.card(record.identifier_name, record.identifier_value, record.source or "INSTORE",
                          record.account_id or "", exclude_pk=record.id)
    return render_template("requests/show.html", payload_json=pretty_json(record.payload), card=card,
                           **page_context(record))


@passive  # a background poll: the idle timeout must not count it as the person being active
def live(pk: int):
    """Return the status fragment (state, outcome, timeline), refreshed if due; polled by status.js."""
    record = viewable_record(pk)
    refresh(record)
    verification.verify(record)
    response = current_app.make_response(live_html(record, lambda: status_context(record)))
    response.headers["Cache-Control"] = "no-store"
    return response



def refresh_now(pk: int):
    """Ask Capillary now (within the per-request poll limit), then show the status page."""
    record = viewable_record(pk)
    result = refresh(record)
    if result.error:
        flash(_("Could not refresh: %(problem)s The last known state is shown.", problem=result.error), "error")
    else:
        flash(result.message, "good" if result.changed else "info")
    return redirect(url_for("requests.show", pk=pk), 303)


def resend_request(pk: int):
    """Resend a request Capillary never created, with the same values, and show the new one."""
    record = viewable_record(pk)
    try:
        new, sent = resend(record, actor=acting_person())
    except ValueError as exc:
        flash(str(exc), "error")
        return redirect(url_for("requests.show", pk=pk), 303)
    flash(_("Resent as a new request.") if sent else _("This request was already resent; here is the new one."),
          "info")
    return redirect(url_for("requests.show", pk=new.id), 303)


def choose_match(pk: int):
    """Adopt the Capillary request a person chose among several matches."""
    record = viewable_record(pk)
    try:
        flash(reconcile.choose(record, request.form.get("request_id", "")), "good")
    except ValueError as exc:
        flash(str(exc), "error")
    except GatewayError as exc:
        flash(_("Could not check that request in Capillary: %(problem)s Nothing was changed.",
                problem=what_happened(exc.kind, exc.code)), "error")
    return redirect(url_for("requests.show", pk=pk), 303)


def pretty_json(document) -> str:
    """``document`` as indented JSON for a page (empty when there is none)."""
    return json.dumps(document, indent=2, ensure_ascii=False) if document is not None else ""
