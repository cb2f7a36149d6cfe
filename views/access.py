"""Who may open what, decided in one place for every request.

- Every page needs a signed-in, enabled user, except the sign-in page, the language switcher,
  the health probes and static files (:data:`PUBLIC_ENDPOINTS`).
- A session ends after ``CAP_IDLE_TIMEOUT_MINUTES`` without activity and, at the latest,
  ``CAP_SESSION_MAX_HOURS`` after sign-in. Background polls marked :func:`passive` do not
  count as activity; the "stay signed in" button (static/js/session.js) does.
- Pages need roles by endpoint or blueprint (:data:`ENDPOINT_ROLES`, :data:`BLUEPRINT_ROLES`;
  any one listed role suffices); :func:`require_roles` does the same for a single view.
- :func:`services.people.permissions.can_decide` is the maker-checker rule: a checker never
  decides their own request.
"""

from __future__ import annotations

import math
import time
from functools import wraps
from typing import Literal

from babel.lists import format_list
from flask import (
    Flask,
    abort,
    current_app,
    g,
    has_request_context,
    jsonify,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from sqlalchemy import bindparam, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload

from extensions import csrf, db, login_manager
from models.users import ADMIN, AGENT, CHECKER, MAKER, TRAINER, User
from views import form_pages
from views.login_page import render_login

PUBLIC_ENDPOINTS = {"auth.login", "language.choose", "static", "health.healthz", "health.readyz",
                    "health.readyz_jobs", "metrics.metrics"}  # /metrics has its own restriction
PUBLIC_PATHS = {"/healthz", "/readyz", "/readyz/jobs", "/metrics"}

# An administrator may submit too (as an agent: any store), as they may send a bulk file.
SUBMIT_ROLES = (MAKER, AGENT, ADMIN)
# The training sandbox's switches change it for everybody: not for every signed-in person.
TRAINER_ROLES = (ADMIN, TRAINER)
ENDPOINT_ROLES = {
    "requests.new": SUBMIT_ROLES,
    "requests.review": SUBMIT_ROLES,
    "requests.create": SUBMIT_ROLES,
    "requests.resend_request": SUBMIT_ROLES,
    "requests.choose_match": SUBMIT_ROLES,
    "requests.mine": SUBMIT_ROLES,
    "trainer.change_settings": TRAINER_ROLES,
    "trainer.add_fault": TRAINER_ROLES,
    "trainer.clear_faults": TRAINER_ROLES,
    "trainer.reset": TRAINER_ROLES,
    "trainer.confirm_reset": TRAINER_ROLES,
}
BLUEPRINT_ROLES = {
    "admin": (ADMIN,),
    "approvals": (CHECKER,),
    "bulk": (AGENT, ADMIN),
}
# Blueprints that exist only in the training sandbox (any signed-in user there).
SANDBOX_BLUEPRINTS = {"trainer"}

ROLE_WORDS = {MAKER: _l("maker"), AGENT: _l("support agent"), CHECKER: _l("checker"), ADMIN: _l("administrator"),
              TRAINER: _l("trainer")}


def role_list(roles, style: Literal["standard", "or"] = "standard") -> str:
    """``roles`` in plain words as a list in the page's language ("maker and checker"; ``style="or"``
    for alternatives); "none" for no role."""
    if not roles:
        return _("no role")
    return format_list([str(ROLE_WORDS.get(role, role)) for role in roles], style=style,
                       locale=get_locale() or "en")

SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"


def init_app(app: Flask) -> None:
    """Set up Flask-Login and the gate that runs before every request."""
    login_manager.init_app(app)
    # "strong": a session cookie replayed from another address or browser is emptied.
    login_manager.session_protection = "strong"
    login_manager.login_view = "auth.login"
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(lambda: sign_in_required())
    app.before_request(_gate)
    # Flask-WTF's own check is registered before this gate (app.py binds it first), so a refused
    # form was drawn again (views/errors.py) for a session past its idle time, or a page the
    # person may not open. Its automatic check is turned off and the same check runs here, after
    # the gate: a CSRF failure never shows what the person could not open with a GET.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(_check_csrf)
    app.jinja_env.globals.update(can_open=_can_open, own_token_problem=_own_token_problem,
                           may_decide=_may_decide)


def acting_person() -> User | None:
    """Return the signed-in person, or None (nobody signed in, or outside a request).

    The one place that reads Flask-Login's ``current_user`` for services: views pass the
    result into every service that acts for someone.
    """
    if not has_request_context():
        return None
    user = current_user._get_current_object()
    return user if isinstance(user, User) and user.is_authenticated else None


def _can_open(endpoint: str) -> bool:
    return current_user.is_authenticated and allowed(current_user, endpoint)


def _may_decide(record) -> bool:
    """Whether the signed-in person may approve or reject ``record`` (so its controls are shown)."""
    from services.people.permissions import can_decide

    return current_user.is_authenticated and can_decide(current_user, record)


def _own_token_problem() -> str | None:
    from services.people.identity import token_problem

    return token_problem(current_user)


# Every page reads the person's roles (navigation, access) and stores (scope): one query with
# both, instead of three. Built once: a statement object is keyed for SQLAlchemy's compiled cache
# only the first time (Session.get builds and keys a new one per call, twice the cost).
_USER_BY_ID = (select(User).options(joinedload(User.role_rows), joinedload(User.stores))
               .where(User.id == bindparam("user_id")))


def _load_user(identity: str) -> User | None:
    user_id, _, epoch = (identity or "").partition(":")
    if not (user_id.isdigit() and epoch.isdigit() and len(user_id) <= 18 and len(epoch) <= 18):
        return None
    try:
        user = db.session.execute(_USER_BY_ID, {"user_id": int(user_id)}).unique().scalar_one_or_none()
    except SQLAlchemyError:
        # Remembered, so the page says "database unavailable" (views/errors.py) rather than
        # treating the person as signed out; Flask-Login then caches them as anonymous.
        db.session.rollback()
        g.user_store_failed = True
        return None
    if user is None or user.disabled or user.session_epoch != int(epoch):
        return None
    return user


class UserStoreUnavailable(SQLAlchemyError):
    """The signed-in person could not be loaded because the database failed."""


# -- the gate ------------------------------------------------------------------------------------


def _gate():
    if request.endpoint in PUBLIC_ENDPOINTS or request.path in PUBLIC_PATHS:
        return None
    if not current_user.is_authenticated:
        if g.get("user_store_failed"):
            raise UserStoreUnavailable("the users table could not be read")
        return sign_in_required()
    expired = session_expired()
    if expired:
        end_session(expired)
        return sign_in_required(expired)
    view = current_app.view_functions.get(request.endpoint or "")
    if not getattr(view, "passive", False):
        session[SEEN_AT] = int(time.time())
    check_page_access()
    return None


def _check_csrf() -> None:
    """Flask-WTF's CSRF check for every state-changing request, once the gate has let it through."""
    config = current_app.config
    if config["WTF_CSRF_ENABLED"] and request.endpoint and request.method in config["WTF_CSRF_METHODS"]:
        csrf.protect()


def check_page_access() -> None:
    """Abort (404, 403) unless the signed-in person may open the page asked for (run by the gate)."""
    if request.blueprint in SANDBOX_BLUEPRINTS and not current_app.config["SANDBOX_MODE"]:
        abort(404)
    roles = required_roles(request.endpoint, request.blueprint)
    if roles and not current_user.has_role(*roles):
        abort(403, description=refusal(roles))


def required_roles(endpoint: str | None, blueprint: str | None) -> tuple[str, ...]:
    """Return the roles (any one suffices) a page needs; empty when any signed-in user may open it."""
    if endpoint in ENDPOINT_ROLES:
        return ENDPOINT_ROLES[endpoint]
    return BLUEPRINT_ROLES.get(blueprint or "", ())


def allowed(user: User, endpoint: str) -> bool:
    """Whether ``user`` may open ``endpoint`` (used to pick links and the page after sign-in)."""
    if endpoint not in current_app.view_functions:
        return False
    blueprint = endpoint.rpartition(".")[0]
    if blueprint in SANDBOX_BLUEPRINTS and not current_app.config["SANDBOX_MODE"]:
        return False
    roles = required_roles(endpoint, blueprint)
    return not roles or user.has_role(*roles)


def refusal(roles) -> str:
    """The 403 page's explanation."""
    # Alternatives as the language lists them ("maker or support agent"; Spanish "o"/"u").
    words, yours = role_list(roles, style="or"), role_list(current_user.roles)
    if current_user.has_role(ADMIN):  # they are the one to ask: say where to give it
        return _("This page needs the %(roles)s role. Your roles: %(yours)s. As an administrator you can give "
                 "yourself that role on the People page.", roles=words, yours=yours)
    return _("This page needs the %(roles)s role. Your roles: %(yours)s. Ask an administrator if you need access.",
             roles=words, yours=yours)


def require_roles(*roles: str):
    """Decorate a view so only users holding one of ``roles`` may open it (403 otherwise)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return sign_in_required()
            if not current_user.has_role(*roles):
                abort(403, description=refusal(roles))
            return view(*args, **kwargs)

        return wrapped

    return decorator


def passive(view):
    """Mark a view as a background poll: calling it does not keep the session alive."""
    view.passive = True
    return view


# -- session limits --------------------------------------------------------------------------------


def session_expired(now: float | None = None) -> str | None:
    """Return ``"idle"`` or ``"too_long"`` when the signed-in session is over, else None."""
    now = time.time() if now is None else now
    config = current_app.config
    signed_in, seen = session.get(SIGNED_IN_AT), session.get(SEEN_AT)
    if not isinstance(signed_in, int) or not isinstance(seen, int):
        return "idle"  # a session without the marks was not made by our sign-in
    if now >= signed_in + config["CAP_SESSION_MAX_HOURS"] * 3600:
        return "too_long"
    if now >= seen + config["CAP_IDLE_TIMEOUT_MINUTES"] * 60:
        return "idle"
    return None


def seconds_left(now: float | None = None) -> int:
    """Seconds until the session ends without further activity."""
    now = time.time() if now is None else now
    config = current_app.config
    idle_end = session.get(SEEN_AT, 0) + config["CAP_IDLE_TIMEOUT_MINUTES"] * 60
    hard_end = session.get(SIGNED_IN_AT, 0) + config["CAP_SESSION_MAX_HOURS"] * 3600
    # Rounded up: 0 exactly when session_expired() says so.
    return max(math.ceil(min(idle_end, hard_end) - now), 0)


def start_session() -> None:
    """Stamp a freshly signed-in session (call right after ``login_user``)."""
    now = int(time.time())
    session[SIGNED_IN_AT] = now
    session[SEEN_AT] = now


def end_session(reason: str) -> None:
    """End a session that ran out, and note it in the audit trail."""
    from services.people import audit

    user = current_user._get_current_object()
    if isinstance(user, User):
        audit.record_now("auth.timed_out", actor=user, target=f"user {user.username}",
                         detail="no activity" if reason == "idle" else "maximum session length reached")
    logout_user()
    session.clear()


def sign_in_required(reason: str | None = None):
    """Answer a request that needs sign-in: JSON 401 for scripts, else the sign-in page.

    A form post is not dropped: the sign-in page carries its values and shows the form again
    afterwards (views/form_pages.py).
    """
    if wants_json():
        return jsonify(signedIn=False, login=url_for("auth.login")), 401
    if request.method == "POST" and form_pages.renderer_for(request.endpoint):
        return render_login(reason=reason or "expired", resume=request.path,
                            carried=form_pages.carried_values(request.form)), 401
    if request.method in ("GET", "HEAD"):
        return redirect(url_for("auth.login", next=_here(), reason=reason))
    return redirect(url_for("auth.login", reason=reason or "expired"), 303)


def wants_json() -> bool:
    """Whether the caller is a script (fetch) rather than a page load."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" or request.is_json


def _here() -> str:
    return request.full_path if request.query_string else request.path


def home_url(user: User) -> str:
    """Where a person lands after sign-in: the first page their roles open."""
    for endpoint in ("requests.new", "approvals.index", "admin.users", "bulk.index", "requests.history"):
        if allowed(user, endpoint):
            return url_for(endpoint)
    return url_for("profile.index")
