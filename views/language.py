"""The language switcher: remembers a person's choice in a cookie for a year.

A cookie rather than the user record, so the choice also applies to the sign-in page and on
a shared till before anyone signs in.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, url_for

from config import LANGUAGES
from i18n import LANGUAGE_COOKIE
from views.login_page import safe_next

bp = Blueprint("language", __name__)

ONE_YEAR = 365 * 24 * 3600


@bp.post("/language")
def choose():
    """Switch to the posted language (unknown ones are ignored) and go back to the same page."""
    back = safe_next(request.form.get("next")) or url_for("auth.login")
    response = redirect(back, 303)
    language = request.form.get("language", "")
    if language in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=ONE_YEAR, samesite="Lax", httponly=True,
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response
