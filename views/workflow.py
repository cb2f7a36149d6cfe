"""Submit a status change (form → review → send) and look at tracked requests."""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from extensions import db
from forms import StatusChangeForm
from gateway.payload import mask_secrets
from models import TrackedRequest
from services import gateway_setup, identity, store_scope
from services.actor import current_actor
from services.refresh import refresh
from services.submission import build_for_sending, find_by_key, submit
from views import access, converters, form_pages
from views.status import status_context, viewable_record

bp = Blueprint("requests", __name__)


def _form_page(form: StatusChangeForm, status: int = 200, expired: bool = False):
    """The request form; a maker's store fields are filled from (and locked to) their stores."""
    store_scope.prefill(form, current_user)
    return render_template("requests/new.html", form=form, form_expired=expired,
                           store_hint=store_scope.store_hint(current_user)), status


def _valid(form: StatusChangeForm) -> bool:
    # The store scope is checked here, on the server, whatever the page showed.
    return form.validate(extra_validators=store_scope.validators(current_user))


@form_pages.register("requests.review", "requests.create")
def _form_again(formdata, notice: str, args: dict):
    """Show the form again with what was typed (after an expired page or a new sign-in)."""
    return _form_page(StatusChangeForm(formdata=formdata), expired=True)[0]


@bp.get("/")
def index():
    """Send people to the first page their roles open (the request form for makers and agents)."""
    return redirect(access.home_url(current_user))


@bp.get("/requests/new")
def new():
    """Show an empty form, or one filled from an earlier request (``?from=<id>``)."""
    form = StatusChangeForm(formdata=None)
    source_id = request.args.get("from", type=converters.record_id)
    if source_id is not None:
        previous = db.session.get(TrackedRequest, source_id)
        if previous is None or not store_scope.can_view(current_user, previous):
            abort(404)
        form = StatusChangeForm(formdata=None, data=previous.form_values())
    return _form_page(form)


@bp.post("/requests/new")
def review():
    """Check the form; when valid, show exactly what will be sent. ``action=edit`` goes back."""
    form = StatusChangeForm()
    if request.form.get("action") == "edit":
        return _form_page(form)
    if not _valid(form):
        return _form_page(form, 422)
    if identity.token_problem(current_user):
        return _form_page(form, 409)  # the page's banner says what is wrong with their token
    return render_template("requests/review.html", form=form, **_preview(form))


@bp.post("/requests")
def create():
    """Store the request, send it to Capillary, then redirect to its status page (PRG)."""
    form = StatusChangeForm()
    if not _valid(form):
        return _form_page(form, 422)
    existing = find_by_key(form.submission_key.data)
    if existing is not None:
        return redirect(url_for("requests.show", pk=existing.id), 303)
    if identity.token_problem(current_user):
        return _form_page(form, 409)  # nothing stored or sent; what was typed stays in the form
    record, _sent = submit(form.status_change(), form.submission_key.data, submitted_by=current_actor())
    return redirect(url_for("requests.show", pk=record.id), 303)


@bp.get("/requests/<int:pk>")
def show(pk: int):
    """Show one tracked request: its state in plain words, what was sent, its timeline.

    An open request is first refreshed from Capillary (at most once per few seconds).
    """
    record = viewable_record(pk)
    refresh(record)
    return render_template("requests/show.html", payload_json=_pretty(record.payload), **status_context(record))


def _preview(form: StatusChangeForm) -> dict:
    """What the review page shows: target URL, masked headers and the masked JSON body."""
    change = form.status_change()
    payload = build_for_sending(change)
    client = gateway_setup.gateway_client()
    target = client.create_url
    headers = {
        "X-CAP-API-AUTH-ORG-ID": current_app.config["CAP_ORG_ID"],
        "X-CAP-UI-AUTH-TOKEN": _("•••••• (hidden)"),
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    return {
        "change": change,
        "target_url": target,
        "headers": headers,
        "payload_json": _pretty(mask_secrets(payload)),
    }


def _pretty(document) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) if document is not None else ""


# The history (views/history.py) attaches its routes to ``bp``, so it is imported last, once
# ``bp`` exists: a deliberate circular import, as in Flask's "larger applications" pattern.
from views import history  # noqa: E402,F401
