"""Benchmark the history page at 1,000,000 records in PostgreSQL: first page and filtered searches.

Uses bench/history.py's data and timing (same rows, same pages, median and p95 of 20 after 3
warm-up requests) on a fresh PostgreSQL database made for the run and dropped afterwards. The
pages are measured twice: right after the bulk load, and after ``ANALYZE`` (what autovacuum
does on its own shortly after such a load, and what a restored database gets), since the
planner's statistics decide some plans.

    .venv/bin/python -m bench.history_postgres                 # 1,000,000 records
    .venv/bin/python -m bench.history_postgres --count 100000
"""

from __future__ import annotations

import argparse
import os

from sqlalchemy import text

from bench import history
from bench._common import postgres_database, print_table, write_result


def pages(app, count: int) -> dict[str, str]:
    """The pages bench/history.py measures, for ``count`` records."""
    return {
        "first page": "/requests",
        "middle page (keyset, ~row 50%)": f"/requests?after={history.middle_cursor(app, count)}",
        "search: identifier value": f"/requests?q=9198{count // 3:08d}",
        "filter: state + store": f"/requests?state=approved&store={history.STORES[7]}",
        "filter: label + date range": "/requests?label=Fraud+suspected&date_from=2024-06-01&date_to=2024-06-30",
        "filter: submitted by, oldest first": f"/requests?submitted_by={history.PEOPLE[3]}&sort=oldest",
    }


def main() -> None:
    """Fill, measure, ANALYZE, measure again; print a table and write bench/results/history_postgres.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from app import create_app
    from extensions import db

    with postgres_database("bench_history") as url:
        app = create_app({"SCHEMA_SETUP": "create_all", "WTF_CSRF_ENABLED": False,
                          "ENVIRON": {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}})
        fill_seconds = history.fill(app, args.count)
        client = app.test_client()
        history.sign_in(client)
        urls = pages(app, args.count)
        results = {"after the load": {}, "after ANALYZE": {}}
        for name, url_path in urls.items():
            results["after the load"][name] = history.measure(client, url_path, args.repeat)
        with app.app_context():
            with db.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        for name, url_path in urls.items():
            results["after ANALYZE"][name] = history.measure(client, url_path, args.repeat)
        with app.app_context():
            db.engine.dispose()
    print(f"{args.count:,} records filled in {fill_seconds:.1f} s; median and p95 of {args.repeat} requests")
    print_table(["page", "median ms", "p95 ms", "median ms after ANALYZE", "p95 ms after ANALYZE"],
                [[name, results["after the load"][name]["median_ms"], results["after the load"][name]["p95_ms"],
                  results["after ANALYZE"][name]["median_ms"], results["after ANALYZE"][name]["p95_ms"]]
                 for name in urls])
    path = write_result("history_postgres", {"count": args.count, "fill_seconds": round(fill_seconds, 1),
                                             "pages": results})
    print(f"written to {path}")


if __name__ == "__main__":
    main()
