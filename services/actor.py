"""Who is acting: the one place "who submitted" and "who decided" values come from.

Until sign-in exists this returns None (the pages then say "a checker" / leave the submitter
empty). Sign-in (Flask-Login) is picked up automatically when the app has a login manager:
the signed-in user's display name is used.
"""

from __future__ import annotations

from flask import current_app, has_request_context


def current_actor() -> str | None:
    """Return the acting person's display name, or None when nobody is signed in."""
    if not has_request_context() or getattr(current_app, "login_manager", None) is None:
        return None
    from flask_login import current_user

    if not getattr(current_user, "is_authenticated", False):
        return None
    for attribute in ("display_name", "name", "username"):
        value = getattr(current_user, attribute, None)
        if isinstance(value, str) and value.strip():
            return value.strip()[:255]
    return None
