"""Submission overhead: a full submission through the app vs a direct POST of the same payload.

Starts the standalone sandbox (gunicorn, 50 ms added latency) and the app under gunicorn in real
mode pointing at it, then times, interleaved, N of each:

- app: signed-in session; form POST (/requests/new → review page), then the click on "Submit
  request": the review POST (/requests → 303) and the redirect's GET of the status page;
- direct: a POST of the byte-identical JSON body to the sandbox's create endpoint,
  over a kept-alive session made as the app's own client makes it (gateway.transport.environment_session).

The ratio is the click's (submit → status page drawn, issue 13) to the direct call's; the
review page before it is a click of its own and is reported beside it, as is the total of all
three requests.

``--baseline DIR`` also serves another checkout of the app (e.g. the commit before a change,
``git archive <commit> | tar -x -C DIR``, with this bench/ copied in) on a database of its own,
and times its submissions in the same rounds: before and after are then compared under the
same load of a shared machine, each as its own ratio to the direct calls of that run.

Target: click ÷ direct ≤ 1.15 at the median and ≤ 1.3 at p95. Results: bench/results/submission_overhead[_<db>].json.

    .venv/bin/python -m bench.submission_overhead [--db postgres|sqlite] [-n 200] [--latency-ms 50]
        [--baseline DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import tempfile
import time
import uuid
from pathlib import Path

import requests

from bench import _common as c
from gateway.transport import environment_session

TARGET_RATIO = 1.15
TARGET_P95 = 1.3
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
        # The same customer every round: the review asks to tick "another request is open" (issue
        # 14), as a person would before pressing Submit.
        for tick in re.findall(r'name="(confirm_(?:noop|duplicate))"', review.text):
            hidden[tick] = "y"
        created = self.session.post(self.base_url + "/requests", data=hidden, timeout=30, allow_redirects=False)
        t2 = time.perf_counter()
        if created.status_code != 303:
            raise RuntimeError(f"submission failed: {created.status_code} {created.text[:300]}")
        location = created.headers["Location"]
        status = self.session.get(location if location.startswith("http") else self.base_url + location, timeout=30)
        t3 = time.perf_counter()
        if status.status_code != 200 or "Waiting for approval" not in status.text:
            raise RuntimeError(f"the status page does not show the created request: {status.url}")
        return {"click": (t3 - t1) * 1000, "total": (t3 - t0) * 1000, "review": (t1 - t0) * 1000,
                "submit": (t2 - t1) * 1000, "status_page": (t3 - t2) * 1000}


class DirectFlow:
    """The same body POSTed straight to the gateway."""

    def __init__(self, sandbox_url: str, payload: dict, env: dict):
        self.url = sandbox_url + CREATE_PATH
        self.body = json.dumps(payload).encode("utf-8")
        # The app's own kind of session (proxy settings read once, not per call).
        self.session = environment_session(sandbox_url)
        self.headers = {"X-CAP-API-AUTH-ORG-ID": env["CAP_ORG_ID"], "X-CAP-UI-AUTH-TOKEN": env["CAP_UI_AUTH_TOKEN"],
                        "Content-Type": "application/json", "Accept": "application/json"}

    def submit(self) -> float:
        t0 = time.perf_counter()
        response = self.session.post(self.url, data=self.body, headers=self.headers, timeout=30)
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 200 or response.json()["data"]["state"] != "AdminTask":
            raise RuntimeError(f"direct create failed: {response.status_code} {response.text[:300]}")
        return elapsed


@contextlib.contextmanager
def _database(db: str, tmp: str, name: str):
    if db == "postgres":
        with c.postgres_database(f"bench_submit_{name}") as url:
            yield url
    else:
        yield f"sqlite:///{Path(tmp) / (name + '.sqlite3')}"


@contextlib.contextmanager
def _served(db: str, tmp: str, sandbox_url: str, name: str, root: Path):
    """A migrated database with the bench users and the app from ``root`` serving it; yields (url, env)."""
    with _database(db, tmp, name) as database_url:
        env = c.app_env(sandbox_url, database_url)
        c.prepare_database(env)
        c.ensure_users(env)
        with c.app_server(env, workers=2, name=f"app_{name}", root=root) as (app_url, _):
            yield app_url, env


def measure(db: str, count: int, latency_ms: int, warmup: int = 10, baseline: Path | None = None) -> dict:
    """Run the comparison on ``db`` ('postgres' or 'sqlite'); return the result document."""
    apps: dict[str, AppFlow] = {}
    with c.sandbox_server(latency_ms=latency_ms) as sandbox_url, tempfile.TemporaryDirectory() as tmp, \
            contextlib.ExitStack() as servers:
        app_url, env = servers.enter_context(_served(db, tmp, sandbox_url, "app", c.ROOT))
        apps["app"] = AppFlow(app_url)
        if baseline is not None:
            apps["baseline"] = AppFlow(servers.enter_context(_served(db, tmp, sandbox_url, "baseline", baseline))[0])
        direct = DirectFlow(sandbox_url, _payload(env), env)
        for _ in range(warmup):
            for flow in apps.values():
                flow.submit()
            direct.submit()
        runs: dict[str, list] = {name: [] for name in (*apps, "direct")}
        for i in range(count):
            # Rotate which goes first, so drift on a shared machine hits each alike.
            order = [*apps, "direct"]
            order = order[i % len(order):] + order[:i % len(order)]
            for name in order:
                runs[name].append(direct.submit() if name == "direct" else apps[name].submit())
        created = requests.get(sandbox_url + "/_sandbox/state", timeout=10).json()["created_count"]
        # Which gateway calls one submission through the app makes (explains the figures).
        requests.get(sandbox_url + "/_sandbox/calls?clear=1", timeout=10)
        apps["app"].submit()
        calls = requests.get(sandbox_url + "/_sandbox/calls", timeout=10).json()["calls"]
        per_submission: dict[str, int] = {}
        for call in calls:
            per_submission[call["endpoint"]] = per_submission.get(call["endpoint"], 0) + 1
    direct_stats = c.summary(runs["direct"])
    result: dict = {
        "database": db,
        "sandbox_latency_ms": latency_ms,
        "runs_each": count,
        "sandbox_created_count": created,
        "gateway_calls_per_app_submission": per_submission,
        "direct": direct_stats,
        "target_ratio_median": TARGET_RATIO,
    }
    for name in apps:
        stats = c.summary([r["click"] for r in runs[name]])
        total = c.summary([r["total"] for r in runs[name]])
        ratio = stats["median_ms"] / direct_stats["median_ms"]
        prefix = "" if name == "app" else "baseline_"
        result.update({
            f"{prefix}app": stats,
            f"{prefix}app_steps": {step: c.summary([r[step] for r in runs[name]])
                                   for step in ("review", "submit", "status_page")},
            f"{prefix}ratio_median": round(ratio, 3),
            f"{prefix}ratio_p95": round(stats["p95_ms"] / direct_stats["p95_ms"], 3),
            f"{prefix}overhead_median_ms": round(stats["median_ms"] - direct_stats["median_ms"], 2),
            f"{prefix}with_review": total,
            f"{prefix}with_review_ratio_median": round(total["median_ms"] / direct_stats["median_ms"], 3),
        })
    if baseline is not None:
        result["baseline_root"] = str(baseline)
    result["target_p95"] = TARGET_P95
    result["target_met"] = result["ratio_median"] <= TARGET_RATIO and result["ratio_p95"] <= TARGET_P95
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("-n", type=int, default=200, help="submissions of each kind (default 200)")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--baseline", type=Path, help="another checkout to time in the same rounds")
    args = parser.parse_args()
    result = measure(args.db, args.n, args.latency_ms, baseline=args.baseline)
    path = c.write_result(f"submission_overhead_{args.db}", result)
    names = ("app", "baseline_app", "direct") if args.baseline else ("app", "direct")
    rows = [[f"{name} (submit → status page)" if "app" in name else name, result[name]["median_ms"],
             result[name]["p95_ms"]] for name in names]
    for prefix in ("", "baseline_") if args.baseline else ("",):
        rows += [[f"{prefix}app: {step}", s["median_ms"], s["p95_ms"]]
                 for step, s in result[f"{prefix}app_steps"].items()]
        rows.append([f"{prefix}app: review + submit + status page", result[f"{prefix}with_review"]["median_ms"],
                     result[f"{prefix}with_review"]["p95_ms"]])
    c.print_table(["submission", "median ms", "p95 ms"], rows)
    print(f"\nclick / direct: {result['ratio_median']} at the median, {result['ratio_p95']} at p95 "
          f"(target <= {TARGET_RATIO} and <= {TARGET_P95}: {'met' if result['target_met'] else 'MISSED'}); "
          f"with the review page {result['with_review_ratio_median']}")
    if args.baseline:
        print(f"baseline / direct: {result['baseline_ratio_median']} at the median, "
              f"{result['baseline_ratio_p95']} at p95 (same rounds)")
    print(f"gateway calls per submission through the app: {result['gateway_calls_per_app_submission']}")
    print(f"sandbox created {result['sandbox_created_count']} requests; results in {path.relative_to(c.ROOT)}")
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    c.main_guard(main)
