"""The sign-in page, drawn for the sign-in view and for the access gate (a form posted signed out).

Kept apart from both, so the gate (views/access.py) and the sign-in view (views/auth.py) use it
without importing each other.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import lazy_gettext as _l

from forms.people_forms import LoginForm
from services.people import accounts
from views import form_pages

REASONS = {
    "idle": _l("You were signed out because there was no activity for a while. Sign in again to continue."),
    "too_long": _l("Your session reached its maximum length. Sign in again to continue."),
    "signed_out": _l("You have signed out."),
    "expired": _l("Your session ended. Sign in again to continue."),
    "form_expired": _l("This form expired because the page was open too long. Sign in again."),
}
_LOGIN_FIELDS = ("username", "password", "csrf_token", "resume")
CARRY_PREFIX = "carry-"


def render_login(*, form: LoginForm | None = None, reason: str | None = None, error: str | None = None,
                 resume: str | None = None, carried=(), next_url: str | None = None) -> str:
    """Render the sign-in page (also used by the gate when a form post arrives signed out)."""
    if form is None:
        form = LoginForm(formdata=None)
    if resume and form_pages.resolve(resume) is None:
        resume, carried = None, ()
    demo_users = accounts.DEMO_USERS if current_app.config["SANDBOX_MODE"] else ()
    notice = REASONS.get(reason or "")
    return render_template(
        "auth/login.html", form=form, notice=str(notice) if notice is not None else None, error=error,
        resume=resume,
        carried=[(CARRY_PREFIX + name, value) for name, value in carried],
        next_url=safe_next(next_url), demo_users=demo_users,
    )


def safe_next(target: str | None) -> str | None:
    """Return ``target`` if it is a path on this site (never another host), else None."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ch in target for ch in "\r\n\t\\"):
        return None
    return target
