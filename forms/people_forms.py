"""Forms for sign-in, the profile page and the admin pages.

Password and token fields are never given back to the browser: WTForms' PasswordField renders
empty, and a re-shown form (after an error or an expired page) keeps everything else.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional, ValidationError

from forms.base import AppForm
from forms.validators import strip
from models.users import ROLE_TEXT, ROLES
from services.people.accounts import PASSWORD_MAX, PeopleError, check_password_rules, parse_stores
from services.people.audit import ACTIONS


class LoginForm(AppForm):
    """Username and password."""

    username = StringField(_l("Username"), filters=[strip],
                           validators=[DataRequired(_l("Enter your username.")), Length(max=64)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField(_l("Password"),
                             validators=[DataRequired(_l("Enter your password.")), Length(max=PASSWORD_MAX)],
                             render_kw={"autocomplete": "current-password"})


class TokenForm(AppForm):
    """The person's own X-CAP-UI-AUTH-TOKEN (write-only)."""

    token = PasswordField(_l("Your X-CAP-UI-AUTH-TOKEN"), validators=[InputRequired(_l("Paste the token."))],
                          render_kw={"autocomplete": "off", "spellcheck": "false"})


class PasswordChangeForm(AppForm):
    """Change one's own password: the current one, then the new one twice."""

    current = PasswordField(_l("Current password"), validators=[DataRequired(_l("Enter your current password."))],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField(_l("New password"), validators=[DataRequired(_l("Enter a new password."))],
                        render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("New password again"),
                            validators=[DataRequired(_l("Enter the new password again.")),
                                        EqualTo("new", _l("The two new passwords are not the same."))],
                            render_kw={"autocomplete": "new-password"})


class _CheckboxList(SelectMultipleField):
    """Several checkboxes for one multi-choice field."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _role_choices():
    return [SelectChoice(role, ROLE_TEXT[role]) for role in ROLES]


class UserForm(AppForm):
    """An administrator's view of one user (new or existing)."""

    username = StringField(_l("Username"), filters=[strip], validators=[Optional(), Length(max=64)],
                           render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"})
    display_name = StringField(_l("Display name"), filters=[strip], validators=[Length(max=120)])
    roles = _CheckboxList(_l("Roles"), choices=_role_choices,
                          validators=[DataRequired(_l("Choose at least one role."))])
    stores = TextAreaField(_l("Stores (makers)"), filters=[strip],
                           render_kw={"rows": 3, "spellcheck": "false"})
    password = PasswordField(_l("Password"), render_kw={"autocomplete": "new-password"})
    disabled = BooleanField(_l("Disabled: cannot sign in"))

    def store_specs(self) -> list[str]:
        """The stores field, one store per line."""
        return [line for line in (self.stores.data or "").splitlines() if line.strip()]

    def validate_stores(self, field):
        """Check the store lines' syntax."""
        try:
            parse_stores(self.store_specs())
        except PeopleError as exc:
            raise ValidationError(str(exc)) from exc

    def validate_password(self, field):
        """Check the password rules when one is given."""
        if field.data:
            try:
                check_password_rules(field.data, (self.username.data or "").lower())
            except PeopleError as exc:
                raise ValidationError(str(exc)) from exc


def _action_choices():
    return [SelectChoice("", _("Any action"))] + [SelectChoice(key, text) for key, text in ACTIONS.items()]


class AuditFilterForm(AppForm):
    """Filters of the audit trail page (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    who = StringField(_l("Who (username)"), filters=[strip], validators=[Optional(), Length(max=64)])
    action = SelectField(_l("Action"), choices=_action_choices, validators=[Optional()])
    since = DateField(_l("From (date)"), validators=[Optional()])
    until = DateField(_l("To (date)"), validators=[Optional()])
    ip = StringField(_l("Address"), filters=[strip], validators=[Optional(), Length(max=45)])
    text = StringField(_l("Target or detail contains"), filters=[strip],
                       validators=[Optional(), Length(max=100)])

    def validate_until(self, field):
        """The range must not end before it starts."""
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_("The end date is before the start date."))
