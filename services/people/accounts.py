"""Manage local accounts: create, change, disable, set passwords, sign in, and the sandbox's demo people.

Used by ``flask users ...`` (commands/users_cli.py), the admin pages and the sign-in page, so
the rules (username format, password length, store syntax) and the audit events are the
same whichever way a change is made. Callers commit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from models import utcnow
from models.users import ADMIN, AGENT, CHECKER, MAKER, ROLES, TRAINER, StoreAssignment, User
from services.people import audit

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._@-]{1,63}")
PASSWORD_MIN = 12  # ASVS 2.1.1; no composition rules (2.1.9)
PASSWORD_MAX = 256
_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STORE_KEYS = {"zone": "zone_id", "concept": "concept_id", "till": "till_id"}


class PeopleError(ValueError):
    """A user change was refused; the message says why in plain words."""


@dataclass(frozen=True)
class DemoUser:
    """One training-sandbox account, listed on the sign-in page."""

    username: str
    password: str
    roles: tuple[str, ...]
    display_name: str
    stores: tuple[str, ...] = ()

    @property
    def store_ids(self) -> tuple[str, ...]:
        """Just the store IDs of :attr:`stores`."""
        return tuple(spec.split()[0] for spec in self.stores)


# The sandbox's demo store is the one in Capillary's documented example (sandbox/state.py).
DEMO_USERS = (
    DemoUser("maker", "till-and-counter", (MAKER,), "Demo store manager",
             ("50682288 zone=50682286 concept=50678331 till=50682289",)),
    DemoUser("agent", "help-desk-sandbox", (AGENT,), "Demo support agent"),
    DemoUser("checker", "second-pair-of-eyes", (CHECKER,), "Demo checker"),
    DemoUser("admin", "keys-to-the-sandbox", (ADMIN,), "Demo administrator"),
    DemoUser("trainer", "runs-the-training-day", (TRAINER,), "Demo trainer"),
)


def _hash_method() -> str:
    return current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")


def normalise_username(name: str) -> str:
    """Return the username in its stored form (lower case); raise PeopleError if not allowed."""
    username = (name or "").strip().lower()
    if not USERNAME_PATTERN.fullmatch(username):
        raise PeopleError(_("A username is 2 to 64 characters: letters, digits, and . _ @ - "
                            "(starting with a letter or digit)."))
    return username


def check_password_rules(password: str, username: str) -> None:
    """Raise PeopleError when ``password`` is too short, too long or is the username."""
    if len(password) < PASSWORD_MIN:
        raise PeopleError(_("A password needs at least %(min)d characters; a few words make a good one.",
                            min=PASSWORD_MIN))
    if len(password) > PASSWORD_MAX:
        raise PeopleError(_("A password can have at most %(max)d characters.", max=PASSWORD_MAX))
    if username and username in password.lower():
        raise PeopleError(_("A password must not contain the username."))


def parse_store(spec: str) -> dict[str, str]:
    """Read ``STORE_ID [zone=Z] [concept=C] [till=T]`` (spaces or commas between the parts)."""
    parts = [p for p in re.split(r"[\s,]+", (spec or "").strip()) if p]
    if not parts or "=" in parts[0] or not _ID_PATTERN.fullmatch(parts[0]):
        raise PeopleError(_("'%(spec)s' is not a store: write the store ID, optionally followed by "
                            "zone=ID concept=ID till=ID.", spec=spec))
    fields = {"store_id": parts[0]}
    for part in parts[1:]:
        key, _sep, value = part.partition("=")
        if key not in _STORE_KEYS or not _ID_PATTERN.fullmatch(value):
            raise PeopleError(_("'%(part)s' in '%(spec)s' is not understood: use zone=ID, concept=ID or till=ID.",
                                part=part, spec=spec))
        fields[_STORE_KEYS[key]] = value
    return fields


def parse_stores(specs: Iterable[str]) -> list[dict[str, str]]:
    """Read several store specs, refusing the same store twice."""
    stores = [parse_store(spec) for spec in specs if spec and spec.strip()]
    seen = [s["store_id"] for s in stores]
    duplicates = sorted({s for s in seen if seen.count(s) > 1})
    if duplicates:
        raise PeopleError(_("Store %(stores)s is listed more than once.", stores=", ".join(duplicates)))
    return stores


def _check_roles(roles: Iterable[str], stores: list) -> tuple[str, ...]:
    wanted = tuple(role for role in ROLES if role in set(roles))
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise PeopleError(ngettext("Unknown role: %(unknown)s. Roles: %(roles)s.",
                                   "Unknown roles: %(unknown)s. Roles: %(roles)s.", len(unknown),
                                   unknown=", ".join(sorted(unknown)), roles=", ".join(ROLES)))
    if not wanted:
        raise PeopleError(_("Give the user at least one role."))
    if MAKER in wanted and AGENT not in wanted and not stores:
        raise PeopleError(_("A maker needs at least one store (a maker submits only for their own stores)."))
    return wanted


def find_user(username: str) -> User | None:
    """Return the user called ``username`` (any case), or None."""
    name = (username or "").strip().lower()
    return db.session.scalar(select(User).where(User.username == name)) if name else None


def create_user(username: str, roles: Iterable[str], password: str, stores: Iterable[str] = (),
                display_name: str = "", *, actor: User | None, actor_name: str | None = None) -> User:
    """Create a user; raise PeopleError when a rule is broken or the name is taken.

    ``actor`` (or ``actor_name`` when nobody signed in acts) is recorded in the audit trail.
    """
    name = normalise_username(username)
    if find_user(name) is not None:
        raise PeopleError(_("There is already a user called %(name)s.", name=name))
    parsed = parse_stores(stores)
    wanted = _check_roles(list(roles), parsed)
    check_password_rules(password, name)
    user = User(username=name, display_name=(display_name or "").strip()[:120])
    user.set_password(password, _hash_method())
    user.set_roles(wanted)
    user.stores = [StoreAssignment(**fields) for fields in parsed]
    db.session.add(user)
    db.session.flush()
    audit.record("user.created", target=f"user {name}", detail=_summary(user), actor=actor, actor_name=actor_name)
    return user


def update_user(user: User, *, roles: Iterable[str], stores: Iterable[str], display_name: str,
                disabled: bool, actor: User | None) -> list[str]:
    """Change roles, stores, name and enabled state as ``actor``; return what changed (also audited)."""
    parsed = parse_stores(stores)
    wanted = _check_roles(list(roles), parsed)
    if actor is not None and actor.id == user.id:
        if ADMIN not in wanted:
            raise PeopleError(_("You cannot remove your own administrator role (ask another administrator)."))
        if disabled:
            raise PeopleError(_("You cannot disable your own account."))
    if ADMIN in user.roles and (ADMIN not in wanted or disabled) and _active_admins() <= 1 and not user.disabled:
        raise PeopleError(_("This is the last active administrator: make someone else an administrator first."))
    changes = []
    if wanted != user.roles:
        changes.append(f"roles {', '.join(user.roles) or 'none'} → {', '.join(wanted)}")
        user.set_roles(wanted)
    before = sorted(store.describe() for store in user.stores)
    _replace_stores(user, parsed)
    after = sorted(store.describe() for store in user.stores)
    if before != after:
        changes.append(f"stores {', '.join(before) or 'none'} → {', '.join(after) or 'none'}")
    name = (display_name or "").strip()[:120]
    if name != user.display_name:
        changes.append("display name")
        user.display_name = name
    if changes:
        audit.record("user.changed", actor=actor, target=f"user {user.username}", detail="; ".join(changes)[:500])
    if disabled != user.disabled:
        set_disabled(user, disabled, actor=actor)
        changes.append("disabled" if disabled else "enabled")
    return changes


def _replace_stores(user: User, parsed: list[dict[str, str]]) -> None:
    # Edit rows in place: deleting and re-adding the same (user, store) key in one flush would clash.
    wanted = {fields["store_id"]: fields for fields in parsed}
    for store in list(user.stores):
        if store.store_id not in wanted:
            user.stores.remove(store)
    for store_id, fields in wanted.items():
        assigned = user.assignment(store_id)
        if assigned is None:
            user.stores.append(StoreAssignment(**fields))
        else:
            assigned.zone_id = fields.get("zone_id", "")
            assigned.concept_id = fields.get("concept_id", "")
            assigned.till_id = fields.get("till_id", "")


def set_disabled(user: User, disabled: bool, *, actor: User | None, actor_name: str | None = None) -> None:
    """Disable (ending every session at once) or enable a user."""
    user.disabled = disabled
    if disabled:
        user.end_sessions()
    audit.record("user.disabled" if disabled else "user.enabled", target=f"user {user.username}",
                 actor=actor, actor_name=actor_name)


def set_password(user: User, password: str, *, own: bool = False, actor: User | None,
                 actor_name: str | None = None) -> None:
    """Set a new password (ending the user's sessions); ``own`` when people change their own."""
    check_password_rules(password, user.username)
    user.set_password(password, _hash_method())
    audit.record("password.changed" if own else "user.password_set", target=f"user {user.username}",
                 actor=actor, actor_name=actor_name)


def _active_admins() -> int:
    from models.users import UserRole

    return db.session.scalar(
        select(func.count()).select_from(User).join(UserRole)
        .where(UserRole.role == ADMIN, User.disabled.is_(False))
    ) or 0


def _summary(user: User) -> str:
    stores = ", ".join(s.describe() for s in user.stores)
    return f"roles {', '.join(user.roles)}" + (f"; stores {stores}" if stores else "")


@lru_cache(maxsize=1)
def _dummy_hash(method: str) -> str:
    return generate_password_hash("not-a-real-password-used-for-timing", method=method)


def authenticate(username: str, password: str) -> tuple[User | None, str]:
    """Check a sign-in; return ``(user, "")`` or ``(None, reason)``.

    The reason is for the audit trail only (``unknown user``, ``wrong password``, ``disabled``);
    people are shown one message for all but "disabled", which is only said after the right
    password. An unknown name still costs one hash check, so timing does not reveal names.
    """
    user = find_user(username)
    if user is None:
        check_password_hash(_dummy_hash(_hash_method()), password or "")
        return None, "unknown user"
    if not user.check_password(password or ""):
        return None, "wrong password"
    if user.disabled:
        return None, "disabled"
    user.last_sign_in_at = utcnow()
    return user, ""


@lru_cache(maxsize=8)
def _demo_hash(password: str, method: str) -> str:
    # Hashing is slow on purpose; the demo passwords are public, so one hash per process is fine.
    return generate_password_hash(password, method=method)


def seed_demo_users() -> list[str]:
    """Create the training sandbox's demo people that do not exist yet; return their names."""
    created = []
    for demo in DEMO_USERS:
        if find_user(demo.username) is not None:
            continue
        user = User(username=demo.username, display_name=demo.display_name,
                    password_hash=_demo_hash(demo.password, _hash_method()))
        user.set_roles(demo.roles)
        user.stores = [StoreAssignment(**parse_store(spec)) for spec in demo.stores]
        db.session.add(user)
        created.append(demo.username)
    if created:
        db.session.flush()
        audit.record("user.created", actor=None, actor_name="sandbox start-up",
                     target="demo users", detail=f"training sandbox demo users: {', '.join(created)}")
    return created


def init_app(app) -> None:
    """In sandbox mode, make sure the demo people exist (real mode seeds nobody)."""
    if not app.config["SANDBOX_MODE"]:
        return
    from sqlalchemy.exc import SQLAlchemyError

    with app.app_context():
        try:
            seed_demo_users()
            db.session.commit()
        except SQLAlchemyError:
            # The schema is not there yet (or another worker seeded first): pages say what to run.
            db.session.rollback()
            logging.getLogger(__name__).warning("demo users not created: the database is not ready")
