"""Write and read the audit trail (models/audit.py): who did what, when, from which address.

Events are added to the current database session so they commit in the same transaction as
the change they describe (a submission and its event are stored together or not at all).
Details are short plain words: never a password, token or Authorization value.
"""

from __future__ import annotations

import csv
import getpass
import io
from collections.abc import Iterable, Iterator
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
    "bulk.confirmed": _l("Confirmed a bulk file for sending"),
    "token.set": _l("Set own Capillary token"),
    "token.cleared": _l("Cleared own Capillary token"),
    "token.rejected": _l("Own Capillary token rejected by Capillary"),
    "password.changed": _l("Changed own password"),
    "user.created": _l("Created a user"),
    "user.changed": _l("Changed a user"),
    "user.disabled": _l("Disabled a user"),
    "user.enabled": _l("Enabled a user"),
    "user.password_set": _l("Set a user's password"),
}

_CURRENT = object()


def _command_line_name() -> str:
    try:
        return f"command line ({getpass.getuser()})"
    except (KeyError, OSError):
        return "command line"


def record(action: str, *, actor=_CURRENT, actor_name: str | None = None, target: str = "",
           detail: str = "") -> AuditEvent:
    """Add one event to the session (the caller commits).

    :param actor: the user who acted; by default the signed-in user, or the command line
        when there is no request. Pass None for an anonymous act (a failed sign-in).
    :param actor_name: the name to record when there is no actor user.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if actor is _CURRENT:
        from services.identity import current_actor

        actor = current_actor()
        if actor is None and actor_name is None and not has_request_context():
            actor_name = _command_line_name()
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


def _cell(value: str) -> str:
    # A cell starting with = + - @ (or a tab/CR) runs as a formula in spreadsheets (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def csv_lines(events: Iterable[AuditEvent]) -> Iterator[str]:
    """Yield the CSV export line by line (a header first), safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(row) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for event in events:
        yield line([
            str(event.id), event.at.strftime("%Y-%m-%d %H:%M:%S"), _cell(event.actor_name),
            event.action, _cell(event.target), _cell(event.detail), event.ip, event.request_id,
        ])


def who_choices() -> list[str]:
    """Usernames to offer in the "who" filter."""
    return list(db.session.scalars(select(User.username).order_by(User.username)))
