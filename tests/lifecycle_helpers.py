"""Helpers for the request-lifecycle tests: submit, decide "in Capillary", age records, count calls and SQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from cryptography.fernet import Fernet
from sqlalchemy import event, select, update

from extensions import db
from models import TrackedRequest, utcnow
from sandbox import workflow


@contextmanager
def sql_statements(app) -> Iterator[list[str]]:
    """Yield a list that receives the text of every SQL statement the app's engine runs meanwhile."""
    ran: list[str] = []

    def remember(conn, cursor, statement, *args):
        ran.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        yield ran
    finally:
        event.remove(engine, "before_cursor_execute", remember)


ENTITY = {"tillId": "50682289", "storeId": "50682288", "zoneId": "50682286", "conceptId": "50678331"}


def real_mode_environ(gateway_url: str, database_url: str) -> dict:
    """Settings for an app pointed at a gateway over HTTP (real mode), e.g. a standalone sandbox."""
    return {
        "CAP_GATEWAY_URL": gateway_url,
        "CAP_ORG_ID": "100",
        "CAP_UI_AUTH_TOKEN": "maker-token-for-tests",
        "CAP_CHECKER_UI_AUTH_TOKEN": "checker-token-for-tests",
        "CAP_INTOUCH_HOST": "https://eu.api.capillarytech.com",
        "CAP_INTOUCH_USERNAME": "store.till",
        "CAP_INTOUCH_PASSWORD": "till-password",
        "SECRET_KEY": "s" * 40,
        "CAP_TOKEN_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": database_url,
    }


def submit(client, form: dict, key: str = "a" * 32):
    """Post the request form; return the new record's id (from the redirect)."""
    response = client.post("/requests", data={**form, "submission_key": key})
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(re.search(r"/requests/(\d+)$", response.headers["Location"]).group(1))


def record(app, pk: int) -> TrackedRequest:
    """Load a record (detached, attributes loaded)."""
    with app.app_context():
        found = db.session.get(TrackedRequest, pk)
        _ = found.events  # load the timeline before the session closes
        db.session.expunge(found)
        return found


def records(app) -> list[TrackedRequest]:
    """Every record, oldest first."""
    with app.app_context():
        return list(db.session.scalars(select(TrackedRequest).order_by(TrackedRequest.id)))


def set_times(app, pk: int, **ages: int) -> None:
    """Move a record's time columns (``created_at``, ``last_polled_at``...) back by N seconds."""
    with app.app_context():
        now = utcnow()
        db.session.execute(
            update(TrackedRequest).where(TrackedRequest.id == pk)
            .values(**{name: now - timedelta(seconds=seconds) for name, seconds in ages.items()})
        )
        db.session.commit()


def allow_next_poll(app, pk: int) -> None:
    """Pretend the last gateway poll of ``pk`` was long ago (instead of sleeping 5 s)."""
    set_times(app, pk, last_polled_at=3600)


def decide_in_capillary(sandbox, request_id: str, decision: str, message: str = "Checked in Capillary") -> None:
    """Decide a request the way a checker in Capillary's own UI would."""
    def change(req, customers):
        workflow.record_decision(req, decision, message)
        if decision == "approved":
            workflow.run_task(req, customers, "100")

    assert sandbox.update_request(request_id, change) is not None


def calls(sandbox, endpoint: str, method: str | None = None) -> list[dict]:
    """The sandbox's logged calls to ``endpoint`` (create/approve/get/list)."""
    return [c for c in sandbox.calls if c["endpoint"] == endpoint and (method is None or c["method"] == method)]


def seed_like(sandbox, form: dict, **overrides) -> str:
    """Seed a Capillary request with the same store/till/customer/label/reason as ``form``."""
    values = {
        "entity_info": {k: form[k] for k in ENTITY},
        "identifier_name": form["identifierName"],
        "identifier_value": "919780375690" if form["identifierValue"] == "9780375690" else form["identifierValue"],
        "label": form["label"],
        "reason": form["reason"],
        "user_id": 123456,
        "user_name": "sandbox.maker",
    }
    values.update(overrides)
    return sandbox.seed_request(**values)
