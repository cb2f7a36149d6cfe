"""Forms for sign-in, the profile page and the admin pages.

Password and token fields are never given back to the browser: WTForms' PasswordField renders
empty, and a re-shown form (after an error or an expired page) keeps everything else.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
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

from models.users import ROLE_TEXT, ROLES
from services.audit import ACTIONS
from services.people import PASSWORD_MAX, PeopleError, check_password_rules, parse_stores


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField("Username", filters=[_strip],
                           validators=[DataRequired("Enter your username."), Length(max=64)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=PASSWORD_MAX)],
                             render_kw={"autocomplete": "current-password"})


class TokenForm(FlaskForm):
    """The person's own X-CAP-UI-AUTH-TOKEN (write-only)."""

    token = PasswordField("Your X-CAP-UI-AUTH-TOKEN", validators=[InputRequired("Paste the token.")],
                          render_kw={"autocomplete": "off", "spellcheck": "false"})


class PasswordChangeForm(FlaskForm):
    """Change one's own password: the current one, then the new one twice."""

    current = PasswordField("Current password", validators=[DataRequired("Enter your current password.")],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField("New password", validators=[DataRequired("Enter a new password.")],
                        render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("New password again",
                            validators=[DataRequired("Enter the new password again."),
                                        EqualTo("new", "The two new passwords are not the same.")],
                            render_kw={"autocomplete": "new-password"})


class _CheckboxList(SelectMultipleField):
    """Several checkboxes for one multi-choice field."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _role_choices():
    return [SelectChoice(role, ROLE_TEXT[role]) for role in ROLES]


class UserForm(FlaskForm):
    """An administrator's view of one user (new or existing)."""

    username = StringField("Username", filters=[_strip], validators=[Optional(), Length(max=64)],
                           render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"})
    display_name = StringField("Display name", filters=[_strip], validators=[Length(max=120)])
    roles = _CheckboxList("Roles", choices=_role_choices,
                          validators=[DataRequired("Choose at least one role.")])
    stores = TextAreaField("Stores (makers)", filters=[_strip],
                           render_kw={"rows": 3, "spellcheck": "false"})
    password = PasswordField("Password", render_kw={"autocomplete": "new-password"})
    disabled = BooleanField("Disabled: cannot sign in")

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
    return [SelectChoice("", "Any action")] + [SelectChoice(key, text) for key, text in ACTIONS.items()]


class AuditFilterForm(FlaskForm):
    """Filters of the audit trail page (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    who = StringField("Who (username)", filters=[_strip], validators=[Optional(), Length(max=64)])
    action = SelectField("Action", choices=_action_choices, validators=[Optional()])
    since = DateField("From (UTC date)", validators=[Optional()])
    until = DateField("To (UTC date)", validators=[Optional()])
    ip = StringField("Address", filters=[_strip], validators=[Optional(), Length(max=45)])
    text = StringField("Target or detail contains", filters=[_strip], validators=[Optional(), Length(max=100)])

    def validate_until(self, field):
        """The range must not end before it starts."""
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date.")
