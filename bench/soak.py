"""Load soak: 50 simulated people submitting, browsing and approving for 120 s, then a count.

Starts, all on 127.0.0.1: the standalone sandbox (gunicorn, 50 ms latency), a fresh PostgreSQL
database (migrated with ``flask db upgrade``), the app under the deployment's gunicorn.conf.py
(2 workers) with jobs on the real Redis (a queue and key prefix of its own) and one
``flask worker`` running the periodic sync every 30 s, then Locust headless
(bench/locust_soak.py: 4 submitters to 1 checker) until it stops by itself. Everything is
stopped and the database dropped at the end.

Pass: zero failed requests, and the sandbox's count of created requests equals the app's
count of requests it made (none lost, none doubled), every one with its own Capillary
requestId and none left ``sending``/``unknown``. Results: bench/results/soak.json.

    .venv/bin/python -m bench.soak [--users 50] [--seconds 120]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import uuid

import requests
from sqlalchemy import func, select

from bench import _common as c


def _app_counts(env: dict) -> dict:
    from app import create_app
    from extensions import db
    from models import Decision, TrackedRequest

    app = create_app({"ENVIRON": env})
    with app.app_context():
        mine = select(TrackedRequest).where(TrackedRequest.origin == "app").subquery()
        made = db.session.scalar(select(func.count()).select_from(mine)) or 0
        with_id = db.session.scalar(select(func.count(func.distinct(mine.c.request_id)))) or 0
        by_state = dict(db.session.execute(
            select(TrackedRequest.state, func.count()).where(TrackedRequest.origin == "app")
            .group_by(TrackedRequest.state)).all())
        decisions = dict(db.session.execute(select(Decision.status, func.count()).group_by(Decision.status)).all())
        db.engine.dispose()
    return {"records_made": made, "distinct_request_ids": with_id, "by_state": by_state, "decisions": decisions}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    tag = f"soak-{uuid.uuid4().hex[:8]}"
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
            print(f"soak: {args.users} users for {args.seconds} s against {base_url} ...", flush=True)
            done = subprocess.run(argv, cwd=c.ROOT, env=locust_env, capture_output=True, text=True,
                                  timeout=args.seconds + 180, check=False)
            (c.LOGS / "locust_soak.log").write_text(done.stderr)
            stats = json.loads(done.stdout)
            sandbox_state = requests.get(sandbox_url + "/_sandbox/state", timeout=10).json()
        counts = _app_counts(env)
    endpoints = [{"name": s["name"], "method": s["method"], "requests": s["num_requests"],
                  "failures": s["num_failures"],
                  "avg_ms": round(s["total_response_time"] / max(s["num_requests"], 1), 1)} for s in stats]
    total = sum(e["requests"] for e in endpoints)
    failures = sum(e["failures"] for e in endpoints)
    created = sandbox_state["created_count"]
    stuck = sum(counts["by_state"].get(s, 0) for s in ("sending", "unknown", "failed_to_submit"))
    checks = {
        "zero_failures": failures == 0,
        "sandbox_created_equals_app_records": created == counts["records_made"],
        "every_record_has_its_own_request_id": counts["distinct_request_ids"] == counts["records_made"],
        "none_left_sending_or_unknown": stuck == 0,
    }
    result = {
        "users": args.users, "seconds": args.seconds, "sandbox_latency_ms": args.latency_ms,
        "requests": total, "failures": failures, "rps": round(total / args.seconds, 1),
        "endpoints": endpoints, "sandbox_created_count": created, "app": counts, "checks": checks,
        "target_met": all(checks.values()),
    }
    path = c.write_result("soak", result)
    c.print_table(["request", "count", "failures", "avg ms"],
                  [[f"{e['method']} {e['name']}", e["requests"], e["failures"], e["avg_ms"]] for e in endpoints])
    print(f"\n{total} requests ({result['rps']}/s), {failures} failures; sandbox created {created}, "
          f"app made {counts['records_made']} ({counts['distinct_request_ids']} distinct requestIds); "
          f"states {counts['by_state']}; decisions {counts['decisions']}")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    print(f"results in {path.relative_to(c.ROOT)}")
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    c.main_guard(main)
