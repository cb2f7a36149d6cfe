"""Benchmark the history page at 100,000 records: first page, a middle page, filtered searches.

Fills a fresh database with N tracked requests (SQLAlchemy Core bulk inserts), then renders
each page through the whole app (WSGI, sign-in gate, query, template) with Flask's test
client, ``--repeat`` times after a short warm-up, and reports the median and p95 in ms.
A script, not a test: run it on a quiet machine and copy the table into docs/BENCHMARKS.md.

    .venv/bin/python -m bench.history                      # 100,000 rows, SQLite in a temp dir
    .venv/bin/python -m bench.history --count 20000 --repeat 10
    .venv/bin/python -m bench.history --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_history
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

STATES = ["AdminTask"] * 30 + ["approved"] * 45 + ["rejected"] * 15 + ["failed"] * 5 + ["unknown"] * 5
LABELS = ("Active", "Suspended", "Fraud suspected", "Fraud confirmed", "Internal")
STORES = [str(50682288 + n) for n in range(50)]
PEOPLE = [f"maker{n}@example.com" for n in range(40)]
START = datetime(2024, 1, 1)


def _rows(count: int, seed: int = 7):
    rng = random.Random(seed)
    step = timedelta(days=365) / count
    for n in range(count):
        store = rng.choice(STORES)
        yield {
            "submission_key": f"bench{n:027d}",
            "request_id": f"{n:08x}-bench-0000-0000-000000000000" if rng.random() > 0.05 else None,
            "state": rng.choice(STATES),
            "origin": "imported" if rng.random() < 0.05 else "app",
            "request_type": "customer-status-change",
            "till_id": str(int(store) + 1), "store_id": store, "zone_id": "50682286", "concept_id": "50678331",
            "identifier_name": "mobile", "identifier_value": f"9198{n:08d}",
            "label": rng.choice(LABELS), "reason": f"Benchmark case {n}: suspected fraud",
            "source": "INSTORE", "account_id": "", "use_async": False,
            "submitted_by": rng.choice(PEOPLE), "maker_user_name": "sandbox.user.303473",
            "created_at": START + step * n, "updated_at": START + step * n,
        }


def fill(app, count: int, rows=None) -> float:
    """Insert ``count`` rows (or the given ``rows``) in batches; return the seconds it took."""
    from sqlalchemy import insert

    from extensions import db
    from models import TrackedRequest

    started = time.perf_counter()
    with app.app_context():
        batch = []
        for row in _rows(count) if rows is None else rows:
            batch.append(row)
            if len(batch) == 10_000:
                db.session.execute(insert(TrackedRequest), batch)
                batch.clear()
        if batch:
            db.session.execute(insert(TrackedRequest), batch)
        db.session.commit()
    return time.perf_counter() - started


def sign_in(client) -> None:
    """Sign in as the sandbox's demo support agent when the app has sign-in."""
    page = client.get("/login")
    if page.status_code == 404:
        return
    from services.people import accounts

    demo = next(d for d in accounts.DEMO_USERS if d.username == "agent")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True))
    data = {"username": demo.username, "password": demo.password, **({"csrf_token": token.group(1)} if token else {})}
    if client.post("/login", data=data).status_code != 303:
        raise SystemExit("could not sign in as the demo agent")


def measure(client, url: str, repeat: int) -> dict:
    """GET ``url`` a few times to warm up, then ``repeat`` times; return the timings in ms."""
    for _ in range(3):
        assert client.get(url).status_code == 200, url
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        response.get_data()
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    ordered = sorted(times)
    return {"median_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[max(int(len(ordered) * 0.95) - 1, 0)], 2),
            "min_ms": round(ordered[0], 2), "max_ms": round(ordered[-1], 2), "n": repeat}


def measure_queries(app, client_url: str, repeat: int) -> dict:
    """Time only the history queries of a page (the page itself and the capped count), in ms."""
    from flask import request
    from werkzeug.datastructures import MultiDict

    from forms.history_form import HistoryFilterForm
    from services.lifecycle import history

    with app.test_request_context(client_url):
        form = HistoryFilterForm(formdata=MultiDict(request.args))
        assert form.validate(), form.errors
        filters = form.filters()
        times = []
        for n in range(repeat + 3):
            started = time.perf_counter()
            history.page(filters, viewer=None, after=request.args.get("after"))
            if n >= 3:
                times.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(times), 2)}


def middle_cursor(app, count: int) -> str:
    """The page link a person reaches after clicking "Next page" count/50 times."""
    from sqlalchemy import select

    from extensions import db
    from models import TrackedRequest
    from services.lifecycle.history import Cursor

    with app.app_context():
        created, ident = db.session.execute(
            select(TrackedRequest.created_at, TrackedRequest.id)
            .order_by(TrackedRequest.created_at.desc(), TrackedRequest.id.desc()).offset(count // 2).limit(1)
        ).one()
        return Cursor(created, ident).encode()


def machine() -> dict:
    """Cores, memory, CPU model, Python and SQLite versions."""
    import sqlite3

    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo.read_text()).group(1))
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    cpu = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else ""
    return {"nproc": os.cpu_count(), "memory": memory, "cpu": cpu, "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            # Other work on a shared machine inflates the figures: say how busy it was.
            "load_average_1m": round(os.getloadavg()[0], 2)}


def main() -> None:
    """Fill, measure, print a table and the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    args = parser.parse_args()

    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'history-bench.sqlite3'}"
        app = create_app({"SCHEMA_SETUP": "create_all", "WTF_CSRF_ENABLED": False,
                          "ENVIRON": {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}})
        fill_seconds = fill(app, args.count)
        client = app.test_client()
        sign_in(client)
        sample = f"9198{args.count // 3:08d}"
        pages = {
            "first page": "/requests",
            "middle page (keyset, ~row 50%)": f"/requests?after={middle_cursor(app, args.count)}",
            "search: identifier value": f"/requests?q={sample}",
            "filter: state + store": f"/requests?state=approved&store={STORES[7]}",
            "filter: label + date range": "/requests?label=Fraud+suspected&date_from=2024-06-01&date_to=2024-06-30",
            "filter: submitted by, oldest first": f"/requests?submitted_by={PEOPLE[3]}&sort=oldest",
        }
        results = {name: measure(client, page, args.repeat) for name, page in pages.items()}
        for name, page in pages.items():
            results[name]["queries_median_ms"] = measure_queries(app, page, args.repeat)["median_ms"]
        # For scale: a page of the same app that runs no history query at all.
        results["reference: the empty request form"] = {**measure(client, "/requests/new", args.repeat),
                                                        "queries_median_ms": 0.0}
        with app.app_context():
            from extensions import db

            db.engine.dispose()
    report = {"count": args.count, "database": url.split(":", 1)[0], "fill_seconds": round(fill_seconds, 1),
              "machine": machine(), "pages": results}
    print(f"{args.count:,} records filled in {fill_seconds:.1f} s ({report['database']}); "
          f"median of {args.repeat} after 3 warm-up requests; load average {report['machine']['load_average_1m']}")
    print(f"{'page':40} {'median ms':>10} {'p95 ms':>8} {'queries ms':>11}")
    for name, timing in results.items():
        print(f"{name:40} {timing['median_ms']:>10.2f} {timing['p95_ms']:>8.2f} {timing['queries_median_ms']:>11.2f}")
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
