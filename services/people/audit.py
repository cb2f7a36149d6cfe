"""Write and read the audit trail (models/audit.py): who did what, when, from which address.

Events are added to the current database session so they commit in the same transaction as
the change they describe (a submission and its event are stored together or not at all).
Details are short plain words: never a password, token or Authorization value.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from flask import g, has_request_context, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from extensions import db
from i18n import local_day_start
from models import AuditEvent, utcnow
from models.users import User

# Every action the app records, with the words the admin page shows for it (translated when shown;
# events store only the key).
ACTIONS = {
    "auth.sign_in": _l("Signed in"),
    "auth.sign_in_failed": _l("Failed sign-in"),
    "auth.sign_out": _l("Signed out"),
    "auth.timed_out": _l("Signed out after inactivity"),
    "request.submitted": _l("Submitted a request"),
    "request.approved": _l("Approved a request"),
    "request.rejected": _l("Rejected a request"),
    "request.decided_many": _l("Confirmed one decision for many requests"),
    "bulk.confirmed": _l("Confirmed a bulk file for sending"),
    "token.set": _l("Set own Capillary token"),
    "token.cleared": _l("Cleared own Capillary token"),
    "token.rejected": _l("Own Capillary token rejected by Capillary"),
    "gateway.token_rejected": _l("Capillary rejected the deployment's token or credentials"),
    "gateway.misconfigured": _l("Capillary reported a configuration problem"),
    "password.changed": _l("Changed own password"),
    "user.created": _l("Created a user"),
    "user.changed": _l("Changed a user"),
    "user.disabled": _l("Disabled a user"),
    "user.enabled": _l("Enabled a user"),
    "user.password_set": _l("Set a user's password"),
}

def command_line_name() -> str:
    """The actor name of an act done on the server's command line (``flask users …``)."""
    try:
        return f"command line ({getpass.getuser()})"
    except (KeyError, OSError):
        return "command line"


def record(action: str, *, actor: User | None, actor_name: str | None = None, target: str = "",
           detail: str = "") -> AuditEvent:
    """Add one event to the session (the caller commits).

    :param actor: the user who acted; None for an act by nobody signed in (a failed sign-in,
        the command line, the sandbox's start-up).
    :param actor_name: the name to record when there is no actor user (the command line's
        name when neither is given outside a request).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if actor is None and actor_name is None and not has_request_context():
        actor_name = command_line_name()
    event = AuditEvent(
        at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor_name=(actor.username if actor is not None else (actor_name or ""))[:120],
        action=action,
        target=target[:160],
        detail=detail[:500],
        ip=(request.remote_addr or "")[:45] if has_request_context() else "",
        request_id=(g.get("request_id") or "")[:64] if has_request_context() else "",
    )
    db.session.add(event)
    return event


def record_now(action: str, **kwargs) -> AuditEvent:
    """Record one event and commit it at once (for acts with no other change to store)."""
    event = record(action, **kwargs)
    db.session.commit()
    return event


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """What the admin page filters on; every part optional."""

    who: str = ""
    action: str = ""
    ip: str = ""
    text: str = ""
    since: date | None = None
    until: date | None = None

    def statement(self) -> Select:
        """Return the SELECT for matching events, newest first (parameterised, never formatted)."""
        stmt = select(AuditEvent)
        if self.who:
            stmt = stmt.where(AuditEvent.actor_name == self.who.strip().lower())
        if self.action:
            stmt = stmt.where(AuditEvent.action == self.action)
        if self.ip:
            stmt = stmt.where(AuditEvent.ip == self.ip.strip())
        if self.text:
            pattern = f"%{_escape_like(self.text.strip())}%"
            stmt = stmt.where(AuditEvent.target.ilike(pattern, escape="\\")
                              | AuditEvent.detail.ilike(pattern, escape="\\"))
        # Dates are days in the person's time zone; stored times are UTC.
        if self.since:
            stmt = stmt.where(AuditEvent.at >= local_day_start(self.since))
        if self.until:
            stmt = stmt.where(AuditEvent.at < local_day_start(self.until + timedelta(days=1)))
        return stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


CSV_COLUMNS = ("id", "time_utc", "who", "action", "target", "detail", "ip", "request_id")


class _ClosingRows:
    """The export's rows, closing the query's cursor when the download ends."""

    def __init__(self, events):
        self._events = events

    def __iter__(self) -> Iterator[list[str]]:
        for event in self._events:
            yield [str(event.id), event.at.strftime("%Y-%m-%d %H:%M:%S"), event.actor_name, event.action,
                   event.target, event.detail, event.ip, event.request_id]

    def close(self) -> None:
        self._events.close()


def csv_rows(events) -> _ClosingRows:
    """The CSV export's rows for ``events`` (a query result); closing them closes the query."""
    return _ClosingRows(events)


def who_choices() -> list[str]:
    """Usernames to offer in the "who" filter."""
    return list(db.session.scalars(select(User.username).order_by(User.username)))
