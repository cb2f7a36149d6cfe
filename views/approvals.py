"""The checker console: the queue, approve/reject with a confirmation step, and one decision for many."""

from __future__ import annotations

import uuid
from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _

import jobs
from extensions import db
from forms.decision_form import DecisionForm
from models import DecisionRun, TrackedRequest, utcnow
from services.lifecycle import decision_runs, decisions, queue
from services.lifecycle.refresh import refresh
from services.lifecycle.wording import outcome_of
from views import form_pages
from views.access import acting_person

bp = Blueprint("approvals", __name__, url_prefix="/approvals")
MANY_LISTED = 500  # a confirmation page lists this many of the chosen requests, then counts the rest


@bp.get("")
def index():
    """The queue: requests waiting in AdminTask, oldest first by default, filtered and sorted."""
    filters = queue.QueueFilters.from_args(request.args)
    page = queue.queue_page(filters, actor=acting_person())
    now = utcnow()
    ages = {r.id: age_text(now - (r.start_time or r.created_at)) for r in page.records}
    return render_template("approvals/index.html", page=page, ages=ages, filters=page.filters,
                           sorts=queue.SORTS, page_sizes=queue.PAGE_SIZES, many_form=DecisionForm(formdata=None))


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


# -- one decision for many requests -----------------------------------------------------------------


def _chosen(filters: queue.QueueFilters) -> list[TrackedRequest]:
    """The requests the queue's form chose: the ticked ones, or all matching its filters (in their order)."""
    if request.form.get("scope") == "matching":
        return queue.matching_records(filters)
    picked = {int(pk) for pk in request.form.getlist("pk") if pk.isdigit() and len(pk) < 10}
    return queue.waiting_records(picked, filters.sort) if picked else []


@bp.post("/many")
def decide_many():
    """Step 1 (``step=review``): check and confirm, listing them. Step 2 (``step=confirm``): start the job."""
    filters = queue.QueueFilters.from_args(request.form)
    form = DecisionForm()
    records = _chosen(filters)
    actor = acting_person()
    step = form.step.data
    if step == "confirm" and form.validate() and records:
        try:
            run, made = decision_runs.create_run(records, form.decision.data, form.message.data,
                                                 (request.form.get("run_key") or "")[:64] or uuid.uuid4().hex,
                                                 actor=actor, locale=str(get_locale() or "en"))
        except decision_runs.RunRefused as refused:
            return _many_page(records, form, filters, 422, problem=str(refused))
        if made:
            try:
                jobs.enqueue(jobs.tasks.DECISIONS_RUN, run_id=run.id)
            except Exception:  # the run is stored; the page says it waits for a worker
                current_app.logger.exception("could not queue decision run %s", run.id)
        return redirect(url_for("approvals.run", run_id=run.id), 303)
    valid = form.validate()  # always, so every problem shows at once
    if step == "edit" or not records or not valid:
        return _many_page(records, form, filters, 200 if step == "edit" else 422,
                          problem=None if records else _("Tick at least one request, or choose all that match."))
    return _many_page(records, form, filters, confirming=True)


def _many_page(records, form, filters, status: int = 200, *, confirming: bool = False, problem: str | None = None):
    own = decision_runs.own_requests(records, acting_person())
    return render_template("approvals/many.html", records=records[:MANY_LISTED], count=len(records), own=own,
                           form=form, filters=filters, confirming=confirming, problem=problem,
                           scope=request.form.get("scope") or "ticked", run_key=uuid.uuid4().hex,
                           picked=[r.id for r in records]), status


@bp.get("/runs/<int:run_id>")
def run(run_id: int):
    """A multi-decision's progress and results (static/js/run.js redraws it while it runs)."""
    found = db.session.get(DecisionRun, run_id) or abort(404)
    return render_template("approvals/run.html", run=found, progress=decision_runs.progress(found),
                           results=decision_runs.results(found))
