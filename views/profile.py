"""The signed-in person's own page: roles and stores, their Capillary token, their password.

The token is write-only: once saved it is only ever shown as "set · expires …" (from its
``exp`` claim), never echoed, logged or put in the session.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from werkzeug.datastructures import MultiDict

from extensions import db
from forms.people_forms import PasswordChangeForm, TokenForm
from services.people import accounts, audit, identity
from views import access, form_pages

bp = Blueprint("profile", __name__, url_prefix="/profile")


def _page(token_form=None, password_form=None, expired=False, status=200):
    return render_template(
        "profile/index.html",
        user=current_user,
        token_state=current_user.token_state(),
        token_problem=identity.token_problem(current_user),
        token_form=token_form or TokenForm(formdata=None),
        password_form=password_form or PasswordChangeForm(formdata=None),
        form_expired=expired,
    ), status


@bp.get("")
def index():
    """Show the person's account and token state."""
    return _page()


@bp.post("/token")
def set_token():
    """Store the person's own X-CAP-UI-AUTH-TOKEN, encrypted."""
    form = TokenForm()
    if form.validate():
        try:
            identity.set_user_token(current_user, form.token.data)
        except identity.TokenFormatError as exc:
            form.token.errors.append(str(exc))
        else:
            expires = current_user.ui_token_expires_at
            audit.record("token.set", actor=access.acting_person(), target=f"user {current_user.username}",
                         detail=f"expires {expires:%Y-%m-%d %H:%M} UTC" if expires else "no expiry in the token")
            db.session.commit()
            flash(_("Your Capillary token is saved. Requests you submit or decide now use it."), "good")
            return redirect(url_for("profile.index"), 303)
    return _page(token_form=form, status=422)


@bp.post("/token/clear")
def clear_token():
    """Forget the person's own token."""
    if current_user.has_own_token:
        identity.clear_user_token(current_user)
        audit.record("token.cleared", actor=access.acting_person(), target=f"user {current_user.username}")
        db.session.commit()
        flash(_("Your Capillary token is removed. The app's shared token is used for your requests."), "good")
    return redirect(url_for("profile.index"), 303)


@bp.post("/password")
def change_password():
    """Change one's own password (the current one is asked again)."""
    form = PasswordChangeForm()
    if form.validate():
        if not current_user.check_password(form.current.data):
            form.current.errors.append(_("That is not your current password."))
        else:
            try:
                accounts.set_password(current_user, form.new.data, own=True, actor=access.acting_person())
            except accounts.PeopleError as exc:
                form.new.errors.append(str(exc))
            else:
                db.session.commit()
                # The new password ended every session, this one included: start a fresh one here.
                login_user(current_user._get_current_object(), remember=False, fresh=True)
                access.start_session()
                flash(_("Your password is changed. Other sessions you had are signed out."), "good")
                return redirect(url_for("profile.index"), 303)
    return _page(password_form=form, status=422)


@form_pages.register("profile.set_token", "profile.clear_token", "profile.change_password")
def _profile_again(formdata: MultiDict, notice: str, args: dict):
    # Nothing on this page is worth carrying (tokens and passwords are never echoed back).
    return _page(expired=True)[0]
