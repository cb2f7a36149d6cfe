"""Administration: people (create, change, disable), the audit trail (filter, CSV) and the settings.

Only administrators reach these pages (views/access.py: BLUEPRINT_ROLES). The settings page is
read-only and masks every secret: a value is shown only for settings that are not secret.
"""

from __future__ import annotations

import re

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from werkzeug.datastructures import MultiDict

from config import SECRET_SETTINGS
from extensions import db
from forms.people_forms import AuditFilterForm, UserForm
from models.users import User
from services.people import accounts, audit
from views import converters, form_pages
from views.access import acting_person, role_list
from views.csv_export import csv_download

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_PAGE_SIZE = 50
# Any setting whose name says it holds a secret is masked, beside the explicit list.
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY|AUTHORIZATION", re.IGNORECASE)
_NOT_SECRET = {"CAP_OAUTH_KEY_ID", "REDIS_KEY_PREFIX", "RATELIMIT_KEY_PREFIX"}
_URL_SETTINGS = {"SQLALCHEMY_DATABASE_URI", "REDIS_URL", "RATELIMIT_STORAGE_URI"}
_SHOWN_PREFIXES = ("CAP_", "LOG_", "SESSION_", "PERMANENT_SESSION", "RATELIMIT_", "WTF_CSRF_", "JOBS_",
                   "REDIS_", "SCHEMA_")
_SHOWN = {"SANDBOX_MODE", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "DEBUG", "TESTING",
          "MAX_CONTENT_LENGTH", "PREFERRED_URL_SCHEME"}


@bp.get("")
def index():
    """The admin area starts at the people list."""
    return redirect(url_for("admin.users"))


# -- people ---------------------------------------------------------------------------------------


@bp.get("/users")
def users():
    """List every user with roles, stores, state and token state."""
    people_list = db.session.scalars(select(User).order_by(User.username)).all()
    return render_template("admin/users.html", users=people_list)


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    """Create a user with roles, stores and a first password."""
    form = UserForm()
    problem = None
    if request.method == "POST" and form.validate():
        if not form.username.data:
            form.username.errors.append(_("Enter a username."))
        elif not form.password.data:
            form.password.errors.append(_("Give the user a first password (they can change it on their profile)."))
        else:
            try:
                user = accounts.create_user(form.username.data, form.roles.data, form.password.data,
                                            form.store_specs(), form.display_name.data, actor=acting_person())
            except accounts.PeopleError as exc:
                db.session.rollback()
                problem = str(exc)
            else:
                db.session.commit()
                flash(_("User %(name)s was created.", name=user.username), "good")
                return redirect(url_for("admin.users"), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, user=None, problem=problem), status


def _snapshot(user: User) -> tuple:
    return (tuple(user.roles), sorted(store.describe() for store in user.stores), user.display_name, user.disabled)


def change_summary(user: User, before: tuple, *, password_set: bool) -> str:
    """What an edit changed, in whole sentences of the page's language (the audit keeps its own record)."""
    roles, stores, display_name, disabled = before
    sentences = []
    if tuple(user.roles) != roles:
        sentences.append(_("Roles are now: %(roles)s.", roles=role_list(user.roles)))
    now_stores = sorted(store.describe() for store in user.stores)
    if now_stores != stores:
        sentences.append(_("Stores are now: %(stores)s.", stores=", ".join(now_stores)) if now_stores
                         else _("No store is assigned any more."))
    if user.display_name != display_name:
        sentences.append(_("The display name was changed."))
    if user.disabled != disabled:
        sentences.append(_("The account is now disabled.") if user.disabled else _("The account is now enabled."))
    if password_set:
        sentences.append(_("The password was changed."))
    if not sentences:
        return _("Nothing was changed for user %(name)s.", name=user.username)
    return " ".join([_("User %(name)s was saved.", name=user.username), *sentences])


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int):
    """Change a user's roles, stores, name or enabled state, or set a new password."""
    user = db.session.get(User, user_id) or abort(404)
    problem = None
    if request.method == "GET":
        form = UserForm(formdata=None, data=_user_data(user))
    else:
        form = UserForm()
        form.username.data = user.username  # the username cannot be changed
        if form.validate():
            before = _snapshot(user)
            try:
                accounts.update_user(user, roles=form.roles.data, stores=form.store_specs(),
                                             display_name=form.display_name.data, disabled=form.disabled.data,
                                               actor=acting_person())
                if form.password.data:
                    accounts.set_password(user, form.password.data, actor=acting_person())
            except accounts.PeopleError as exc:
                db.session.rollback()
                problem = str(exc)
            else:
                db.session.commit()
                flash(change_summary(user, before, password_set=bool(form.password.data)), "good")
                return redirect(url_for("admin.users"), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, user=user, problem=problem), status


def _user_data(user: User) -> dict:
    return {
        "username": user.username, "display_name": user.display_name, "roles": list(user.roles),
        "stores": "\n".join(s.describe() for s in user.stores), "disabled": user.disabled,
    }


@form_pages.register("admin.new_user", "admin.edit_user")
def _user_form_again(formdata: MultiDict, notice: str, args: dict):
    form = UserForm(formdata=formdata)
    user = db.session.get(User, args["user_id"]) if "user_id" in args else None
    return render_template("admin/user_form.html", form=form, user=user, form_expired=True)


# -- audit trail -----------------------------------------------------------------------------------


def _audit_filter() -> tuple[AuditFilterForm, audit.AuditFilter]:
    form = AuditFilterForm(request.args)
    if request.args and not form.validate():
        return form, audit.AuditFilter()
    return form, audit.AuditFilter(
        who=form.who.data or "", action=form.action.data or "", ip=form.ip.data or "",
        text=form.text.data or "", since=converters.clamp_day(form.since.data),
        until=converters.clamp_day(form.until.data),
    )


@bp.get("/audit")
def audit_trail():
    """The audit trail, newest first, with filters and a page at a time."""
    form, filters = _audit_filter()
    page = request.args.get("page", 1, type=converters.page_number)
    stmt = filters.statement()
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    events = db.session.scalars(stmt.limit(AUDIT_PAGE_SIZE).offset((page - 1) * AUDIT_PAGE_SIZE)).all()
    pages = max((total + AUDIT_PAGE_SIZE - 1) // AUDIT_PAGE_SIZE, 1)
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("admin/audit.html", form=form, events=events, total=total, page=page, pages=pages,
                           query=query, actions=audit.ACTIONS, people=audit.who_choices())


@bp.get("/audit.csv")
def audit_csv():
    """The filtered audit trail as CSV (streamed; cells that could run as formulas are defused)."""
    _form, filters = _audit_filter()
    return csv_download("audit-trail.csv", audit.CSV_COLUMNS, lambda: audit.csv_rows(
        db.session.scalars(filters.statement().execution_options(yield_per=500))))


# -- settings --------------------------------------------------------------------------------------


def masked_settings() -> list[tuple[str, str, bool]]:
    """Return ``(name, shown value, is_secret)`` for the settings page, secrets masked."""
    config = current_app.config
    rows = []
    for name in sorted(config):
        if not (name in _SHOWN or name.startswith(_SHOWN_PREFIXES)):
            continue
        value = config[name]
        secret = name in SECRET_SETTINGS or (bool(_SECRET_NAME.search(name)) and name not in _NOT_SECRET)
        if secret:
            shown = _("set (hidden)") if value else _("not set")
        elif name in _URL_SETTINGS and value:
            shown = _mask_url(str(value))
        elif isinstance(value, tuple | list):
            shown = ", ".join(str(v) for v in value)
        else:
            shown = "" if value is None else str(value)
        rows.append((name, shown, secret))
    return rows


def _mask_url(value: str) -> str:
    try:
        return make_url(value).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"//[^@/]*@", "//***@", value)


@bp.get("/settings")
def settings():
    """A read-only view of the running settings with every secret masked."""
    return render_template("admin/settings.html", rows=masked_settings())
