"""The request history: filters, identifier search, sorting, keyset pages and a CSV export.

Endpoints ``requests.history`` and ``requests.export_csv`` (routes in views/requests/__init__.py).
"""

from __future__ import annotations

from dataclasses import replace

from flask import current_app, render_template, request

from forms.history_form import HistoryFilterForm
from models import TrackedRequest, utcnow
from services.lifecycle import history as history_service
from services.lifecycle.wording import describe, outcome_of
from views import converters
from views.access import acting_person
from views.csv_export import csv_download

CSV_COLUMNS = (
    "id", "created_at_utc", "state", "state_words", "capillary_request_id", "made_in", "submitted_by",
    "capillary_maker", "till_id", "store_id", "zone_id", "concept_id", "identifier_name", "identifier_value",
    "label", "reason", "source", "decision", "decision_message", "outcome", "started_utc", "ended_utc",
    "updated_at_utc",
)


def _form() -> HistoryFilterForm:
    return HistoryFilterForm(formdata=request.args)


def _filters(form: HistoryFilterForm) -> history_service.Filters:
    """The form's filters, dates clamped to days a record can have (``9999-12-31`` overflowed)."""
    filters = form.filters()
    return replace(filters, date_from=converters.clamp_day(filters.date_from),
                   date_to=converters.clamp_day(filters.date_to))


def history():
    """List tracked requests a page at a time, filtered and sorted as asked."""
    form = _form()
    if not form.validate():
        return render_template("requests/index.html", form=form, page=None, query_args={},
                               labels=current_app.config["CAP_STATUS_LABELS"]), 422
    page = history_service.page(_filters(form), viewer=acting_person(), after=request.args.get("after"),
                                before=request.args.get("before"))
    query_args = {k: v for k, v in request.args.items() if k not in ("after", "before") and v}
    cursors = [request.args[k] for k in ("after", "before") if request.args.get(k)]
    return render_template(
        "requests/index.html", form=form, page=page, query_args=query_args,
        labels=current_app.config["CAP_STATUS_LABELS"],
        # A damaged page link falls back to the first page, and says so.
        bad_cursor=any(history_service.Cursor.decode(c) is None for c in cursors),
    )


def export_csv():
    """Stream the filtered list as CSV (no payloads, no credentials)."""
    form = _form()
    if not form.validate():
        return render_template("requests/index.html", form=form, page=None, query_args={},
                               labels=current_app.config["CAP_STATUS_LABELS"]), 422
    filters, viewer = _filters(form), acting_person()
    return csv_download(f"requests-{utcnow():%Y%m%d-%H%M%S}.csv", CSV_COLUMNS,
                        lambda: (_csv_row(record) for record in history_service.iter_matching(filters, viewer)))


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

