"""The history page's filter form (GET, no CSRF: it changes nothing)."""

from __future__ import annotations

import re

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from forms import validators as rules
from forms.base import AppForm
from forms.validators import strip
from services.lifecycle.history import SORTS, Filters, submitters
from services.lifecycle.wording import STATES


def _printable(form, field):
    """Refuse control characters (a NUL cannot even be sent to PostgreSQL)."""
    if field.data and not field.data.isprintable():
        raise ValidationError(_("Remove the control characters (e.g. tabs or NUL) from this box."))


def _text_rules(longest: int, message) -> list:
    """An optional text filter: printable, at most ``longest`` characters."""
    return [Optional(), _printable, Length(max=longest, message=message)]


class _Date(DateField):
    """A date field rendered as ``<input type=date>`` with a message a person can act on."""

    def __init__(self, label, **kwargs):
        super().__init__(label, validators=[Optional()], format="%Y-%m-%d", render_kw={"type": "date"}, **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError(_("Enter a date like 2024-05-31.")) from None


class HistoryFilterForm(AppForm):
    """Filter, search and sort the tracked requests."""

    class Meta:
        csrf = False

    q = StringField(_l("Customer identifier"), filters=[strip], render_kw={"type": "search"},
                    validators=_text_rules(160, _l("Search for at most 160 characters.")))
    state = SelectField(_l("Status"), default="")
    store = StringField(_l("Store ID"), filters=[strip],
                        validators=_text_rules(64, _l("A store ID has at most 64 characters.")))
    label = SelectField(_l("New status label"), default="")
    submitted_by = SelectField(_l("Submitted by"), default="")
    origin = SelectField(_l("Made in"), default="", choices=[
        SelectChoice("", _l("Anywhere")),
        SelectChoice("app", _l("This app")),
        SelectChoice("imported", _l("Capillary's own UI (imported)")),
    ])
    date_from = _Date(_l("Created from"))
    date_to = _Date(_l("Created to"))
    sort = SelectField(_l("Sort"), default="newest",
                       choices=[SelectChoice(key, words) for key, (_column, _descending, words) in SORTS.items()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.state.choices = [SelectChoice("", _("Any status"))] + [
            SelectChoice(key, text.badge) for key, text in STATES.items()
        ]
        self.label.choices = [SelectChoice("", _("Any label"))] + [
            SelectChoice(label, label) for label in current_app.config["CAP_STATUS_LABELS"]
        ]
        people, others = submitters()
        self.submitted_by.choices = {
            "": [SelectChoice("", _("Anybody"))],
            _("People of this app"): [SelectChoice(person.name, person.label) for person in people],
            _("Capillary's makers and earlier names"): [SelectChoice(name, name) for name in others],
        }

    def active_count(self) -> int:
        """How many filters narrow the list (the phone layout's "Filters (n)")."""
        fields = (self.q, self.state, self.store, self.label, self.submitted_by, self.origin, self.date_from,
                  self.date_to)
        return sum(1 for field in fields if field.data)

    def validate_date_to(self, field):
        """The range must not end before it starts."""
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_("The end date must be on or after the start date."))

    def filters(self) -> Filters:
        """Return the cleaned filters (call after ``validate()``)."""
        return Filters(
            state=self.state.data or None,
            store=self.store.data or None,
            label=self.label.data or None,
            origin=self.origin.data or None,
            submitted_by=self.submitted_by.data or None,
            identifier_values=search_values(self.q.data or ""),
            identifier_parts=search_parts(self.q.data or ""),
            date_from=self.date_from.data,
            date_to=self.date_to.data,
            sort=self.sort.data if self.sort.data in SORTS else "newest",
        )


def search_values(term: str) -> tuple[str, ...]:
    """Return the stored forms an identifier search term may have (as typed, and normalised).

    Mobiles are stored with the country code and no ``+`` and emails with a lower-case
    domain, so "+91 97803 75690" and "9780375690" both find ``919780375690``.
    """
    term = term.strip()
    if not term:
        return ()
    values = [term]
    region = current_app.config["CAP_PHONE_REGION"]
    kinds = ["email"] if "@" in term else ["mobile"]
    for kind in kinds:
        try:
            values.append(rules.clean_identifier(kind, term, region))
        except ValueError:
            pass
    return tuple(dict.fromkeys(values))


# A part shorter than this would match most rows and cannot use the trigram index.
MIN_PART = 3
PHONE_LIKE = re.compile(r"[\d\s+().-]+")


def search_parts(term: str) -> tuple[str, ...]:
    """Return the lower-cased parts an identifier containing ``term`` has (none under 3 characters).

    "97803" finds ``919780375690``; "+91 97803" is read as its digits ("9197803");
    ``ROHAN.DAS@EXAMPLE.COM`` finds ``rohan.das@example.com``.
    """
    term = term.strip().lower()
    parts = [term]
    if PHONE_LIKE.fullmatch(term):
        parts.append(re.sub(r"\D", "", term))
    return tuple(part for part in dict.fromkeys(parts) if len(part) >= MIN_PART)
