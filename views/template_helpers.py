"""Jinja helpers shared by every page: state words, advice, time formatting."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_babel import format_time
from flask_babel import lazy_gettext as _l

from i18n import format_datetime
from models import utcnow
from services.lifecycle.reconcile import known_by
from services.lifecycle.wording import advice_for, describe, identifier_words, note_words
from views.access import role_list

# How a gateway validation flag (true / false / missing) is shown.
_CHECK_WORDS = {True: _l("Passed"), False: _l("Failed")}
_NOT_REPORTED = _l("Not reported")


def check_text(value) -> str:
    """Show a gateway validation flag in words."""
    return str(_CHECK_WORDS.get(value, _NOT_REPORTED))


def clock_time(value: datetime | None) -> str:
    """A naive-UTC moment as a clock time in the person's zone and language, naming the zone ("14:35 IST")."""
    if value is None:
        return ""
    return f"{format_time(value, 'short')} {format_time(value, 'z')}"


def init_app(app: Flask) -> None:
    """Register the helpers on ``app``'s Jinja environment."""
    app.jinja_env.globals.update(describe_state=describe, advice_for=advice_for, check_text=check_text,
                                 role_list=role_list, identifier_words=identifier_words, known_by=known_by,
                                 utcnow=utcnow)
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["note_words"] = note_words
    app.jinja_env.filters["clock_time"] = clock_time
