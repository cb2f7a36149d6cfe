"""Benchmark one decision for many requests: 200 waiting requests decided by one run of the job.

The standalone sandbox runs as its own process (gunicorn, ``SANDBOX_LATENCY_MS`` added to every
call); the app is in real mode pointing at it. A bulk file first makes the waiting requests (not
timed); then the queue's "all matching" set is decided with one run, exactly what the
``decisions.run`` job runs (services/lifecycle/decision_runs.run_decisions), and timed. The PUTs
are counted at the sandbox, per requestId: each must be sent once.

    .venv/bin/python -m bench.multi_decide
    .venv/bin/python -m bench.multi_decide --requests 200 --concurrency 8 --latency-ms 100
"""

from __future__ import annotations

import argparse
import io
import time
from collections import Counter
from contextlib import ExitStack

import requests

from bench._common import app_env, print_table, sandbox_server, write_result
from bench.bulk_throughput import csv_of, database


def run(count: int, concurrency: int, latency_ms: int, kind: str = "sqlite") -> dict:
    """Make ``count`` waiting requests, decide them in one run; return the measurements."""
    from app import create_app
    from extensions import db
    from services.bulk import batches, runner
    from services.lifecycle import decision_runs, queue

    with ExitStack() as stack:
        gateway = stack.enter_context(sandbox_server(latency_ms=latency_ms, threads=max(32, concurrency * 2)))
        url = stack.enter_context(database(kind))
        env = app_env(gateway, url, CAP_BULK_CONCURRENCY=str(concurrency), CAP_BULK_RATE_PER_MINUTE="1000000")
        app = create_app({"ENVIRON": env, "SCHEMA_SETUP": "upgrade"})
        data = csv_of(count)
        with app.app_context():
            batch = batches.create_batch(io.BytesIO(data), "bench.csv", size=len(data), uploader=None)
            assert batches.confirm(batch, actor=None)
            assert runner.run_batch(batch.id, slice_seconds=3600) == runner.FINISHED
            waiting = queue.matching_records(queue.QueueFilters(batch=batch.id, sort="file"))
            requests.get(gateway + "/_sandbox/calls?clear=1", timeout=10)
            run_ = decision_runs.create_run(waiting, "approved", "Benchmark: checked the whole file",
                                            "bench-run", actor=None)[0]
            started = time.monotonic()
            finished = decision_runs.run_decisions(run_.id)
            elapsed = time.monotonic() - started
            progress = decision_runs.progress(run_)
            db.engine.dispose()
        calls = requests.get(gateway + "/_sandbox/calls", timeout=10).json()["calls"]
    puts = Counter(c["body"]["requestId"] for c in calls if c["method"] == "PUT")
    print("calls during the run by endpoint:", Counter(c["endpoint"] for c in calls))
    ideal = count * latency_ms / 1000 / concurrency
    return {
        "database": kind, "requests": count, "waiting_before": len(waiting), "concurrency": concurrency,
        "latency_ms": latency_ms,
        "finished_by_run": finished, "sent": progress.counts.get("sent", 0), "puts_at_sandbox": sum(puts.values()),
        "requests_with_more_than_one_put": sum(1 for n in puts.values() if n > 1),
        "elapsed_s": round(elapsed, 2), "ideal_s": round(ideal, 2), "elapsed_over_ideal": round(elapsed / ideal, 3),
    }


def main() -> None:
    """Run once, print a table, write bench/results/multi_decide.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    result = run(args.requests, args.concurrency, args.latency_ms, args.database)
    print_table(
        ["db", "requests", "conc.", "latency", "elapsed s", "ideal s", "÷ ideal", "PUTs at sandbox", "sent twice"],
        [[result["database"], result["requests"], result["concurrency"], f"{result['latency_ms']} ms",
          result["elapsed_s"], result["ideal_s"], result["elapsed_over_ideal"], result["puts_at_sandbox"],
          result["requests_with_more_than_one_put"]]],
    )
    print(f"written to {write_result(f'multi_decide_{args.database}', {'results': [result]})}")
    once_each = result["puts_at_sandbox"] == result["requests"] and not result["requests_with_more_than_one_put"]
    if not once_each or result["elapsed_over_ideal"] > 1.15:
        raise SystemExit("target missed: every PUT once, within 1.15x of the ideal")


if __name__ == "__main__":
    main()
