"""Submission overhead: a full submission through the app vs a direct POST of the same payload.

Starts the standalone sandbox (gunicorn, 50 ms added latency) and the app under gunicorn in real
mode pointing at it, then times, interleaved, N of each:

- app: signed-in session; form POST (/requests/new → review page), review POST (/requests →
  303) and the redirect's GET of the status page;
- direct: ``requests.post`` of the byte-identical JSON body to the sandbox's create endpoint,
  over a kept-alive session, as the app's own client does.

Target: app ÷ direct ≤ 1.15 at the median. Results: bench/results/submission_overhead[_<db>].json.

    .venv/bin/python -m bench.submission_overhead [--db postgres|sqlite] [-n 200] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
import uuid
from pathlib import Path

import requests

from bench import _common as c

TARGET_RATIO = 1.15
CREATE_PATH = "/api_gateway/v2/request-workflow/CUSTOMER-STATUS-CHANGE"


def _payload(env: dict) -> dict:
    """The exact body the app sends for :data:`_common.FORM` (same builder, same settings)."""
    from gateway.payload import StatusChange, build_payload, intouch_basic_authorization

    form = c.FORM
    change = StatusChange(**{k: form[k] for k in ("tillId", "storeId", "zoneId", "conceptId", "identifierName",
                                                   "identifierValue", "label", "reason", "source", "accountId")})
    return build_payload(change, env["CAP_INTOUCH_HOST"],
                         intouch_basic_authorization(env["CAP_INTOUCH_USERNAME"], env["CAP_INTOUCH_PASSWORD"]))


class AppFlow:
    """One signed-in person submitting through the app."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = c.browser_session()
        c.sign_in(self.session, base_url, c.MAKER)
        page = self.session.get(base_url + "/requests/new", timeout=10)
        page.raise_for_status()
        self.csrf = c.csrf_token(page.text)

    def submit(self) -> dict:
        """Form POST → review page; review POST → 303; GET the status page. Return step timings (ms)."""
        form = {**c.FORM, "submission_key": uuid.uuid4().hex, "csrf_token": self.csrf}
        t0 = time.perf_counter()
        review = self.session.post(self.base_url + "/requests/new", data=form, timeout=30)
        t1 = time.perf_counter()
        if review.status_code != 200 or "Submit request" not in review.text:
            raise RuntimeError(f"review failed: {review.status_code} {review.text[:300]}")
        hidden = c.form_inputs(review.text, "/requests")
        created = self.session.post(self.base_url + "/requests", data=hidden, timeout=30, allow_redirects=False)
        t2 = time.perf_counter()
        if created.status_code != 303:
            raise RuntimeError(f"submission failed: {created.status_code} {created.text[:300]}")
        location = created.headers["Location"]
        status = self.session.get(location if location.startswith("http") else self.base_url + location, timeout=30)
        t3 = time.perf_counter()
        if status.status_code != 200 or "Waiting for approval" not in status.text:
            raise RuntimeError(f"the status page does not show the created request: {status.url}")
        return {"total": (t3 - t0) * 1000, "review": (t1 - t0) * 1000, "submit": (t2 - t1) * 1000,
                "status_page": (t3 - t2) * 1000}


class DirectFlow:
    """The same body POSTed straight to the gateway."""

    def __init__(self, sandbox_url: str, payload: dict, env: dict):
        self.url = sandbox_url + CREATE_PATH
        self.body = json.dumps(payload).encode("utf-8")
        self.session = requests.Session()
        self.headers = {"X-CAP-API-AUTH-ORG-ID": env["CAP_ORG_ID"], "X-CAP-UI-AUTH-TOKEN": env["CAP_UI_AUTH_TOKEN"],
                        "Content-Type": "application/json", "Accept": "application/json"}

    def submit(self) -> float:
        t0 = time.perf_counter()
        response = self.session.post(self.url, data=self.body, headers=self.headers, timeout=30)
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 200 or response.json()["data"]["state"] != "AdminTask":
            raise RuntimeError(f"direct create failed: {response.status_code} {response.text[:300]}")
        return elapsed


def measure(db: str, count: int, latency_ms: int, warmup: int = 10) -> dict:
    """Run the comparison on ``db`` ('postgres' or 'sqlite'); return the result document."""
    with c.sandbox_server(latency_ms=latency_ms) as sandbox_url, tempfile.TemporaryDirectory() as tmp:
        with (c.postgres_database("bench_submit") if db == "postgres"
              else contextlib.nullcontext(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")) as database_url:
            env = c.app_env(sandbox_url, database_url)
            c.prepare_database(env)
            signed_in = c.ensure_users(env)
            with c.app_server(env, workers=2) as (app_url, _):
                app, direct = AppFlow(app_url), DirectFlow(sandbox_url, _payload(env), env)
                for _ in range(warmup):
                    app.submit()
                    direct.submit()
                app_runs, direct_runs = [], []
                for i in range(count):
                    # Alternate which goes first, so drift on a shared machine hits both alike.
                    if i % 2:
                        app_runs.append(app.submit())
                        direct_runs.append(direct.submit())
                    else:
                        direct_runs.append(direct.submit())
                        app_runs.append(app.submit())
                created = requests.get(sandbox_url + "/_sandbox/state", timeout=10).json()["created_count"]
                # Which gateway calls one submission through the app makes (explains the figures).
                requests.get(sandbox_url + "/_sandbox/calls?clear=1", timeout=10)
                app.submit()
                calls = requests.get(sandbox_url + "/_sandbox/calls", timeout=10).json()["calls"]
                per_submission = {}
                for call in calls:
                    per_submission[call["endpoint"]] = per_submission.get(call["endpoint"], 0) + 1
    app_stats = c.summary([r["total"] for r in app_runs])
    direct_stats = c.summary(direct_runs)
    ratio = app_stats["median_ms"] / direct_stats["median_ms"]
    return {
        "database": db,
        "signed_in": signed_in,
        "sandbox_latency_ms": latency_ms,
        "runs_each": count,
        "sandbox_created_count": created,
        "gateway_calls_per_app_submission": per_submission,
        "app": app_stats,
        "app_steps": {step: c.summary([r[step] for r in app_runs]) for step in ("review", "submit", "status_page")},
        "direct": direct_stats,
        "ratio_median": round(ratio, 3),
        "ratio_p95": round(app_stats["p95_ms"] / direct_stats["p95_ms"], 3),
        "overhead_median_ms": round(app_stats["median_ms"] - direct_stats["median_ms"], 2),
        "target_ratio_median": TARGET_RATIO,
        "target_met": ratio <= TARGET_RATIO,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("-n", type=int, default=200, help="submissions of each kind (default 200)")
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    result = measure(args.db, args.n, args.latency_ms)
    path = c.write_result(f"submission_overhead_{args.db}", result)
    rows = [[name, result[name]["median_ms"], result[name]["p95_ms"]] for name in ("app", "direct")]
    rows += [[f"app: {step}", s["median_ms"], s["p95_ms"]] for step, s in result["app_steps"].items()]
    c.print_table(["submission", "median ms", "p95 ms"], rows)
    print(f"\napp / direct: {result['ratio_median']} at the median, {result['ratio_p95']} at p95 "
          f"(target <= {TARGET_RATIO} at the median: {'met' if result['target_met'] else 'MISSED'})")
    print(f"gateway calls per submission through the app: {result['gateway_calls_per_app_submission']}")
    print(f"sandbox created {result['sandbox_created_count']} requests; results in {path.relative_to(c.ROOT)}")
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    c.main_guard(main)
