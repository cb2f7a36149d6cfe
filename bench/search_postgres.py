"""Benchmark the history's identifier search by part of a number at 1,000,000 records.

Fills a fresh PostgreSQL database (made for the run, dropped afterwards) with bench/history.py's
rows, but with realistic identifiers: random mobile numbers of several countries (digits with
country code, as Capillary stores them) and some e-mails. Then it asks the history page for
``--terms`` different parts of stored numbers (5 to 7 digits, typed as a person would: some with
spaces), a few upper-case e-mails, and a full number, each page rendered through the whole
app (sign-in gate, query, capped count, template), after ``ANALYZE``, and the history queries
alone. Prints the median and p95 per kind and over all searches, the page with no search as a
reference (the machine's load shows in both), and the plan of one part search.

    .venv/bin/python -m bench.search_postgres                   # 1,000,000 records, PostgreSQL
    .venv/bin/python -m bench.search_postgres --count 100000
    .venv/bin/python -m bench.search_postgres --sqlite          # the same on a SQLite file
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from bench import history
from bench._common import postgres_database, print_table, write_result

# (country code, digits after it, share): mostly India, as the app's stores are.
COUNTRIES = (("91", 10, 70), ("86", 11, 8), ("44", 10, 6), ("1", 10, 6), ("971", 9, 5), ("65", 8, 5))
DOMAINS = ("example.com", "shop-mail.com", "mail.example.in")


def identifier(rng: random.Random, n: int) -> tuple[str, str]:
    """A random (identifier name, value): 90% mobile numbers, 10% e-mails."""
    if rng.random() < 0.1:
        return "email", f"customer.{n}.{rng.randrange(10**6):06d}@{rng.choice(DOMAINS)}"
    code, length, _share = rng.choices(COUNTRIES, weights=[c[2] for c in COUNTRIES])[0]
    first = rng.choice("6789") if code == "91" else str(rng.randrange(1, 10))
    return "mobile", code + first + "".join(rng.choice("0123456789") for _ in range(length - 1))


def fill(app, count: int, seed: int = 11) -> tuple[float, list[tuple[str, str]]]:
    """Insert ``count`` rows with random identifiers; return the seconds and a sample of them."""
    rng = random.Random(seed)
    sample: list[tuple[str, str]] = []

    def rows():
        for n, row in enumerate(history._rows(count)):
            row["identifier_name"], row["identifier_value"] = identifier(rng, n)
            if n % max(count // 500, 1) == 0:
                sample.append((row["identifier_name"], row["identifier_value"]))
            yield row

    return history.fill(app, count, rows()), sample


def searches(sample: list[tuple[str, str]], terms: int, seed: int = 5) -> dict[str, list[str]]:
    """The search terms per kind, taken from stored identifiers."""
    rng = random.Random(seed)
    mobiles = [value for name, value in sample if name == "mobile"]
    emails = [value for name, value in sample if name == "email"]
    parts, spaced = [], []
    for value in rng.sample(mobiles, terms):
        size = rng.randint(5, 7)
        start = rng.randrange(len(value) - size + 1)
        part = value[start:start + size]
        parts.append(part)
        spaced.append(f"{part[:3]} {part[3:]}")  # "97803 75" typed with a space
    return {
        "part of a number (5-7 digits)": parts,
        "part typed with a space": spaced[: max(terms // 4, 1)],
        "whole number": rng.sample(mobiles, max(terms // 4, 1)),
        "e-mail in upper case": [value.upper() for value in rng.sample(emails, max(terms // 4, 1))],
        "part of an e-mail": [value.split("@")[0][-9:] for value in rng.sample(emails, max(terms // 4, 1))],
    }


def run(app, client, queries: dict[str, list[str]], repeat: int) -> dict[str, dict]:
    """Each term's page ``repeat`` times (after one warm-up), and its history queries alone
    (``history.page``: the page and the capped count); timings per kind and overall, in ms."""
    from urllib.parse import urlencode

    times: dict[str, list[float]] = {kind: [] for kind in queries}
    query_times: dict[str, list[float]] = {kind: [] for kind in queries}
    matched: dict[str, list[int]] = {kind: [] for kind in queries}
    for kind, terms in queries.items():
        for term in terms:
            url = "/requests?" + urlencode({"q": term})
            first = client.get(url)
            assert first.status_code == 200, url
            matched[kind].append(first.get_data(as_text=True).count('<td data-label="#">'))
            for _ in range(repeat):
                started = time.perf_counter()
                response = client.get(url)
                response.get_data()
                times[kind].append((time.perf_counter() - started) * 1000)
            query_times[kind] += _query_times(app, term, repeat)
    result = {kind: _stats(values) | {"terms": len(queries[kind]),
                                       "queries_only": _stats(query_times[kind]),
                                       "rows_on_first_page_median": statistics.median(matched[kind])}
              for kind, values in times.items()}
    result["all searches"] = _stats([t for values in times.values() for t in values]) | {
        "terms": sum(len(t) for t in queries.values()),
        "queries_only": _stats([t for values in query_times.values() for t in values])}
    return result


def _query_times(app, term: str, repeat: int) -> list[float]:
    from flask import request
    from werkzeug.datastructures import MultiDict

    from forms.history_form import HistoryFilterForm
    from services.lifecycle import history as service

    with app.test_request_context("/requests", query_string={"q": term}):
        form = HistoryFilterForm(formdata=MultiDict(request.args))
        assert form.validate(), form.errors
        filters = form.filters()
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            service.page(filters, viewer=None)
            times.append((time.perf_counter() - started) * 1000)
        return times


def _stats(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"n": len(ordered), "median_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[max(int(len(ordered) * 0.95) - 1, 0)], 2), "max_ms": round(ordered[-1], 2)}


def plan(app, term: str) -> str:
    """The database's plan for the page query of a part search, as history.page() sends it."""
    from flask import request
    from sqlalchemy import event
    from werkzeug.datastructures import MultiDict

    from extensions import db
    from forms.history_form import HistoryFilterForm
    from services.lifecycle import history as service

    with app.test_request_context("/requests", query_string={"q": term}):
        form = HistoryFilterForm(formdata=MultiDict(request.args))
        assert form.validate(), form.errors
        ran = []

        def catch(conn, cursor, statement, parameters, context, executemany):
            ran.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", catch)
        try:
            service.page(form.filters(), viewer=None)
        finally:
            event.remove(db.engine, "before_cursor_execute", catch)
        statement, parameters = next((sql, params) for sql, params in ran if "ORDER BY" in sql)
        explain = "EXPLAIN ANALYZE" if db.engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
        raw = db.session.connection().connection.driver_connection
        return "\n".join(str(row[-1]) for row in raw.execute(f"{explain} {statement}", parameters))


@contextmanager
def database(use_sqlite: bool):
    """A fresh database URL: PostgreSQL (default) or a SQLite file in a temporary folder."""
    if use_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'search-bench.sqlite3'}"
    else:
        with postgres_database("bench_search") as url:
            yield url


def main() -> None:
    """Fill, ANALYZE, measure; print a table and write bench/results/search_<database>.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--terms", type=int, default=40, help="different number parts searched")
    parser.add_argument("--repeat", type=int, default=5, help="requests per term")
    parser.add_argument("--sqlite", action="store_true", help="measure SQLite instead of PostgreSQL")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from app import create_app
    from extensions import db

    with database(args.sqlite) as url:
        app = create_app({"SCHEMA_SETUP": "create_all", "WTF_CSRF_ENABLED": False,
                          "ENVIRON": {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}})
        fill_seconds, sample = fill(app, args.count)
        with app.app_context(), db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        client = app.test_client()
        history.sign_in(client)
        queries = searches(sample, args.terms)
        # The reference: the same page with no search, on the same machine at the same moment.
        reference = history.measure(client, "/requests", args.repeat * 10)
        results = run(app, client, queries, args.repeat)
        with app.app_context():
            example_plan = plan(app, queries["part of a number (5-7 digits)"][0])
            db.engine.dispose()
    kind = "sqlite" if args.sqlite else "postgres"
    print(f"{kind}: {args.count:,} records filled in {fill_seconds:.1f} s; each term {args.repeat} times")
    print_table(["search", "terms", "page median ms", "page p95 ms", "page max ms", "queries median ms",
                 "queries p95 ms"],
                [[name, r["terms"], r["median_ms"], r["p95_ms"], r["max_ms"], r["queries_only"]["median_ms"],
                  r["queries_only"]["p95_ms"]] for name, r in results.items()]
                + [["reference: the page with no search", "-", reference["median_ms"], reference["p95_ms"],
                    reference["max_ms"], "-", "-"]])
    print(example_plan)
    path = write_result(f"search_{kind}", {"count": args.count, "fill_seconds": round(fill_seconds, 1),
                                           "repeat": args.repeat, "searches": results, "reference_no_search": reference,
                                           "plan": example_plan,
                                           "terms": queries})
    print(f"written to {path}")


if __name__ == "__main__":
    main()
