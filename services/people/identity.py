"""Per-user Capillary identity: which X-CAP-UI-AUTH-TOKEN a person acts with.

Capillary records the maker and checker from the ``X-CAP-UI-AUTH-TOKEN`` JWT, so a person who
stored their own token on their profile submits and decides with it; everyone else uses the
deployment's shared ``CAP_UI_AUTH_TOKEN`` / ``CAP_CHECKER_UI_AUTH_TOKEN``.

A personal token is encrypted at rest with Fernet under ``CAP_TOKEN_KEY`` (several
comma-separated keys rotate: the first encrypts, any decrypts) and is never shown again. Its
``exp`` claim is read *without verifying the signature*, only to tell the person when it
ends; Capillary is the one that checks it. A personal token the gateway rejected (401) or
that has expired is never silently swapped for the shared one: that would make Capillary
record someone else as the maker. The call fails with :class:`OwnTokenUnusable` instead,
which says to renew it on the profile page.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from gateway.errors import GatewayError, TokenRejected
from models import utcnow
from models.users import TokenState, User

log = logging.getLogger(__name__)

MAKER = "maker"
CHECKER = "checker"
# Header-safe: printable ASCII without spaces. JWTs are a few hundred characters.
_TOKEN_PATTERN = re.compile(r"[\x21-\x7e]{16,8192}")


class TokenFormatError(ValueError):
    """The text given as a token cannot be one (the message says why, never echoing it)."""


class OwnTokenUnusable(TokenRejected):
    """The acting person's own token is known to be rejected, expired or unreadable: nothing is sent.

    ``kind`` says which (``own_token_rejected``, ``own_token_expired``, ``own_token_unreadable``),
    so pages word it (services/lifecycle/wording.py) rather than show the English message.
    """

    def __init__(self, message: str, kind: str = "own_token_rejected"):
        super().__init__(message, status=None)
        self.kind = kind


# -- encryption at rest ------------------------------------------------------------------------


def _cipher() -> MultiFernet:
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # typed as Flask, is a proxy
    cipher = app.extensions.get("token_cipher")
    if cipher is None:
        keys = [key.strip() for key in app.config["CAP_TOKEN_KEY"].split(",") if key.strip()]
        cipher = app.extensions["token_cipher"] = MultiFernet([Fernet(key) for key in keys])
    return cipher


def encrypt(token: str) -> bytes:
    """Return ``token`` encrypted (and authenticated) under the current key."""
    return _cipher().encrypt(token.encode("ascii"))


def decrypt(ciphertext: bytes | None) -> str | None:
    """Return the token, or None when there is none or no configured key opens it (e.g. a key was retired)."""
    if ciphertext is None:
        return None
    try:
        return _cipher().decrypt(ciphertext).decode("ascii")
    except (InvalidToken, UnicodeDecodeError):
        return None


# -- the exp claim -------------------------------------------------------------------------------


def token_expiry(token: str) -> datetime | None:
    """Return the JWT's ``exp`` as naive UTC, read without verifying; None if there is none."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        exp = claims.get("exp") if isinstance(claims, dict) else None
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            return None
        return datetime.fromtimestamp(exp, UTC).replace(tzinfo=None)
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError, OSError):
        return None


def check_token_text(text: str) -> str:
    """Return the token to store, stripped; raise :class:`TokenFormatError` if it cannot be one."""
    token = (text or "").strip()
    if not token:
        raise TokenFormatError(_("Paste the token."))
    if not _TOKEN_PATTERN.fullmatch(token):
        raise TokenFormatError(_(
            "That does not look like a token: it must be 16 to 8192 characters with no spaces or "
            "line breaks (copy the whole X-CAP-UI-AUTH-TOKEN value)."
        ))
    expires = token_expiry(token)
    if expires is not None and expires <= utcnow():
        raise TokenFormatError(_("That token expired on %(when)s UTC: get a new one first.",
                                 when=f"{expires:%Y-%m-%d %H:%M}"))
    return token


# -- a user's token ------------------------------------------------------------------------------


def set_user_token(user: User, text: str) -> None:
    """Validate and store ``text`` as the user's own token (encrypted); the caller commits."""
    token = check_token_text(text)
    user.ui_token_ciphertext = encrypt(token)
    user.ui_token_set_at = utcnow()
    user.ui_token_expires_at = token_expiry(token)
    user.ui_token_rejected_at = None


def clear_user_token(user: User) -> None:
    """Forget the user's own token; they act with the deployment's token again."""
    user.ui_token_ciphertext = None
    user.ui_token_set_at = user.ui_token_expires_at = user.ui_token_rejected_at = None


def token_problem(user: User | None) -> str | None:
    """Say why the user's own token cannot be used (None when it can, or when they have none).

    In the request's language; :func:`token_for` asks for it in English (a gateway error's message).
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    state = user.token_state()
    if state == TokenState.REJECTED:
        return _("Capillary rejected your own token on %(when)s UTC. "
                 "Set a new one on your profile (or clear it to use the shared token), then try again.",
                 when=f"{user.ui_token_rejected_at:%Y-%m-%d %H:%M}")
    if state == TokenState.EXPIRED:
        return _("Your own Capillary token expired on %(when)s UTC. "
                 "Set a new one on your profile (or clear it to use the shared token), then try again.",
                 when=f"{user.ui_token_expires_at:%Y-%m-%d %H:%M}")
    return None


def token_for(role: str, user: User | None) -> str:
    """Return the token ``user`` acts with as ``role`` (``maker`` or ``checker``).

    :param user: the acting person; None means "nobody in particular" (the deployment's token).
    :raises OwnTokenUnusable: the user's own token is rejected, expired or cannot be decrypted.
    """
    if user is not None and user.has_own_token:
        # An English record: the error's message is stored (error_message) like every gateway error's.
        with force_locale("en"):
            problem = token_problem(user)
        if problem:
            state = user.token_state()
            raise OwnTokenUnusable(problem + " Nothing was sent.",
                                   "own_token_expired" if state == TokenState.EXPIRED else "own_token_rejected")
        token = decrypt(user.ui_token_ciphertext)
        if token is None:
            log.warning("user %s has a stored token no configured CAP_TOKEN_KEY can decrypt", user.id)
            raise OwnTokenUnusable("Your stored Capillary token can no longer be read (the app's key "
                                   "changed). Set it again on your profile. Nothing was sent.", "own_token_unreadable")
        return token
    config = current_app.config
    if role == CHECKER:
        return config["CAP_CHECKER_UI_AUTH_TOKEN"] or config["CAP_UI_AUTH_TOKEN"]
    return config["CAP_UI_AUTH_TOKEN"]


def maker_token(user: User | None) -> str:
    """Return the X-CAP-UI-AUTH-TOKEN ``user`` submits with (None: the deployment's ``CAP_UI_AUTH_TOKEN``)."""
    return token_for(MAKER, user)


def checker_token(user: User | None) -> str:
    """Return the token ``user`` decides with (None: ``CAP_CHECKER_UI_AUTH_TOKEN``, else ``CAP_UI_AUTH_TOKEN``)."""
    return token_for(CHECKER, user)


def reading_token(submitter: User | None) -> str:
    """Return the token to *read* a request with: its submitter's own when usable, else the deployment's.

    Never the token of whoever is looking at the request: their token may be expired or refused,
    and its failure would then be recorded on somebody else's request. A read records no maker,
    so a submitter's rejected or expired token falls back to the shared one instead of failing.
    """
    if submitter is not None and submitter.has_own_token and submitter.token_state() == TokenState.ACTIVE:
        token = decrypt(submitter.ui_token_ciphertext)
        if token is not None:
            return token
    return token_for(MAKER, None)


def note_gateway_error(error: GatewayError, user: User | None, *, target: str = "") -> bool:
    """After a failed call made with ``user``'s token: on a 401 or code 2013, mark their own token rejected.

    When the deployment's shared token was refused, or Capillary reported a problem of the
    deployment (its configuration codes, §1.5), administrators are told instead
    (services/people/alerts.py). Returns whether the person's own token was marked; the changes
    (and their audit events) are added to the session for the caller to commit.

    :param target: what the failed call was about, e.g. "request 12" (for the administrators' record).
    """
    from services.people import alerts

    if isinstance(error, OwnTokenUnusable):
        return False  # nothing was sent
    shared = user is None or user.token_state() != TokenState.ACTIVE
    alerts.report(error, shared_token=shared, target=target)
    if not isinstance(error, TokenRejected) or user is None or shared:
        return False  # the shared token was used: an operator must renew CAP_UI_AUTH_TOKEN
    from services.people import audit

    user.ui_token_rejected_at = utcnow()
    why = f"code {error.code}" if error.code else f"HTTP {error.status}"
    audit.record("token.rejected", actor=user, target=f"user {user.username}",
                 detail=f"Capillary refused the user's own token ({why})")
    log.info("own token of user %s marked rejected (%s)", user.id, why)
    return True
