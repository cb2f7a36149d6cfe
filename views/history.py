"""The request history: filters, identifier search, sorting, keyset pages and a CSV export.

Its routes live on the ``requests`` blueprint (endpoints ``requests.history`` and
``requests.export_csv``); views/workflow.py imports this module to attach them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Response, current_app, render_template, request, stream_with_context

from forms.history_form import HistoryFilterForm
from models import TrackedRequest, utcnow
from services import history as history_service
from services.outcome import outcome_of
from services.states import describe
from views.workflow import bp

CSV_COLUMNS = (
    "id", "created_at_utc", "state", "state_words", "capillary_request_id", "made_in", "submitted_by",
    "capillary_maker", "till_id", "store_id", "zone_id", "concept_id", "identifier_name", "identifier_value",
    "label", "reason", "source", "decision", "decision_message", "outcome", "started_utc", "ended_utc",
    "updated_at_utc",
)
# A cell starting with one of these is a formula to spreadsheet programs (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _form() -> HistoryFilterForm:
    return HistoryFilterForm(formdata=request.args)


@bp.get("/requests")
def history():
    """List tracked requests a page at a time, filtered and sorted as asked."""
    form = _form()
    if not form.validate():
        return render_template("requests/index.html", form=form, page=None, query_args={},
                               labels=current_app.config["CAP_STATUS_LABELS"]), 422
    page = history_service.page(form.filters(), after=request.args.get("after"),
                                before=request.args.get("before"))
    query_args = {k: v for k, v in request.args.items() if k not in ("after", "before") and v}
    cursors = [request.args[k] for k in ("after", "before") if request.args.get(k)]
    return render_template(
        "requests/index.html", form=form, page=page, query_args=query_args,
        labels=current_app.config["CAP_STATUS_LABELS"],
        # A damaged page link falls back to the first page, and says so.
        bad_cursor=any(history_service.Cursor.decode(c) is None for c in cursors),
    )


@bp.get("/requests/export.csv")
def export_csv():
    """Stream the filtered list as CSV (no payloads, no credentials)."""
    form = _form()
    if not form.validate():
        return render_template("requests/index.html", form=form, page=None, query_args={},
                               labels=current_app.config["CAP_STATUS_LABELS"]), 422
    filters = form.filters()
    filename = f"requests-{utcnow():%Y%m%d-%H%M%S}.csv"
    return Response(
        stream_with_context(_csv_lines(filters)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _csv_lines(filters: history_service.Filters) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for count, record in enumerate(history_service.iter_matching(filters), start=1):
        writer.writerow([_cell(value) for value in _csv_row(record)])
        if count % 200 == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _csv_row(record: TrackedRequest) -> list:
    outcome = outcome_of(record.state, record.details)

    def when(value) -> str:
        return value.isoformat(sep=" ", timespec="seconds") if value else ""

    return [
        record.id, when(record.created_at), record.state, describe(record.state).badge, record.request_id or "",
        "capillary" if record.origin == "imported" else "app", record.submitted_by or "",
        record.maker_user_name or "", record.till_id, record.store_id, record.zone_id, record.concept_id,
        record.identifier_name, record.identifier_value, record.label, record.reason, record.source,
        outcome.decision or "", outcome.decision_message or "", outcome.words, when(record.start_time),
        when(record.end_time), when(record.updated_at),
    ]


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text
