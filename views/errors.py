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


# Flask-WTF's reasons (CSRFError.description), in the log's words.
CSRF_REASONS = {
    "The CSRF token is missing.": "token missing",
    "The CSRF session token is missing.": "session token missing (the session ended or its cookie was not sent)",
    "The CSRF token has expired.": "token expired",
    "The CSRF token is invalid.": "token invalid",
    "The CSRF tokens do not match.": "token from another session",
    "The referrer header is missing.": "referrer missing",
    "The referrer does not match the host.": "referrer does not match the host",
}
# Reasons that are about addresses, not time: reloading the page will not help.
ADDRESS_REASONS = {"The referrer header is missing.", "The referrer does not match the host."}


def _csrf_error(error: CSRFError):
    """A refused form: say which check failed, and show the form again with what was typed."""
    from views import access, form_pages

    _log_csrf_refusal(error.description)
    if error.description in ADDRESS_REASONS:
        return _address_mismatch(error.description)
    if access.wants_json():
        return jsonify(error="form_expired", message=_("This page expired: reload it.")), 400
    # The access gate (views/access.py) ran before the CSRF check: the person is signed in, within
    # the session limits and may open this page, so drawing the form again shows nothing new.
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


def _log_csrf_refusal(reason: str) -> None:
    """One line naming Flask-WTF's reason, the request id and, for the referrer checks, both origins."""
    from app_logging import request_id

    detail = ""
    if reason in ADDRESS_REASONS:
        detail = (f"; the form came from {_origin(request.referrer) or 'nowhere (no Referer)'}, the app sees itself "
                  f"as https://{request.host}: if a proxy is in front, check that it passes the Host header with "
                  "the port (nginx: proxy_set_header Host $http_host)")
    log.warning("form refused by the CSRF check: %s (%s %s, request id %s)%s",
                CSRF_REASONS.get(reason, reason), request.method, request.path, request_id(), detail)


def _origin(url: str | None) -> str:
    """The scheme, host and port of ``url`` (never its path or query)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _address_mismatch(reason: str):
    """The referrer check failed: another address than the server's own, usually a proxy's Host header."""
    from flask_login import current_user

    from app_logging import request_id
    from models.users import ADMIN
    from views import access

    if reason == "The referrer header is missing.":
        title = _("The app could not tell which page this form came from")
    else:
        title = _("This address doesn't match the server's")
    if current_user.is_authenticated and current_user.has_role(ADMIN):
        if reason == "The referrer header is missing.":
            message = _("Over HTTPS the app accepts a form only with a Referer header naming its own address, and "
                        "this one had none: a proxy or a browser setting may be removing it. Nothing was saved or "
                        "sent. The log line with request id %(id)s has the details.", id=request_id())
        else:
            message = _("The form came from %(origin)s, but the app sees its own address as https://%(host)s. If you "
                        "run a proxy, check its Host header: it must pass the port too (nginx: proxy_set_header "
                        "Host $http_host). Nothing was saved or sent. The log line with request id %(id)s has the "
                        "details.", origin=_origin(request.referrer), host=request.host, id=request_id())
    else:
        message = _("The app could not confirm that this form came from its own page, so nothing was saved or "
                    "sent. Open the app from its usual address and try again; if it happens again, tell your "
                    "administrator and give them this reference: %(id)s.", id=request_id())
    if access.wants_json():
        return jsonify(error="address_mismatch", message=message), 400
    return _page(400, title, message)


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
