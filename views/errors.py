"""Error pages in the app's layout: no path ends in a bare error or a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from extensions import db

log = logging.getLogger(__name__)

FORM_ENDPOINTS = {"requests.review", "requests.create"}


def init_app(app: Flask) -> None:
    """Register the error handlers on ``app``."""
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(SQLAlchemyError, _database_error)
    app.register_error_handler(Exception, _unexpected_error)


def _csrf_error(error: CSRFError):
    if request.endpoint in FORM_ENDPOINTS:
        # Keep what the person typed: show the form again with a fresh token.
        from forms import StatusChangeForm

        form = StatusChangeForm()
        return render_template("requests/new.html", form=form, form_expired=True), 400
    return _page(400, "This form expired", "The page was open too long or your session ended. "
                 "Go back, reload the page and submit it again.")


def _http_error(error: HTTPException):
    titles = {404: "Page not found", 405: "Not allowed here", 413: "File too large"}
    return _page(error.code or 500, titles.get(error.code, error.name), error.description)


def _database_error(error: SQLAlchemyError):
    db.session.rollback()
    log.exception("database error")
    return _page(503, "The app's database is not available",
                 "Nothing was sent to Capillary. Try again in a minute; if it keeps happening, "
                 "tell your administrator.")


def _unexpected_error(error: Exception):
    log.exception("unexpected error")
    return _page(500, "Something went wrong",
                 "The app hit an unexpected problem. Nothing you entered was sent twice; check "
                 "the request history before trying again.")


def _page(status: int, title: str, message: str):
    return render_template("errors/error.html", status=status, title=title, message=message), status
