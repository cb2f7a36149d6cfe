"""The request form: fill it in, review exactly what will be sent, then store and send it."""

from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

import gateway_setup
from extensions import db
from forms import StatusChangeForm
from forms import validators as rules
from gateway.auth import MASKED
from gateway.payload import mask_secrets
from models import TrackedRequest
from services import customers
from services.lifecycle import verification
from services.lifecycle.submission import build_for_sending, find_by_key, submit
from services.lifecycle.wording import why_not_done
from services.people import identity, permissions
from views import access, converters, form_pages
from views.requests.status import pretty_json


def _form_page(form: StatusChangeForm, status: int = 200, expired: bool = False, card=None,
               source: TrackedRequest | None = None):
    """The request form; a maker's store fields are filled from (and locked to) their stores.

    ``card``: the customer found with "Find customer"; ``source``: the earlier request the form
    was filled from ("Fix and submit again").
    """
    permissions.prefill(form, current_user)
    return render_template("requests/new.html", form=form, form_expired=expired, card=card,
                           lookup_on=customers.enabled(), source=source,
                           source_problem=why_not_done(source) if source is not None else None,
                           store_hint=permissions.store_hint(current_user)), status


def customer_helpers() -> dict:
    """Template helpers of the customer card (every page that includes it)."""
    return {"customer_time": customers.capillary_time,
            "bdi": lambda text: Markup("<bdi>{}</bdi>").format(text),
            "can_view_request": lambda record: permissions.can_view(current_user, record),
            "customer_of": _customer_of,
            "prefetch_customers": _prefetch}


def _prefetch(records) -> str:
    """Look a page's customers up at once, ahead of its rows (prints nothing)."""
    customers.prefetch(records)
    return ""


def _customer_of(record):
    """The card of a tracked request's customer (its other open requests only), or None when off."""
    return customers.card(record.identifier_name, record.identifier_value, record.source or "INSTORE",
                          record.account_id or "", exclude_pk=record.id)


def _find_customer(form: StatusChangeForm):
    """"Find customer": check only the identifier, look it up, redraw the form (or just the card)."""
    field = form.identifierValue
    if not field.validate(form, extra_validators=[StatusChangeForm.validate_identifierValue]) \
            or not customers.enabled():
        if request.form.get("fragment"):
            return render_template("requests/_customer_find_error.html", form=form), 422
        return _form_page(form, 422 if field.errors else 200)
    config = current_app.config
    value = rules.clean_identifier(form.identifierName.data, field.data, config["CAP_PHONE_REGION"])
    try:
        source = rules.clean_source(form.source.data, config["CAP_SOURCE"])
    except ValueError:
        source = config["CAP_SOURCE"]
    card = customers.card(form.identifierName.data, value, source, form.accountId.data or "")
    if request.form.get("fragment"):
        return render_template("requests/_customer_card.html", card=card)
    return _form_page(form, card=card)


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
    if request.form.get("action") == "find":
        return _find_customer(form)
    if not _valid(form):
        return _form_page(form, 422)
    if identity.token_problem(current_user):
        return _form_page(form, 409)  # the page's banner says what is wrong with their token
    return render_template("requests/review.html", form=form, **_preview(form))


def _refusal(form: StatusChangeForm, checks) -> str | None:
    """Why the create POST must not go ahead, or None.

    A definite "no such customer" (8015/8013) refuses whatever posted it, unless
    ``CAP_ALLOW_UNKNOWN_CUSTOMER`` and the tick. A page that showed the no-op or duplicate
    warning (``reviewed``) needs their ticks too.
    """
    if checks is None:
        return None
    if checks.blocked and not (checks.may_override and request.form.get("confirm_unknown")):
        return "unknown"
    if request.form.get("reviewed") and any(not request.form.get(tick) for tick in checks.ticks):
        return "ticks"
    return None


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
    change = form.status_change()
    checks = customers.checks(change)
    refusal = _refusal(form, checks)
    if refusal is not None:
        # Nothing stored, nothing sent: the review page again, saying why.
        return render_template("requests/review.html", form=form, refusal=refusal, **_preview(form, checks)), 422
    before = verification.before_fields(checks.card if checks is not None else None)
    record, _sent = submit(change, form.submission_key.data, actor=access.acting_person(),
                           stored_note=verification.NOTE_BEFORE if before else None, **before)
    return redirect(url_for("requests.show", pk=record.id), 303)


def _preview(form: StatusChangeForm, checks=False) -> dict:
    """What the review page shows: the customer checks, then the target, the headers and the JSON
    body, secrets masked. ``checks`` already made are reused (False: make them)."""
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
        "checks": customers.checks(change) if checks is False else checks,
    }
