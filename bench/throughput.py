"""Throughput: status-page requests per second under gunicorn (2 workers) at 20 concurrent clients,
against a bare route in the same server rendering a template of the same size.

The app runs in real mode on PostgreSQL (seeded with --records requests) with the standalone
sandbox as its gateway; the server is ``bench.bare_app:create()`` (the app plus
``/_bench/bare``), under the deployment's gunicorn.conf.py with 2 workers. Locust (headless,
127.0.0.1 only, 20 users, no wait) signs each user in and runs --seconds against each target
in turn. Records are decided and verified, so the status page asks neither the gateway nor the
customer API (a status page of an open request asks at most once per 5 s per request; that is
measured by page_latency.py).

``--baseline DIR`` also serves another checkout (e.g. the commit before a change, unpacked with
this bench/ copied in) on the same database, and runs its bare route and status page in the same
alternation: before and after, each as its own share of its own bare route, under the same load.

Target: status page ≥ 60% of the bare figure (issue 13). Results: bench/results/throughput.json.

    .venv/bin/python -m bench.throughput [--seconds 30] [--users 20] [--records 1000] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
from pathlib import Path

from sqlalchemy import update

from bench import _common as c
from bench.seed import seeded_app

TARGET_SHARE = 0.6


def run_locust(base_url: str, target: str, users: int, seconds: int, extra_env: dict) -> dict:
    """Run bench/locust_pages.py headless against ``target``; return requests, failures and rps."""
    env = {**c.base_env(), "BENCH_TARGET": target, **extra_env}
    argv = [str(c.BIN / "locust"), "-f", str(c.ROOT / "bench" / "locust_pages.py"), "--headless",
            "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", base_url,
            "--only-summary", "--json", "--loglevel", "WARNING", "--stop-timeout", "5"]
    done = subprocess.run(argv, cwd=c.ROOT, env=env, capture_output=True, text=True, timeout=seconds + 120,
                          check=False)
    try:
        stats = json.loads(done.stdout)
    except ValueError:
        raise RuntimeError(f"locust gave no JSON:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}") from None
    entry = next(s for s in stats if s["name"] == ("bare" if target == "bare" else "status"))
    elapsed = entry["last_request_timestamp"] - entry["start_time"]
    times = entry["response_times"]  # {rounded ms: count}
    ordered = sorted((float(ms), n) for ms, n in times.items())
    total = sum(n for _, n in ordered)

    def percentile(share: float) -> float:
        seen = 0
        for ms, n in ordered:
            seen += n
            if seen >= share * total:
                return ms
        return ordered[-1][0] if ordered else 0.0

    return {
        "requests": entry["num_requests"],
        "failures": entry["num_failures"],
        "seconds": round(elapsed, 1),
        "rps": round(entry["num_requests"] / elapsed, 1) if elapsed > 0 else 0.0,
        "median_ms": percentile(0.5),
        "p95_ms": percentile(0.95),
        "response_bytes": round(entry["total_content_length"] / max(entry["num_requests"], 1)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline", type=Path, help="another checkout to measure in the same alternation")
    args = parser.parse_args()
    from extensions import db
    from models import TrackedRequest

    with c.sandbox_server() as sandbox_url, c.postgres_database("bench_rps") as database_url:
        env = c.app_env(sandbox_url, database_url)
        app, _info = seeded_app(env, args.records)
        with app.app_context():
            # Settled requests, as most of a brand's history is: approved and verified in the
            # customer's status log (issue 14), so the page asks neither the gateway nor the
            # customer API. (An approved request whose log does not show the change yet is read
            # at most once per CAP_STATUS_MIN_REFRESH_SECONDS.)
            db.session.execute(update(TrackedRequest).values(
                state="approved", customer_label_after=TrackedRequest.label, customer_status_after="ACTIVE",
                customer_after_at=TrackedRequest.updated_at))
            db.session.commit()
            db.engine.dispose()
        with contextlib.ExitStack() as servers:
            urls = {"": servers.enter_context(c.app_server(env, workers=args.workers,
                                                           app_spec="bench.bare_app:create()"))[0]}
            if args.baseline:
                urls["baseline "] = servers.enter_context(c.app_server(
                    env, workers=args.workers, app_spec="bench.bare_app:create()", name="app_baseline",
                    root=args.baseline))[0]
            session = c.browser_session()
            c.sign_in(session, urls[""], c.MAKER)
            page = session.get(f"{urls['']}/requests/1", timeout=10)
            page.raise_for_status()
            size = len(page.content)
            bare = session.get(f"{urls['']}/_bench/bare?bytes={size}", timeout=10)
            bare.raise_for_status()
            people = {"BENCH_USERNAME": c.MAKER[0], "BENCH_PASSWORD": c.MAKER[1], "BENCH_MAX_ID": str(args.records),
                      "BENCH_BARE_BYTES": str(size)}
            results: dict[str, list] = {}
            for _round in range(2):  # twice each, alternating
                for prefix, base_url in urls.items():
                    for target in ("bare", "status"):
                        run = run_locust(base_url, target, args.users, args.seconds, people)
                        if abs(run["response_bytes"] - size) > size * 0.25:  # e.g. answered by the sign-in page
                            raise RuntimeError(f"{prefix}{target} answered {run['response_bytes']} bytes, "
                                               f"not ~{size}: not signed in?")
                        results.setdefault(prefix + target, []).append(run)
                        print(f"  {prefix}{target}: {run['rps']} req/s, {run['failures']} failures", flush=True)
    best = {t: max(runs, key=lambda r: r["rps"]) for t, runs in results.items()}
    share = best["status"]["rps"] / best["bare"]["rps"] if best["bare"]["rps"] else 0.0
    baseline_share = (best["baseline status"]["rps"] / best["baseline bare"]["rps"]
                      if args.baseline and best["baseline bare"]["rps"] else None)
    failures = sum(r["failures"] for runs in results.values() for r in runs)
    result = {
        "workers": args.workers, "users": args.users, "seconds_per_run": args.seconds, "records": args.records,
        "status_page_bytes": size, "bare_page_bytes": len(bare.content),
        "runs": results, "best": best, "status_share_of_bare": round(share, 3),
        "baseline_root": str(args.baseline) if args.baseline else None,
        "baseline_status_share_of_bare": round(baseline_share, 3) if baseline_share is not None else None,
        "failures": failures, "target_share": TARGET_SHARE, "target_met": share >= TARGET_SHARE and failures == 0,
    }
    path = c.write_result("throughput", result)
    c.print_table(["route", "req/s (best of 2)", "median ms", "p95 ms", "bytes"],
                  [[t, best[t]["rps"], best[t]["median_ms"], best[t]["p95_ms"], best[t]["response_bytes"]]
                   for t in best])
    print(f"\nstatus page = {share:.0%} of the bare route (target >= {TARGET_SHARE:.0%}: "
          f"{'met' if result['target_met'] else 'MISSED'}); {failures} failures; results in {path.relative_to(c.ROOT)}")
    if baseline_share is not None:
        print(f"baseline: status page = {baseline_share:.0%} of its bare route (same alternation)")
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    c.main_guard(main)
