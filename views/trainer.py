"""The trainer page (sandbox mode only): customers, behaviour switches, faults, seeds, reset.

Drives the embedded sandbox's :class:`~sandbox.state.SandboxState`, the same switches the
test suite uses. Outside sandbox mode every URL here is a 404.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from forms.trainer_forms import FaultForm, SandboxSettingsForm, SeedForm
from gateway_setup import sandbox_state
from views.access import TRAINER_ROLES, acting_person

bp = Blueprint("trainer", __name__, url_prefix="/sandbox")

RECENT_CALLS = 15


@bp.before_request
def _sandbox_only():
    if not current_app.config.get("SANDBOX_MODE") or sandbox_state() is None:
        abort(404)


def _call_time(text: str) -> datetime | None:
    """The sandbox's call time (UTC, no zone) as naive UTC, shown in the person's zone like every time."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")
    except (TypeError, ValueError):
        return None


def _page(status: int = 200, **forms):
    state = sandbox_state()
    settings = state.settings()
    customers = state.customers()
    forms.setdefault("settings_form", SandboxSettingsForm(formdata=None, data=settings))
    forms.setdefault("fault_form", FaultForm(formdata=None))
    forms.setdefault("seed_form", SeedForm(customers, formdata=None))
    calls = [{**{k: c[k] for k in ("endpoint", "method", "path", "query")},  # never headers/bodies
              "time": _call_time(c["time"])} for c in state.calls[-RECENT_CALLS:]][::-1]
    person = acting_person()
    return render_template(
        "trainer/index.html",
        # Switches, faults and reset change the sandbox for everybody (views/access.py: TRAINER_ROLES).
        may_steer=person is not None and person.has_role(*TRAINER_ROLES),
        settings=settings, customers=customers, faults=state.pending_faults(), calls=calls,
        created_count=state.created_count, request_count=state.request_count, **forms,
    ), status


@bp.get("")
def index():
    """Show the sandbox: customers and labels, switches, pending faults, recent calls."""
    return _page()


@bp.post("/settings")
def change_settings():
    """Turn auto-approval and the self-approval 403 on or off; set the added latency."""
    form = SandboxSettingsForm()
    if not form.validate():
        return _page(422, settings_form=form)
    state = sandbox_state()
    state.set_auto_approve(form.auto_approve.data)
    state.set_forbid_self_approval(form.forbid_self_approval.data)
    state.set_latency_ms(form.latency_ms.data)
    flash(_("Sandbox settings saved."), "good")
    return redirect(url_for("trainer.index"), 303)


@bp.post("/faults")
def add_fault():
    """Make the next N matching gateway calls fail in the chosen way."""
    form = FaultForm()
    if not form.validate():
        return _page(422, fault_form=form)
    sandbox_state().inject_fault(form.kind.data, form.count.data, form.endpoint.data)
    flash(ngettext("The next matching call will fail with '%(kind)s'.",
                   "The next %(num)d matching calls will fail with '%(kind)s'.",
                   form.count.data, kind=form.kind.data), "good")
    return redirect(url_for("trainer.index"), 303)


@bp.post("/faults/clear")
def clear_faults():
    """Drop every queued fault."""
    sandbox_state().clear_faults()
    flash(_("No faults are queued any more."), "good")
    return redirect(url_for("trainer.index"), 303)


@bp.post("/seed")
def seed():
    """Raise a request as another maker would in Capillary's UI (the app imports it later)."""
    state = sandbox_state()
    customers = state.customers()
    form = SeedForm(customers)
    if not form.validate():
        return _page(422, seed_form=form)
    customer = next(c for c in customers if str(c["id"]) == form.customer.data)
    name, value = next(iter(customer["identifiers"].items()))
    request_id = state.seed_request(identifier_name=name, identifier_value=value, label=form.label.data,
                                    reason=form.reason.data, state=form.state.data)
    flash(_("Request %(id)s raised in the sandbox as another maker would in Capillary's UI. "
            "It shows in Approvals and, after a sync, in History.", id=request_id), "good")
    return redirect(url_for("trainer.index"), 303)


@bp.get("/reset")
def confirm_reset():
    """Ask before a reset: it forgets every sandbox request for everybody in the training."""
    state = sandbox_state()
    return render_template("trainer/reset.html", request_count=state.request_count)


@bp.post("/reset")
def reset():
    """Reset the sandbox: no requests, calls or faults; customers and switches as at start-up."""
    if request.form.get("confirmed") != "yes":  # only the confirmation page's button resets
        return redirect(url_for("trainer.confirm_reset"), 303)
    sandbox_state().reset()
    flash(_("The sandbox was reset. This app's own records are kept; the sandbox no longer knows "
            "the requests they point at."), "good")
    return redirect(url_for("trainer.index"), 303)
