"""Submit a status change (form → review → send) and look at tracked requests."""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import func, select

from extensions import db
from forms import StatusChangeForm
from gateway.payload import mask_secrets
from models import TrackedRequest
from services import gateway_setup
from services.submission import build_for_sending, find_by_key, submit

bp = Blueprint("requests", __name__)

PAGE_SIZE = 25


@bp.get("/")
def index():
    """Send people straight to the request form."""
    return redirect(url_for("requests.new"))


@bp.get("/requests/new")
def new():
    """Show an empty form, or one filled from an earlier request (``?from=<id>``)."""
    form = StatusChangeForm(formdata=None)
    source_id = request.args.get("from", type=int)
    if source_id is not None:
        previous = db.session.get(TrackedRequest, source_id) or abort(404)
        form = StatusChangeForm(formdata=None, data=previous.form_values())
    return render_template("requests/new.html", form=form)


@bp.post("/requests/new")
def review():
    """Check the form; when valid, show exactly what will be sent. ``action=edit`` goes back."""
    form = StatusChangeForm()
    if request.form.get("action") == "edit":
        return render_template("requests/new.html", form=form)
    if not form.validate():
        return render_template("requests/new.html", form=form), 422
    return render_template("requests/review.html", form=form, **_preview(form))


@bp.post("/requests")
def create():
    """Store the request, send it to Capillary, then redirect to its status page (PRG)."""
    form = StatusChangeForm()
    if not form.validate():
        return render_template("requests/new.html", form=form), 422
    existing = find_by_key(form.submission_key.data)
    if existing is not None:
        return redirect(url_for("requests.show", pk=existing.id), 303)
    record, _sent = submit(form.status_change(), form.submission_key.data)
    return redirect(url_for("requests.show", pk=record.id), 303)


@bp.get("/requests/<int:pk>")
def show(pk: int):
    """Show one tracked request: its state in plain words, what was sent, its timeline."""
    record = db.session.get(TrackedRequest, pk) or abort(404)
    return render_template("requests/show.html", record=record, payload_json=_pretty(record.payload))


@bp.get("/requests")
def history():
    """List tracked requests, newest first, a page at a time."""
    page = max(request.args.get("page", 1, type=int), 1)
    total = db.session.scalar(select(func.count()).select_from(TrackedRequest)) or 0
    records = db.session.scalars(
        select(TrackedRequest)
        .order_by(TrackedRequest.created_at.desc(), TrackedRequest.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render_template("requests/index.html", records=records, page=page, pages=pages, total=total)


def _preview(form: StatusChangeForm) -> dict:
    """What the review page shows: target URL, masked headers and the masked JSON body."""
    change = form.status_change()
    payload = build_for_sending(change)
    client = gateway_setup.gateway_client()
    target = client.create_url
    headers = {
        "X-CAP-API-AUTH-ORG-ID": current_app.config["CAP_ORG_ID"],
        "X-CAP-UI-AUTH-TOKEN": "•••••• (hidden)",
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
