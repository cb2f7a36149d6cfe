"""Bulk CSV submissions: template, upload, review, confirm, live progress and results.

Agents and administrators only (views/access.py, ``BLUEPRINT_ROLES["bulk"]``).
"""

from __future__ import annotations

import io

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from werkzeug.exceptions import RequestEntityTooLarge

import jobs
from extensions import db
from forms.bulk_form import BulkUploadForm
from models.batches import DUPLICATE, INTERRUPTED, INVALID, PENDING, REVIEW, ROW_DONE, ROW_SENDING, SKIPPED, Batch
from services import customers
from services.bulk import batches, customer_check
from services.bulk.csv_reader import COLUMNS, MAX_BYTES, BadFile
from views import converters
from views.access import acting_person, passive
from views.csv_export import csv_download

bp = Blueprint("bulk", __name__, url_prefix="/bulk")

PAGE_SIZE = 100
BATCHES_SHOWN = 20
SENT_STATUSES = (PENDING, ROW_SENDING, ROW_DONE, INTERRUPTED)
# A cell starting with one of these is a formula to spreadsheet programs (CSV injection).


@bp.get("")
def index():
    """Show the upload form, how to fill the file, and the latest files."""
    return _index(BulkUploadForm())


@bp.post("")
def upload():
    """Check an uploaded file and store it for review (nothing is sent)."""
    form = BulkUploadForm()
    if not form.validate_on_submit():
        return _index(form), 422
    upload_file = form.file.data
    stream = upload_file.stream
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    try:
        batch = batches.create_batch(stream, upload_file.filename or "upload.csv", size=size,
                                       uploader=acting_person())
    except BadFile as exc:
        form.file.errors = [str(exc)]
        return _index(form), 422
    return redirect(url_for("bulk.show", batch_id=batch.id), 303)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    """A body over MAX_CONTENT_LENGTH: the upload page again, with the limit in words."""
    form = BulkUploadForm(formdata=None)
    form.file.errors = [_("The file is larger than %(mb)s MB. Split it into smaller files "
                          "(at most 10,000 rows each) and upload them one by one.", mb=MAX_BYTES // 1024 // 1024)]
    return _index(form), 413


@bp.get("/template.csv")
def template():
    """Download the template: the header row the upload expects."""
    return Response(",".join(COLUMNS) + "\r\n", mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="status-changes-template.csv"'})


@bp.get("/<int:batch_id>")
def show(batch_id: int):
    """The review page while the file awaits confirmation; the progress page after."""
    batch = _batch(batch_id)
    if batch.state == REVIEW:
        return _review(batch)
    pages = {"page": _page("page")}
    rows, total = batches.rows_page(batch.id, SENT_STATUSES, pages["page"], PAGE_SIZE)
    return render_template("bulk/progress.html", batch=batch, progress=batches.progress(batch), rows=rows,
                           rows_total=total, pages=pages, page_size=PAGE_SIZE)


@bp.post("/<int:batch_id>/confirm")
def confirm(batch_id: int):
    """Send the file's valid rows: queue the job (once, however often this is posted)."""
    batch = _batch(batch_id)  # (CSRFProtect has checked the form's token before this runs)
    if batches.confirm(batch, actor=acting_person()):
        try:
            jobs.enqueue(jobs.tasks.BULK_RUN, batch_id=batch.id)
        except Exception:  # the batch stays queued: a worker picks it up when the queue is back
            current_app.logger.exception("could not queue bulk batch %s", batch.id)
    return redirect(url_for("bulk.show", batch_id=batch.id), 303)


@bp.post("/<int:batch_id>/check")
def check(batch_id: int):
    """Check the file's customers in Capillary: queue the job (once; only with look-ups on)."""
    batch = _batch(batch_id)
    if not customers.enabled():
        abort(404, description=_("Checking customers in Capillary is switched off."))
    if customer_check.request_check(batch):
        try:
            jobs.enqueue(jobs.tasks.BULK_CHECK, batch_id=batch.id)
        except Exception:  # the page says "queued"; asking again queues it again
            current_app.logger.exception("could not queue the customer check of bulk batch %s", batch.id)
    return redirect(url_for("bulk.show", batch_id=batch.id), 303)


@bp.post("/<int:batch_id>/discard")
def discard(batch_id: int):
    """Throw away a checked file that was not confirmed (its rows are deleted)."""
    batch = _batch(batch_id)
    if not batches.discard(batch):
        return redirect(url_for("bulk.show", batch_id=batch.id), 303)
    return redirect(url_for("bulk.index", discarded=batch_id), 303)


@bp.get("/<int:batch_id>/progress.json")
@passive
def progress_json(batch_id: int):
    """The progress as JSON (numbers and the page's words), polled by static/js/bulk.js."""
    batch = _batch(batch_id)
    found = batches.progress(batch)
    return jsonify({**found.as_json(), "summary": progress_summary(found), "rate": rate_words(found),
                    "timeLeft": time_left_words(found)})


# -- words shared by the pages and the JSON endpoint ----------------------------------------------

BATCH_STATE_WORDS = {
    "review": _l("Waiting for confirmation"),
    "queued": _l("Queued"),
    "running": _l("Sending"),
    "done": _l("Finished"),
}


# A row's customer-check outcome, as the review page marks it.
CHECK_WORDS = {
    "found": _l("Found in Capillary"),
    "not_found": _l("Not found in Capillary (code 8015): not sent"),
    "invalid": _l("Invalid identifier (code 8013): not sent"),
    "noop": _l("Already has this label: not sent"),
    "duplicate": _l("An open request for this customer exists: still sent"),
    "lookup_failed": _l("Could not be checked: still sent"),
}


def check_words(outcome: str | None) -> str:
    """A row's customer-check outcome in plain words ("" when not checked)."""
    return str(CHECK_WORDS.get(outcome, outcome)) if outcome else ""


def check_summary(found: customer_check.CheckProgress) -> str:
    """One sentence on where the customer check stands."""
    if found.state == "done":
        return ngettext("Customer check finished: %(num)d row checked, %(out)s left out of sending.",
                        "Customer check finished: %(num)d rows checked, %(out)s left out of sending.",
                        found.checked, out=found.left_out)
    if found.state == "queued" and not found.checked:
        return _("Customer check queued: waiting for a worker.")
    return ngettext("Checking customers: %(checked)s of %(num)d row checked (%(percent)s%%).",
                    "Checking customers: %(checked)s of %(num)d rows checked (%(percent)s%%).",
                    found.to_check, checked=found.checked, percent=found.percent)


def batch_state_words(state: str) -> str:
    """A batch state in plain words."""
    return str(BATCH_STATE_WORDS.get(state, state))


def progress_summary(found: batches.Progress) -> str:
    """One sentence on where the batch stands (the page's live status region)."""
    if found.state == "queued" and not found.finished:
        return ngettext("Queued: waiting for a worker to start sending %(num)d row.",
                        "Queued: waiting for a worker to start sending %(num)d rows.", found.to_send)
    outcomes = _("%(created)s created in Capillary, %(failed)s failed, %(unknown)s with an unknown outcome.",
                 created=found.created, failed=found.failed, unknown=found.unknown)
    if found.state == "done":
        where = ngettext("Finished: the %(num)d row was sent.", "Finished: all %(num)d rows were sent.",
                         found.to_send)
    else:
        where = ngettext("Sending: %(finished)s of %(num)d row finished (%(percent)s%%).",
                         "Sending: %(finished)s of %(num)d rows finished (%(percent)s%%).",
                         found.to_send, finished=found.finished, percent=found.percent)
    # Two whole sentences: where the batch stands, then its outcomes so far.
    return f"{where} {outcomes}"


def rate_words(found: batches.Progress) -> str:
    """The recent sending rate against the configured limit."""
    limit = current_app.config["CAP_BULK_RATE_PER_MINUTE"]
    if not found.per_minute:
        return _("None in the last minute (limit %(limit)s a minute)", limit=limit)
    return _("%(rate)s a minute (limit %(limit)s a minute)", rate=f"{found.per_minute:.0f}", limit=limit)


def time_left_words(found: batches.Progress) -> str:
    """Roughly how long until every row is sent."""
    if not found.remaining:
        # Not "None": read on a finished file, that looked like a value that failed to show.
        return _("Nothing left to send")
    if found.seconds_left is None:
        return _("Not known yet")
    minutes = found.seconds_left / 60
    if minutes < 1.5:
        seconds = int(f"{found.seconds_left:.0f}")
        return ngettext("About %(num)d second", "About %(num)d seconds", seconds)
    return ngettext("About %(num)d minute", "About %(num)d minutes", int(f"{minutes:.0f}"))


@bp.context_processor
def _words():
    return {"batch_state_words": batch_state_words, "progress_summary": progress_summary,
            "rate_words": rate_words, "time_left_words": time_left_words, "check_words": check_words,
            "check_summary": check_summary}


@bp.get("/<int:batch_id>/results.csv")
def results(batch_id: int):
    """Download every line: the file's own columns, then requestId, state and error in words (streamed)."""
    batch = _batch(batch_id)

    return csv_download(f"bulk-{batch.id}-results.csv", batches.RESULT_COLUMNS,
                        lambda: batches.result_records(batch.id))


def _review(batch: Batch):
    pages = {name: _page(name) for name in ("valid_page", "error_page", "duplicate_page", "skipped_page")}
    valid, valid_total = batches.rows_page(batch.id, (PENDING,), pages["valid_page"], PAGE_SIZE)
    invalid, invalid_total = batches.rows_page(batch.id, (INVALID,), pages["error_page"], PAGE_SIZE)
    duplicates, duplicate_total = batches.rows_page(batch.id, (DUPLICATE,), pages["duplicate_page"], PAGE_SIZE)
    skipped, skipped_total = batches.rows_page(batch.id, (SKIPPED,), pages["skipped_page"], PAGE_SIZE)
    return render_template(
        "bulk/review.html", batch=batch, page_size=PAGE_SIZE, pages=pages,
        valid=valid, valid_total=valid_total, invalid=invalid, invalid_total=invalid_total,
        duplicates=duplicates, duplicate_total=duplicate_total, skipped=skipped, skipped_total=skipped_total,
        lookup_on=customers.enabled(),
        check=customer_check.check_progress(batch) if batch.check_state else None,
    )


def _index(form: BulkUploadForm):
    batches = db.session.scalars(db.select(Batch).order_by(Batch.id.desc()).limit(BATCHES_SHOWN)).all()
    return render_template("bulk/index.html", form=form, batches=batches, columns=COLUMNS,
                           max_rows=current_app.config["CAP_BULK_MAX_ROWS"],
                           max_mb=MAX_BYTES // 1024 // 1024, discarded=request.args.get("discarded", type=int))


def _batch(batch_id: int) -> Batch:
    return db.session.get(Batch, batch_id) or abort(404, description=_("There is no such bulk file."))


def _page(name: str) -> int:
    return request.args.get(name, 1, type=converters.page_number)
