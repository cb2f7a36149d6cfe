"""People who use the app: local accounts with roles, store assignments and a Capillary token.

A user may hold several roles. Passwords are kept only as salted scrypt hashes (werkzeug); the
personal ``X-CAP-UI-AUTH-TOKEN`` only encrypted (see :mod:`services.people.identity`). Users are never
deleted, only disabled, so the audit trail and the requests they made keep pointing at them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import Model
from models.base import utcnow

MAKER = "maker"
AGENT = "agent"
CHECKER = "checker"
ADMIN = "admin"
TRAINER = "trainer"  # the training sandbox's switches that change it for everybody
ROLES = (MAKER, AGENT, CHECKER, ADMIN, TRAINER)
# How each role is offered on the admin form (translated when shown).
ROLE_TEXT = {
    MAKER: _l("Maker: submits requests for their own stores"),
    AGENT: _l("Support agent: submits requests for any store"),
    CHECKER: _l("Checker: approves or rejects other people's requests"),
    ADMIN: _l("Administrator: people, audit trail, settings"),
    TRAINER: _l("Trainer: the training sandbox's switches, faults and reset"),
}


class TokenState(StrEnum):
    """The state of a user's personal Capillary token."""

    NONE = "none"  # not set: the deployment's shared token is used
    ACTIVE = "active"
    EXPIRED = "expired"  # by its exp claim
    REJECTED = "rejected"  # the gateway answered 401 to it


class User(UserMixin, Model):
    """One person who signs in to the app."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(default=False)
    # Part of the Flask-Login id: raising it ends every session the person has (sign-out,
    # new password, disabled), since the signed session cookie cannot be revoked otherwise.
    session_epoch: Mapped[int] = mapped_column(default=0)

    # The personal X-CAP-UI-AUTH-TOKEN, Fernet-encrypted; never stored or shown in clear.
    ui_token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    ui_token_set_at: Mapped[datetime | None] = mapped_column()
    ui_token_expires_at: Mapped[datetime | None] = mapped_column()  # the JWT's exp claim, if any
    ui_token_rejected_at: Mapped[datetime | None] = mapped_column()  # when the gateway said 401

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column()
    # When the person last opened "My requests": decisions on their requests after it are new
    # (the header's badge). None: never opened.
    my_requests_seen_at: Mapped[datetime | None] = mapped_column()

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin", order_by="UserRole.role"
    )
    stores: Mapped[list[StoreAssignment]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin", order_by="StoreAssignment.store_id"
    )

    def __repr__(self) -> str:
        return f"<User {self.username}>"

    # -- Flask-Login ------------------------------------------------------------------------

    def get_id(self) -> str:
        """Return the session identity: the user id and the current session epoch."""
        return f"{self.id}:{self.session_epoch}"

    @property
    def is_active(self) -> bool:
        """Disabled users cannot sign in and lose their sessions at once."""
        return not self.disabled

    def end_sessions(self) -> None:
        """Invalidate every session cookie issued to this user so far."""
        self.session_epoch = (self.session_epoch or 0) + 1

    # -- password ---------------------------------------------------------------------------

    def set_password(self, password: str, method: str = "scrypt") -> None:
        """Store a salted hash of ``password`` and end the user's other sessions."""
        self.password_hash = generate_password_hash(password, method=method)
        if self.id is not None:
            self.end_sessions()

    def check_password(self, password: str) -> bool:
        """Return whether ``password`` matches the stored hash (constant time)."""
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    # -- roles and stores -------------------------------------------------------------------

    @property
    def roles(self) -> tuple[str, ...]:
        """The user's roles, in the canonical order of :data:`ROLES`."""
        held = {row.role for row in self.role_rows}
        return tuple(role for role in ROLES if role in held)

    def has_role(self, *roles: str) -> bool:
        """Return whether the user holds at least one of ``roles``."""
        return any(row.role in roles for row in self.role_rows)

    def set_roles(self, roles) -> None:
        """Replace the user's roles (unknown role names raise ValueError)."""
        wanted = set(roles)
        unknown = wanted - set(ROLES)
        if unknown:
            raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}")
        keep = [row for row in self.role_rows if row.role in wanted]
        held = {row.role for row in keep}
        self.role_rows = keep + [UserRole(role=role) for role in ROLES if role in wanted and role not in held]

    @property
    def store_ids(self) -> tuple[str, ...]:
        """The IDs of the stores the user is assigned to."""
        return tuple(store.store_id for store in self.stores)

    def assignment(self, store_id: str) -> StoreAssignment | None:
        """Return the user's assignment to ``store_id``, if any."""
        return next((store for store in self.stores if store.store_id == store_id), None)

    # -- personal Capillary token -----------------------------------------------------------

    @property
    def has_own_token(self) -> bool:
        """Whether the user stored a personal X-CAP-UI-AUTH-TOKEN."""
        return self.ui_token_ciphertext is not None

    def token_state(self, now: datetime | None = None) -> TokenState:
        """Return the personal token's state (rejected wins over expired)."""
        if not self.has_own_token:
            return TokenState.NONE
        if self.ui_token_rejected_at is not None:
            return TokenState.REJECTED
        if self.ui_token_expires_at is not None and self.ui_token_expires_at <= (now or utcnow()):
            return TokenState.EXPIRED
        return TokenState.ACTIVE

    @property
    def name(self) -> str:
        """The name recorded as who submitted or decided: the display name, else the username."""
        return (self.display_name.strip() or self.username)[:255]

    @property
    def label(self) -> str:
        """How the user is named on pages: display name and username."""
        return f"{self.display_name} ({self.username})" if self.display_name else self.username


class UserRole(Model):
    """One role held by one user."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_rows")

    __table_args__ = (CheckConstraint("role IN ('maker', 'agent', 'checker', 'admin', 'trainer')", name="known_role"),)


class StoreAssignment(Model):
    """A store a maker may submit for; zone and concept (and a default till) when known."""

    __tablename__ = "store_assignments"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # A store sits in one zone and one concept, so when these are set the form locks them too;
    # a store has many tills, so the till is only a default the maker may change.
    zone_id: Mapped[str] = mapped_column(String(64), default="")
    concept_id: Mapped[str] = mapped_column(String(64), default="")
    till_id: Mapped[str] = mapped_column(String(64), default="")

    user: Mapped[User] = relationship(back_populates="stores")

    def describe(self) -> str:
        """The assignment as written in the CLI and the admin form (``STORE zone=Z ...``)."""
        parts = [self.store_id]
        parts += [f"{key}={value}" for key, value in
                  (("zone", self.zone_id), ("concept", self.concept_id), ("till", self.till_id)) if value]
        return " ".join(parts)
