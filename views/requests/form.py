"""The request form: fill it in, review exactly what will be sent, then store and send it."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

import gateway_setup
from extensions import db
from forms import StatusChangeForm
from gateway.auth import MASKED
from gateway.payload import mask_secrets
from models import TrackedRequest
from services.lifecycle.submission import build_for_sending, find_by_key, submit
from services.lifecycle.wording import why_not_done
from services.people import identity, permissions
from views import access, converters, form_pages
from views.requests.status import pretty_json


def _form_page(form: StatusChangeForm, status: int = 200, expired: bool = False,
               source: TrackedRequest | None = None):
    """The request form; a maker's store fields are filled from (and locked to) their stores.

    ``source``: the earlier request the form was filled from ("Fix and submit again").
    """
    permissions.prefill(form, current_user)
    return render_template("requests/new.html", form=form, form_expired=expired, source=source,
                           source_problem=why_not_done(source) if source is not None else None,
                           store_hint=permissions.store_hint(current_user)), status


def _valid(form: StatusChangeForm) -> bool:
    # The store scope is checked here, on the server, whatever the page showed.
    return form.validate(extra_validators=permissions.validators(current_user))


@form_pages.register("requests.review", "requests.create")
def _form_again(formdata, notice: str, args: dict):
    """Show the form again with what was typed (after an expired page or a new sign-in)."""
    return _form_page(StatusChangeForm(formdata=formdata), expired=True)[0]


def index():
    """Send people to the first page their roles open (the request form for makers and agents)."""
    return redirect(access.home_url(current_user))


def new():
    """Show an empty form, or one filled from an earlier request (``?from=<id>``)."""
    form = StatusChangeForm(formdata=None)
    source_id = request.args.get("from", type=converters.record_id)
    if source_id is not None:
        previous = db.session.get(TrackedRequest, source_id)
        if previous is None or not permissions.can_view(current_user, previous):
            abort(404)
        # A new submission with a new key, never a resend of the earlier one.
        form = StatusChangeForm(formdata=None, data=previous.form_values())
        return _form_page(form, source=previous)
    return _form_page(form)


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
    record, _sent = submit(form.status_change(), form.submission_key.data, actor=access.acting_person())
    return redirect(url_for("requests.show", pk=record.id), 303)


def _preview(form: StatusChangeForm) -> dict:
    """What the review page shows: the target, the headers and the JSON body, secrets masked."""
    change = form.status_change()
    payload = build_for_sending(change)
    method, target, headers = gateway_setup.gateway_client().preview_create(payload)
    hidden = _("•••••• (hidden)")
    return {
        "change": change,
        "method": method,
        "target_url": target,
        "headers": {name: hidden if value == MASKED else value for name, value in headers.items()},
        "payload_json": pretty_json(mask_secrets(payload)),
    }
