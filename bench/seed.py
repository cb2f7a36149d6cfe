"""Fill the app's database with N realistic tracked requests (and their timelines), fast.

Rows extend bench/history.py's generator (same state mix, 50 stores, 40 people) with what the
status page shows (Capillary's answer, the masked payload, the timeline) and ids unique across
appends, so a database can be grown 1k → 100k → 1M. Any column added to the models later is
filled from its default, or NULL when nullable, so the generator keeps working as the schema
grows. Inserts go through SQLAlchemy Core in large batches.

    .venv/bin/python -m bench.seed --database-url sqlite:////tmp/x.sqlite3 --count 100000
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from bench.history import _rows as history_rows

SPAN = timedelta(days=365)
MASK = "•••••• (hidden)"


def _identifier(name: str, n: int) -> str:
    if name == "mobile":
        return f"9198{n % 100_000_000:08d}"
    if name == "email":
        return f"customer{n}@example.com"
    return f"EXT-{n:08d}"


def _payload(row: dict) -> dict:
    return {
        "entityInfo": {k: row[c] for k, c in (("tillId", "till_id"), ("storeId", "store_id"),
                                                  ("zoneId", "zone_id"), ("conceptId", "concept_id"))},
        "payload": {"IntouchAPITask-Payload": {
            "hostname": "https://eu.api.capillarytech.com", "path": "/v2/customers/lookup/status",
            "method": "PUT", "pathParams": {},
            "queryParams": {"source": "INSTORE", "accountId": "", "use_async": "false",
                            "identifierName": row["identifier_name"], "identifierValue": row["identifier_value"]},
            "body": {"reason": row["reason"], "label": row["label"]},
            "headers": {"Authorization": MASK, "content-type": "application/json"},
        }},
    }


def _fill_unknown(table, row: dict) -> dict:
    """Keep only the table's columns; give those the generator does not know their default, or NULL."""
    row = {k: v for k, v in row.items() if k in table.c}
    for column in table.columns:
        if column.name in row or column.primary_key:
            continue
        default = column.default
        if default is not None and default.is_scalar:
            row[column.name] = default.arg
        elif default is not None and default.is_callable:
            row[column.name] = default.arg({})  # SQLAlchemy wraps callables to take a context
        elif column.nullable:
            row[column.name] = None
        else:
            raise RuntimeError(f"bench/seed.py does not know how to fill {table.name}.{column.name}")
    return row


def rows(count: int, start_id: int, now: datetime, rng: random.Random) -> Iterator[tuple[dict, list[dict]]]:
    """Yield ``(request row, event rows)`` for ids ``start_id .. start_id + count - 1``, oldest first.

    The request rows start from bench/history.py's generator (issue 3's history benchmark: the
    same state mix, stores and people), then get what the status page shows too: ids and keys
    unique across appends, creation times up to now, Capillary's answer, the masked payload as
    sent and the timeline.
    """
    step = SPAN / max(count, 1)
    first = now - SPAN
    for n, base in enumerate(history_rows(count, seed=start_id)):
        pk = start_id + n
        created = first + step * n
        state = base["state"]
        decided = state in ("approved", "rejected", "failed")
        row = {
            **base,
            "id": pk,
            # Unique by construction (the id is in both), however many times seed() appends.
            "submission_key": f"{pk:032x}",
            "request_id": str(uuid.UUID(int=(rng.getrandbits(96) << 32) | pk)) if base["request_id"] else None,
            "identifier_value": _identifier(base["identifier_name"], pk),
            "maker_user_id": 100000 + pk % 40,
            "start_time": created, "end_time": created + timedelta(minutes=30) if decided else None,
            "error_kind": "timeout" if state == "unknown" else None,
            "error_message": "Capillary's gateway did not answer in time." if state == "unknown" else None,
            "details": {"ValidateMakerAccess_Output": True, "ValidatePayload_Output": True}
            if base["request_id"] and state != "unknown" else None,
            "created_at": created, "updated_at": created + timedelta(minutes=30 if decided else 0),
        }
        if state == "unknown":
            row["request_id"] = None
        row["payload"] = _payload(row)
        events = [{"request_pk": pk, "state": "sending", "note": "Stored in the app; sending to Capillary.",
                   "at": created}]
        events.append({"request_pk": pk, "state": "AdminTask" if decided else state,
                       "note": "Created in Capillary." if state != "unknown" else row["error_message"],
                       "at": created + timedelta(seconds=1)})
        if decided:
            events.append({"request_pk": pk, "state": state, "note": "Decided by a checker.",
                           "at": created + timedelta(minutes=30)})
        yield row, events


def seeded_app(env: dict, count: int):
    """Migrate ``env``'s database, make the bench users, seed ``count`` requests; return
    ``(app, timing facts)`` with the app's connections closed (servers open their own)."""
    from app import create_app
    from bench import _common as c
    from extensions import db

    c.prepare_database(env)
    c.ensure_users(env)
    app = create_app({"ENVIRON": env})
    info = seed(app, count)
    with app.app_context():
        db.engine.dispose()
    return app, info


def seed(app, count: int, batch: int = 10_000, seed_value: int = 7) -> dict:
    """Append ``count`` requests to ``app``'s database; return timing facts."""
    from extensions import db
    from models import StatusEvent, TrackedRequest

    requests_table, events_table = TrackedRequest.__table__, StatusEvent.__table__
    started = time.perf_counter()
    with app.app_context():
        start_id = (db.session.scalar(select(func.max(TrackedRequest.id))) or 0) + 1
        rng = random.Random(seed_value * 1_000_003 + start_id)
        now = datetime.now().replace(microsecond=0)
        pending_rows, pending_events = [], []
        with db.engine.begin() as connection:
            for row, events in rows(count, start_id, now, rng):
                pending_rows.append(_fill_unknown(requests_table, row))
                pending_events.extend(_fill_unknown(events_table, e) for e in events)
                if len(pending_rows) >= batch:
                    connection.execute(insert(requests_table), pending_rows)
                    connection.execute(insert(events_table), pending_events)
                    pending_rows, pending_events = [], []
            if pending_rows:
                connection.execute(insert(requests_table), pending_rows)
                connection.execute(insert(events_table), pending_events)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE tracked_requests")
                connection.exec_driver_sql("VACUUM ANALYZE status_events")
                connection.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('tracked_requests', 'id'), "
                    "(SELECT max(id) FROM tracked_requests))")
                connection.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('status_events', 'id'), "
                    "(SELECT max(id) FROM status_events))")
        # SQLite: no ANALYZE, as the app never runs one. (With statistics, SQLite's planner
        # ignores ix_tracked_requests_resent_from, whose rows are all NULL, and scans the table
        # on every status page: see docs/BENCHMARKS.md.)
    return {"seeded": count, "first_id": start_id, "seconds": round(time.perf_counter() - started, 1)}


def main() -> int:
    from app import create_app

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()
    app = create_app({"ENVIRON": {"DATABASE_URL": args.database_url, "LOG_LEVEL": "WARNING"}})
    print(seed(app, args.count))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
