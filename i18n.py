"""Languages and time zones (Flask-Babel): which ones a request uses, and how times are shown.

The language is the one a person chose with the switcher (a cookie, so it also works on the
sign-in page), else the best match of the browser's Accept-Language, else
``CAP_DEFAULT_LANGUAGE``. The time zone is the browser's own (``static/js/app.js`` stores it in
a cookie), else ``CAP_DEFAULT_TIMEZONE``. Times are stored as naive UTC everywhere.
"""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache

from flask import Flask, current_app, has_request_context, request
from flask_babel import format_datetime as babel_format_datetime
from flask_babel import get_locale, get_timezone, get_translations, gettext
from jinja2 import pass_context
from markupsafe import Markup
from pytz import all_timezones_set, utc

from config import LANGUAGES
from extensions import babel

LANGUAGE_COOKIE = "lang"
TIMEZONE_COOKIE = "tz"
# How each language is offered in the switcher: in its own words, so anyone can find theirs.
LANGUAGE_NAMES = {"en": "English", "es": "Español"}


def select_language() -> str | None:
    """Return the language code for this request (None outside a request: the default)."""
    if not has_request_context():
        return None
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES)


def select_timezone() -> str | None:
    """Return the IANA zone the browser reported, if it is a real one (else the default)."""
    if not has_request_context():
        return None
    reported = request.cookies.get(TIMEZONE_COOKIE, "")
    return reported if reported in all_timezones_set else None


def N_(text: str) -> str:  # noqa: N802 - the usual name of the gettext no-op marker
    """Mark a fixed English text for the catalog where it cannot be translated at once (a stored
    timeline note, the sandbox's fault descriptions); :func:`translated` shows it."""
    return text


def translated(text: str | None) -> str:
    """Show a fixed English text marked with ``N_`` in the page's language; anything else
    (Capillary's words, records with values in them) is shown as it is."""
    # flask_babel.gettext without arguments never %-formats, so a '%' in a record is safe.
    return gettext(text) if text else ""


def format_datetime(value: datetime | None) -> str:
    """Show a naive-UTC datetime in the person's language and time zone, naming the zone."""
    if value is None:
        return ""
    return _formatted(value, str(get_locale()), str(get_timezone()))


@lru_cache(maxsize=1024)
def _formatted(value: datetime, locale: str, zone: str) -> str:
    # Keyed by the language and zone the formatting reads from the request: a page shows the
    # same few times again and again (a timeline's events, its decisions), and Babel's
    # formatting is among the dearest things a page does.
    # Babel reads naive datetimes as UTC and converts them to the request's zone.
    return f"{babel_format_datetime(value, 'medium')} {babel_format_datetime(value, 'z')}"


def template_gettext() -> dict:
    """``gettext`` and ``ngettext`` for one template render, bound to the render's translations.

    The same rules as Jinja's newstyle gettext (autoescaped, always %-formatted), but the
    catalog is found once per render instead of through Flask-Babel's context for every one of
    a page's ~60 strings. Found at render time, so a render inside ``force_locale`` still gets
    that language; macros imported without context use Flask-Babel's own callables.
    """
    translations = get_translations()

    @pass_context
    def render_gettext(context, string: str, /, **variables) -> str:
        return _filled(context, translations.ugettext(string), variables)

    @pass_context
    def render_ngettext(context, singular: str, plural: str, count: int, /, **variables) -> str:
        variables.setdefault("num", count)
        return _filled(context, translations.ungettext(singular, plural, count), variables)

    return {"gettext": render_gettext, "ngettext": render_ngettext}


def _filled(context, text: str, variables: dict) -> str:
    # Jinja's newstyle rule: autoescaped where the template is, always %-formatted.
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 - the catalog's own words, as Jinja's gettext does
    return text % variables


def local_day_start(day: date) -> datetime:
    """Return the naive-UTC moment ``day`` begins in the person's time zone (date filters)."""
    zone = get_timezone() or utc
    return zone.localize(datetime.combine(day, time.min)).astimezone(utc).replace(tzinfo=None)


def init_app(app: Flask) -> None:
    """Bind Flask-Babel with the selectors above and offer the switcher's data to templates."""
    babel.init_app(app, locale_selector=select_language, timezone_selector=select_timezone)
    # {% trans %} blocks collapse their whitespace, so msgids do not depend on indentation
    # (babel.cfg extracts them the same way).
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.filters["translated"] = translated

    @app.context_processor
    def language_context() -> dict:
        return {
            "current_language": str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"]),
            "language_names": LANGUAGE_NAMES,
            "current_timezone": str(get_timezone()),
            **template_gettext(),
        }
