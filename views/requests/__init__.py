"""The requests area: the form, each request's status page, and the history (endpoints ``requests.*``).

The URL map of the area is here, in one table; the views are in :mod:`views.requests.form`
(form → review → send), :mod:`views.requests.status` (a request's page and its actions) and
:mod:`views.requests.history` (the list, filters and CSV export), :mod:`views.requests.mine` (a
submitter's own requests and the header's badge). Templates: templates/requests/.
"""

from __future__ import annotations

from flask import Blueprint

from views.requests import form, history, mine, status

bp = Blueprint("requests", __name__)
bp.app_context_processor(form.customer_helpers)

bp.get("/")(form.index)
bp.get("/requests/new")(form.new)
bp.post("/requests/new")(form.review)
bp.post("/requests")(form.create)
bp.get("/requests")(history.history)
bp.get("/requests/export.csv")(history.export_csv)
bp.get("/requests/mine")(mine.mine)
bp.add_app_template_global(mine.new_decisions_badge, "new_decisions")
bp.get("/requests/<int:pk>")(status.show)
bp.get("/requests/<int:pk>/live")(status.live)
bp.post("/requests/<int:pk>/refresh")(status.refresh_now)
bp.post("/requests/<int:pk>/resend")(status.resend_request)
bp.post("/requests/<int:pk>/match")(status.choose_match)
