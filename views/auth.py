"""Sign in, sign out, and keep a session alive.

Sign-in starts a brand-new session (the old one is cleared first) and is rate limited per
address and, for failed attempts, per account. Sign-out is a POST (with its CSRF token) and
ends every session the person has. A form posted after the session ended arrives here with
its values, which are shown again after sign-in (views/form_pages.py).
"""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    redirect,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from werkzeug.datastructures import MultiDict

from extensions import db, limiter
from forms.people_forms import LoginForm
from models.users import User
from services.people import accounts, audit
from views import access, form_pages
from views.login_page import CARRY_PREFIX, render_login, safe_next

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)



def _username() -> str:
    return (request.form.get("username") or "").strip().lower()[:64]


def _account_key() -> str:
    # Failed attempts at one account *from one address*: a stranger elsewhere who knows a
    # username cannot lock its owner out by failing on purpose.
    return f"account:{get_remote_address()}:{_username()}"


def _anywhere_key() -> str:
    return "account-anywhere:" + _username()


def _too_many_message() -> str:
    log.warning("sign-in rate limit reached")
    return _("Too many sign-in attempts from this address or for this account. Wait a minute, then try again.")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["CAP_LOGIN_RATE_LIMIT"], methods=["POST"],
               key_func=get_remote_address, error_message=_too_many_message)
@limiter.limit(lambda: current_app.config["CAP_LOGIN_ACCOUNT_RATE_LIMIT"], methods=["POST"],
               key_func=_account_key, error_message=_too_many_message,
               deduct_when=lambda response: bool(g.get("sign_in_failed")))
# The ceiling on failed attempts at one account from all addresses together (ASVS 2.2.1).
@limiter.limit(lambda: current_app.config["CAP_LOGIN_ACCOUNT_ANYWHERE_LIMIT"], methods=["POST"],
               key_func=_anywhere_key, error_message=_too_many_message,
               deduct_when=lambda response: bool(g.get("sign_in_failed")))
def login():
    """Show the sign-in form; check a sign-in and start a new session."""
    if request.method == "GET":
        if current_user.is_authenticated:
            expired = access.session_expired()
            if not expired:
                return redirect(safe_next(request.args.get("next")) or access.home_url(current_user))
            access.end_session(expired)  # e.g. session.js came here when the idle time ran out
        return render_login(reason=request.args.get("reason"), next_url=request.args.get("next"))
    form = LoginForm()
    resume = request.form.get("resume") or None
    carried = [(name[len(CARRY_PREFIX):], value) for name, value in request.form.items(multi=True)
               if name.startswith(CARRY_PREFIX)]
    if not form.validate():
        return render_login(form=form, resume=resume, carried=carried,
                            next_url=request.args.get("next")), 422
    user, reason = accounts.authenticate(form.username.data, form.password.data)
    if user is None:
        g.sign_in_failed = True
        known = reason != "unknown user"
        # The typed name is recorded only if it is a real account: a password typed into the
        # username box must not end up in the audit trail.
        audit.record_now("auth.sign_in_failed", actor=None,
                         target=f"user {form.username.data.lower()}" if known else "unknown username",
                         detail=reason)
        error = (_("This account is disabled. Ask an administrator to enable it.") if reason == "disabled"
                 else _("The username or password is not right. Check them and try again."))
        return render_login(form=form, error=error, resume=resume, carried=carried,
                            next_url=request.args.get("next")), 401
    return _start_session(user, resume, carried)


def _start_session(user: User, resume: str | None, carried: list[tuple[str, str]]):
    session.clear()  # a new session at sign-in: nothing from before survives (ASVS 3.2.1)
    # Flask-WTF caches this request's CSRF token in g; it belongs to the cleared session, so a
    # form rendered below (the resumed page) would carry a token that can never validate.
    g.pop("csrf_token", None)
    login_user(user, remember=False, fresh=True)
    access.start_session()
    audit.record("auth.sign_in", actor=user, target=f"user {user.username}")
    db.session.commit()
    found = form_pages.resolve(resume)
    if found is not None and access.allowed(user, found[0]):
        _endpoint, renderer, args = found
        return renderer(MultiDict(carried), form_pages.RESUMED, args)
    return redirect(safe_next(request.args.get("next")) or access.home_url(user), 303)


@form_pages.register("auth.login")
def _login_again(formdata: MultiDict, notice: str, args: dict):
    # The sign-in page itself expired (CSRF): show it again with the username kept.
    form = LoginForm(formdata=MultiDict({"username": formdata.get("username", "")}))
    return render_login(form=form, reason="form_expired", resume=formdata.get("resume"),
                        carried=[(n[len(CARRY_PREFIX):], v) for n, v in formdata.items(multi=True)
                                 if n.startswith(CARRY_PREFIX)])


@bp.post("/logout")
def logout():
    """Sign out: end this and every other session of the person, then show the sign-in page."""
    user = current_user._get_current_object()
    if isinstance(user, User):
        user.end_sessions()
        audit.record("auth.sign_out", actor=user, target=f"user {user.username}")
        db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login", reason="signed_out"), 303)


@bp.post("/session/keep-alive")
def keep_alive():
    """The "stay signed in" button: any signed-in request counts as activity; say how long is left."""
    return _session_answer()


@bp.get("/session/status")
@access.passive
def session_status():
    """How long the session has left, without extending it (other tabs may have)."""
    return _session_answer()


def _session_answer():
    return jsonify(signedIn=True, secondsLeft=access.seconds_left(),
                   warningSeconds=current_app.config["CAP_IDLE_WARNING_SECONDS"])
