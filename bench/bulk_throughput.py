"""Benchmark the bulk job against the standalone sandbox: elapsed time against the ideal, and
the highest rate the gateway saw against the configured limit.

The sandbox runs as its own process (gunicorn, ``SANDBOX_LATENCY_MS`` added to every call); the
app is in real mode pointing at it, and the job (services/bulk_runner.run_batch, exactly what a
worker runs) sends a checked file of distinct customers. The start time of every create call is
recorded by wrapping the app's gateway client (the call itself goes through unchanged).

Two scenarios by default:

- ``free``: 1,000 rows, concurrency 8, 100 ms latency, a rate limit too high to bind:
  elapsed against the ideal rows × latency ÷ concurrency (target: within 1.15×);
- ``limited``: 700 rows, concurrency 8, limit 600 a minute: the most calls started in any
  60-second window (must not exceed 600) and the elapsed time, against its ideal (600 calls at
  once, the other 100 a minute after the first: 60 s + 100 × latency ÷ concurrency).

    .venv/bin/python -m bench.bulk_throughput
    .venv/bin/python -m bench.bulk_throughput --scenario free --database postgresql
"""

from __future__ import annotations

import argparse
import bisect
import io
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests

from bench._common import app_env, postgres_database, print_table, sandbox_server, write_result

SCENARIOS = {
    "free": {"rows": 1000, "concurrency": 8, "latency_ms": 100, "rate": 1_000_000},
    "limited": {"rows": 700, "concurrency": 8, "latency_ms": 100, "rate": 600},
}


def csv_of(rows: int) -> bytes:
    """A file of ``rows`` valid rows, one customer each."""
    from services.bulk.csv_reader import COLUMNS

    lines = [",".join(COLUMNS)]
    lines += [f"50682289,50682288,50682286,50678331,externalId,BENCH-{n},Suspended,Bulk benchmark row {n},,"
              for n in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def max_in_window(starts: list[float], window: float) -> int:
    """The most call starts inside any ``window``-second span."""
    ordered = sorted(starts)
    return max((bisect.bisect_left(ordered, t + window) - i for i, t in enumerate(ordered)), default=0)


@contextmanager
def database(kind: str):
    """An empty database of ``kind`` for one run; yields its URL."""
    if kind == "postgresql":
        with postgres_database("bench_bulk") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bulk-bench.sqlite3'}"


def run(name: str, rows: int, concurrency: int, latency_ms: int, rate: int, kind: str) -> dict:
    """Send one file of ``rows`` rows through the job; return the measurements."""
    from app import create_app
    from services.bulk import batches, runner

    with ExitStack() as stack:
        gateway = stack.enter_context(sandbox_server(latency_ms=latency_ms, threads=max(32, concurrency * 2)))
        url = stack.enter_context(database(kind))
        env = app_env(gateway, url, CAP_BULK_CONCURRENCY=str(concurrency), CAP_BULK_RATE_PER_MINUTE=str(rate))
        app = create_app({"ENVIRON": env, "SCHEMA_SETUP": "upgrade"})
        client = app.extensions["gateway_client"]
        starts: list[float] = []
        create = client.create_request

        def timed_create(payload, token):
            starts.append(time.monotonic())
            return create(payload, token)

        client.create_request = timed_create
        data = csv_of(rows)
        with app.app_context():
            batch = batches.create_batch(io.BytesIO(data), "bench.csv", size=len(data), uploader=None)
            assert batches.confirm(batch, actor=None)
            started = time.monotonic()
            outcome = runner.run_batch(batch.id, slice_seconds=3600)
            elapsed = time.monotonic() - started
            progress = batches.progress(batch)
            from extensions import db

            db.engine.dispose()
        created = requests.get(gateway + "/_sandbox/state", timeout=10).json()["created_count"]
    # The ideal: rows × latency ÷ concurrency; when the limit binds, every further ``rate`` rows
    # must also wait for the 60-second window to move on.
    windows = (rows - 1) // rate
    ideal = windows * 60 + (rows - windows * rate) * latency_ms / 1000 / concurrency
    first = min(starts)
    return {
        "scenario": name, "database": kind, "rows": rows, "concurrency": concurrency, "latency_ms": latency_ms,
        "rate_limit_per_minute": rate, "outcome": outcome, "created_in_sandbox": created,
        "created_by_app": progress.created, "elapsed_s": round(elapsed, 2), "ideal_s": round(ideal, 2),
        "elapsed_over_ideal": round(elapsed / ideal, 3),
        "max_calls_in_any_60s": max_in_window(starts, 60.0),
        "max_calls_in_any_1s": max_in_window(starts, 1.0),
        "mean_rate_per_minute": round(len(starts) / max(max(starts) - first, 1e-9) * 60, 1),
    }


def main() -> None:
    """Run the chosen scenarios, print a table, write bench/results/bulk_throughput.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    results = [run(name, **SCENARIOS[name], kind=args.database) for name in names]
    print_table(
        ["scenario", "db", "rows", "conc.", "latency", "limit/min", "elapsed s", "ideal s", "÷ ideal",
         "max in 60 s", "max in 1 s", "created"],
        [[r["scenario"], r["database"], r["rows"], r["concurrency"], f"{r['latency_ms']} ms",
          r["rate_limit_per_minute"], r["elapsed_s"], r["ideal_s"], r["elapsed_over_ideal"],
          r["max_calls_in_any_60s"], r["max_calls_in_any_1s"], r["created_in_sandbox"]] for r in results],
    )
    print(f"written to {write_result(f'bulk_throughput_{args.database}', {'results': results})}")


if __name__ == "__main__":
    main()
