"""The base of every form: Flask-WTF's, with WTForms' own messages read once per language."""

from __future__ import annotations

from functools import lru_cache

from babel import support
from flask import current_app, has_request_context
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms.i18n import messages_path


@lru_cache(maxsize=16)
def wtforms_catalog(locale: str) -> support.NullTranslations:
    """WTForms' own catalog ("This field is required." …) in ``locale``, read from disk once."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class AppForm(FlaskForm):
    """A Flask-WTF form whose built-in messages come from :func:`wtforms_catalog`.

    Flask-WTF reads the catalog from disk again on every request that builds a form (about
    0.2 ms); it cannot change while the app runs.
    """

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            locale = get_locale() if has_request_context() else None
            if locale is None or not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)
            return wtforms_catalog(str(locale))
