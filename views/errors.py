"""Error pages in the app's layout: no path ends in a bare error or a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import ObjectDeletedError
from werkzeug.exceptions import HTTPException, NotFound

from extensions import db, login_manager
from services.lifecycle.submission import OutcomeNotRecorded
from services.lifecycle.updates import RecordGone

log = logging.getLogger(__name__)

# Page titles by status code (other codes show werkzeug's English name, e.g. "Bad Request").
_TITLES = {
    403: _l("You do not have access to this page"),
    404: _l("Page not found"),
    405: _l("Not allowed here"),
    413: _l("File too large"),
    429: _l("Too many attempts"),
}
# Werkzeug's own explanations, word for word, so they are translated when an ``abort()`` gives none.
_DEFAULT_EXPLANATIONS = {
    403: _l("You don't have the permission to access the requested resource. It is either read-protected or "
            "not readable by the server."),
    404: _l("The requested URL was not found on the server. If you entered the URL manually please check your "
            "spelling and try again."),
    405: _l("The method is not allowed for the requested URL."),
    413: _l("The data value transmitted exceeds the capacity limit."),
}


def init_app(app: Flask) -> None:
    """Register the error handlers on ``app``."""
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(SQLAlchemyError, _database_error)
    app.register_error_handler(OutcomeNotRecorded, _outcome_not_recorded)
    app.register_error_handler(ObjectDeletedError, _record_gone)
    app.register_error_handler(RecordGone, _record_gone)
    app.register_error_handler(Exception, _unexpected_error)


def _csrf_error(error: CSRFError):
    """A refused form: show it again with what was typed and a fresh token, never a bare 400."""
    from flask_login import current_user

    from views import access, form_pages

    if access.wants_json():
        return jsonify(error="form_expired", message=_("This page expired: reload it.")), 400
    if not current_user.is_authenticated and request.endpoint not in access.PUBLIC_ENDPOINTS:
        # The session itself ended: sign in first; the sign-in page carries the values.
        return access.sign_in_required("expired")
    renderer = form_pages.renderer_for(request.endpoint)
    if renderer is not None:
        try:
            response = make_response(renderer(request.form, form_pages.EXPIRED, request.view_args or {}))
        except HTTPException as exc:  # e.g. the form was for a request that does not exist
            return _http_error(exc)
        response.status_code = 400
        return response
    return _page(400, _("This form expired"), _("The page was open too long or your session ended. "
                                                "Go back, reload the page and submit it again."))


def _http_error(error: HTTPException):
    code = error.code or 500
    message = error.description or ""
    if message == type(error).description and code in _DEFAULT_EXPLANATIONS:
        message = str(_DEFAULT_EXPLANATIONS[code])
    return _page(code, str(_TITLES.get(code, error.name)), message)


def _render_as_nobody() -> None:
    # Loading (or refreshing) the signed-in user needs the very database that just failed, and
    # the page would fail again into a bare 500.
    db.session.rollback()
    g._login_user = login_manager.anonymous_user()


def _outcome_not_recorded(error: OutcomeNotRecorded):
    log.error("database error after sending request %s", error.record_id, exc_info=error.__cause__)
    _render_as_nobody()
    # The record was stored (state `sending`) before the call; only the answer is missing.
    return _page(503, _("The app's database is not available"),
                 _("Your request was sent to Capillary, but the app could not record the answer. "
                   "It is kept in the history as 'Sending' and will be checked against Capillary; "
                   "do not submit it again."))


def _record_gone(error: Exception):
    """A record deleted while its page was drawn (an imported copy merged into its submission): 404."""
    log.info("record gone while drawing a page: %s", error, exc_info=error)
    db.session.rollback()
    return _http_error(NotFound())


def _database_error(error: SQLAlchemyError):
    log.exception("database error")
    _render_as_nobody()
    return _page(503, _("The app's database is not available"),
                 _("Nothing was sent to Capillary. Try again in a minute; if it keeps happening, "
                   "tell your administrator."))


def _unexpected_error(error: Exception):
    log.exception("unexpected error")
    return _page(500, _("Something went wrong"),
                 _("The app hit an unexpected problem. Nothing you entered was sent twice; check "
                   "the request history before trying again."))


def _page(status: int, title: str, message: str):
    return render_template("errors/error.html", status=status, title=title, message=message), status
