"""The checker console: what waits for a decision, and approve/reject with a confirmation step."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from extensions import db
from forms.decision_form import DecisionForm
from models import TrackedRequest, utcnow
from services.lifecycle import decisions, queue
from services.lifecycle.refresh import refresh
from services.lifecycle.wording import outcome_of
from views import form_pages
from views.access import acting_person

bp = Blueprint("approvals", __name__, url_prefix="/approvals")


@bp.get("")
def index():
    """The queue: requests waiting in AdminTask, oldest first by default, filtered and sorted."""
    filters = queue.QueueFilters.from_args(request.args)
    page = queue.queue_page(filters, actor=acting_person())
    now = utcnow()
    ages = {r.id: age_text(now - (r.start_time or r.created_at)) for r in page.records}
    return render_template("approvals/index.html", page=page, ages=ages, filters=page.filters,
                           sorts=queue.SORTS, page_sizes=queue.PAGE_SIZES)


def age_text(delta: timedelta) -> str:
    """Say how long something has waited, e.g. "5 minutes", "3 hours", "2 days"."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds >= 86400:
        return ngettext("%(num)d day", "%(num)d days", seconds // 86400)
    if seconds >= 3600:
        return ngettext("%(num)d hour", "%(num)d hours", seconds // 3600)
    if seconds >= 60:
        return ngettext("%(num)d minute", "%(num)d minutes", seconds // 60)
    return _("under a minute")


def _record(pk: int) -> TrackedRequest:
    return db.session.get(TrackedRequest, pk) or abort(404)


def _decision_page(record: TrackedRequest, form: DecisionForm, status: int = 200, problem: str | None = None):
    return render_template(
        "approvals/decide.html", record=record, form=form, problem=problem,
        following=queue.next_waiting(record, viewer=acting_person()),
        # When it cannot be decided at all (its state, an earlier claim) no form is shown.
        blocked=decisions.why_not_decidable(record, actor=acting_person()),
        outcome=outcome_of(record.state, record.details),
    ), status


@form_pages.register("approvals.decide")
def _decide_again(formdata, notice: str, args: dict):
    """After an expired page or a new sign-in: the decision page again, choice and message kept."""
    form = DecisionForm(formdata=formdata)
    return _decision_page(_record(args["pk"]), form, problem=_(
        "This form expired, so nothing was sent. Your choice and message are kept: check them and continue."))[0]


@bp.get("/<int:pk>")
def review(pk: int):
    """Show the request and the decision form (``?decision=approved|rejected`` preselects one)."""
    record = _record(pk)
    refresh(record)  # decide on the current state, not on what the console showed minutes ago
    form = DecisionForm(formdata=None, decision=request.args.get("decision")
                        if request.args.get("decision") in decisions.DECISIONS else None)
    return _decision_page(record, form)


@bp.post("/<int:pk>")
def decide(pk: int):
    """Step 1 (``step=review``): check and show the confirmation. Step 2 (``step=confirm``): send it."""
    record = _record(pk)
    form = DecisionForm()
    step = form.step.data
    if step == "edit":
        return _decision_page(record, form)
    if not form.validate():
        return _decision_page(record, form, 422)
    if step == "confirm":
        result = decisions.decide(record, form.decision.data, form.message.data, actor=acting_person())
    else:
        refused = decisions.check_decision(record, form.decision.data, form.message.data,
                                              actor=acting_person())
        if refused is None:
            return render_template("approvals/confirm.html", record=record, form=form)
        result = refused
    if result.status == "refused":
        for name, message in result.errors.items():
            getattr(form, name).errors = [message]
        return _decision_page(record, form, 422 if result.errors else 409,
                              problem=None if result.errors else result.message)
    if result.status != "ok":  # no clear answer: the request's page shows how it settles
        flash(result.message, "warn")
        return redirect(url_for("requests.show", pk=record.id), 303)
    # Approve-and-next: straight on to the next request waiting for this checker, or the queue.
    flash(_("Request %(id)s: %(result)s", id=record.id, result=result.message), "good")
    following = queue.next_waiting(record, viewer=acting_person())
    if following is None:
        flash(_("Nothing else is waiting for your decision."), "good")
        return redirect(url_for("approvals.index"), 303)
    return redirect(url_for("approvals.review", pk=following.id), 303)
