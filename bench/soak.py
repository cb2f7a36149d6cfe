"""Load soak: simulated people submitting, browsing and approving for a while, then a count.

Starts, all on 127.0.0.1: the standalone sandbox (gunicorn, 50 ms latency), a fresh PostgreSQL
database (migrated with ``flask db upgrade``), the app under the deployment's gunicorn.conf.py
(2 workers) with jobs on the real Redis (a queue and key prefix of its own) and one
``flask worker`` running the periodic sync every 30 s, then Locust headless
(bench/locust_soak.py: 4 submitters to 1 checker) until it stops by itself.

Then the final phase: the app and the worker stop (each finishing the requests it holds), and
reconciliation runs against the sandbox with a short grace (``--grace``) until no record of the
app is left ``sending``/``unknown``, instead of counting while records are in flight. Everything
is stopped and the database dropped at the end.

Pass: zero failed requests; the sandbox's count of created requests = the app's records =
distinct Capillary requestIds among them (none lost, none doubled, none shared); and none left
``sending``/``unknown`` after the final reconciliation. Also reported: p50/p95 per endpoint,
imported copies (requests the app took for someone else's: 0 expected, nobody else makes any
here), and the load average before and after. Results: bench/results/soak_<users>users.json.

    .venv/bin/python -m bench.soak [--users 50] [--seconds 120] [--grace 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
import uuid

import requests
from sqlalchemy import func, select

from bench import _common as c

UNSETTLED = ("sending", "unknown")


def _app(env: dict, **settings: str):
    from app import create_app

    return create_app({"ENVIRON": {**env, **settings}})


def _app_counts(env: dict) -> dict:
    from extensions import db
    from models import Decision, TrackedRequest

    app = _app(env)
    with app.app_context():
        mine = select(TrackedRequest).where(TrackedRequest.origin == "app").subquery()
        made = db.session.scalar(select(func.count()).select_from(mine)) or 0
        with_id = db.session.scalar(select(func.count(func.distinct(mine.c.request_id)))) or 0
        imported = db.session.scalar(
            select(func.count()).select_from(TrackedRequest).where(TrackedRequest.origin != "app")) or 0
        by_state = dict(db.session.execute(
            select(TrackedRequest.state, func.count()).where(TrackedRequest.origin == "app")
            .group_by(TrackedRequest.state)).all())
        decisions = dict(db.session.execute(select(Decision.status, func.count()).group_by(Decision.status)).all())
        db.engine.dispose()
    return {"records_made": made, "distinct_request_ids": with_id, "imported_copies": imported,
            "by_state": by_state, "decisions": decisions}


def _reconcile_until_settled(env: dict, grace_seconds: int) -> dict:
    """Run the sync (reconciliation first) until no app record is ``sending``/``unknown``.

    Only after the app and worker stopped: every record still ``sending`` then belongs to a
    process that is gone, and is reconciled once presumed dead (``reconcile.is_due``).
    """
    from extensions import db
    from models import TrackedRequest
    from services.lifecycle.reconcile import stuck_sending_after
    from services.lifecycle.sync import sync_requests

    app = _app(env, CAP_RECONCILE_GRACE_SECONDS=str(grace_seconds))
    unsettled = select(func.count()).select_from(TrackedRequest).where(
        TrackedRequest.origin == "app", TrackedRequest.state.in_(UNSETTLED))
    report = {"grace_seconds": grace_seconds, "rounds": 0, "adopted": 0, "not_created": 0, "failures": []}
    started = time.monotonic()
    with app.app_context():
        report["left_at_stop"] = db.session.scalar(unsettled) or 0
        deadline = started + stuck_sending_after().total_seconds() + grace_seconds + 60
        while (db.session.scalar(unsettled) or 0) and time.monotonic() < deadline:
            if report["rounds"]:
                time.sleep(5)  # records still sending become due one by one
            summary = sync_requests()
            report["rounds"] += 1
            report["adopted"] += summary.adopted
            report["not_created"] += summary.not_created
            report["failures"] += summary.failures
            db.session.commit()
        report["left_after"] = db.session.scalar(unsettled) or 0
        db.engine.dispose()
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def _percentile(entry: dict, percent: float) -> int:
    """The response time ``percent`` of the requests finished within, from Locust's histogram.

    Locust's own rule (``locust.stats.calculate_response_time_percentile``), written out: importing
    locust here would monkey-patch this process with gevent.
    """
    times = sorted(((int(ms), count) for ms, count in entry["response_times"].items()), reverse=True)
    total = entry["num_requests"]
    within = int(total * percent)
    processed = 0
    for ms, count in times:
        processed += count
        if total - processed <= within:
            return ms
    return 0


def _endpoints(stats: list[dict]) -> list[dict]:
    rows = []
    for s in stats:
        rows.append({"name": s["name"], "method": s["method"], "requests": s["num_requests"],
                     "failures": s["num_failures"],
                     "avg_ms": round(s["total_response_time"] / max(s["num_requests"], 1), 1),
                     "p50_ms": _percentile(s, 0.50), "p95_ms": _percentile(s, 0.95)})
    return rows


def _aggregate(stats: list[dict]) -> dict:
    times: dict[str, int] = {}
    for s in stats:
        for ms, count in s["response_times"].items():
            times[ms] = times.get(ms, 0) + count
    total = {"response_times": times, "num_requests": sum(s["num_requests"] for s in stats)}
    return {"p50_ms": _percentile(total, 0.50), "p95_ms": _percentile(total, 0.95)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--grace", type=int, default=10, help="reconcile grace for the final phase, seconds")
    args = parser.parse_args()
    tag = f"soak-{uuid.uuid4().hex[:8]}"
    load_before = [round(x, 2) for x in os.getloadavg()]
    with c.sandbox_server(latency_ms=args.latency_ms) as sandbox_url, \
            c.postgres_database("bench_soak") as database_url:
        env = c.app_env(sandbox_url, database_url, REDIS_URL=c.REDIS_URL, JOBS_QUEUE=tag, REDIS_KEY_PREFIX=tag,
                        CAP_SYNC_INTERVAL_SECONDS="30")
        c.prepare_database(env)
        c.ensure_users(env)
        worker = [str(c.BIN / "flask"), "--app", "app", "worker", "--name", tag]
        with c.app_server(env, workers=2) as (base_url, _), c.child("worker", worker, env):
            locust_env = {**c.base_env(), "BENCH_MAKER_USER": c.MAKER[0], "BENCH_MAKER_PASSWORD": c.MAKER[1],
                          "BENCH_CHECKER_USER": c.CHECKER[0], "BENCH_CHECKER_PASSWORD": c.CHECKER[1]}
            argv = [str(c.BIN / "locust"), "-f", str(c.ROOT / "bench" / "locust_soak.py"), "--headless",
                    "-u", str(args.users), "-r", "10", "-t", f"{args.seconds}s", "--host", base_url,
                    "--only-summary", "--json", "--loglevel", "WARNING", "--stop-timeout", "15"]
            print(f"soak: {args.users} users for {args.seconds} s against {base_url} "
                  f"(load average {load_before[0]}) ...", flush=True)
            done = subprocess.run(argv, cwd=c.ROOT, env=locust_env, capture_output=True, text=True,
                                  timeout=args.seconds + 180, check=False)
            (c.LOGS / "locust_soak.log").write_text(done.stderr)
            (c.LOGS / f"locust_soak_{args.users}users.json").write_text(done.stdout)
            stats = json.loads(done.stdout)
            load_at_end = [round(x, 2) for x in os.getloadavg()]
        # The app and the worker have stopped: whatever is still in flight is settled now.
        print(f"final reconciliation (grace {args.grace} s) ...", flush=True)
        final = _reconcile_until_settled(env, args.grace)
        sandbox_state = requests.get(sandbox_url + "/_sandbox/state", timeout=10).json()
        counts = _app_counts(env)
    endpoints = _endpoints(stats)
    total = sum(e["requests"] for e in endpoints)
    failures = sum(e["failures"] for e in endpoints)
    created = sandbox_state["created_count"]
    left = sum(counts["by_state"].get(s, 0) for s in UNSETTLED)
    checks = {
        "zero_failures": failures == 0,
        "sandbox_created_equals_app_records": created == counts["records_made"],
        "app_records_equal_distinct_request_ids": counts["distinct_request_ids"] == counts["records_made"],
        "none_left_sending_or_unknown_after_reconcile": left == 0,
    }
    result = {
        "users": args.users, "seconds": args.seconds, "sandbox_latency_ms": args.latency_ms,
        "load_average_before": load_before, "load_average_at_end_of_load": load_at_end,
        "requests": total, "failures": failures, "rps": round(total / args.seconds, 1),
        "all_requests": _aggregate(stats), "endpoints": endpoints,
        "final_reconcile": final, "sandbox_created_count": created, "app": counts, "checks": checks,
        "target_met": all(checks.values()),
    }
    path = c.write_result(f"soak_{args.users}users", result)
    c.print_table(["request", "count", "failures", "avg ms", "p50 ms", "p95 ms"],
                  [[f"{e['method']} {e['name']}", e["requests"], e["failures"], e["avg_ms"], e["p50_ms"], e["p95_ms"]]
                   for e in endpoints])
    print(f"\n{total} requests ({result['rps']}/s), {failures} failures; all requests p50 "
          f"{result['all_requests']['p50_ms']} ms, p95 {result['all_requests']['p95_ms']} ms; "
          f"load average {load_before[0]} before, {load_at_end[0]} at the end of the load")
    print(f"final reconciliation: {final['left_at_stop']} left sending/unknown at stop, {final['rounds']} round(s) "
          f"in {final['seconds']} s, {final['adopted']} found, {final['not_created']} not created, "
          f"{final['left_after']} left")
    print(f"sandbox created {created}; app made {counts['records_made']} with {counts['distinct_request_ids']} "
          f"distinct requestIds; {counts['imported_copies']} imported; states {counts['by_state']}; "
          f"decisions {counts['decisions']}")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print(f"results in {path.relative_to(c.ROOT)}")
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    c.main_guard(main)
