"""Memory: resident memory of each gunicorn worker after it has served 10,000 requests.

The app runs in real mode on PostgreSQL under the deployment's gunicorn.conf.py (2 workers,
worker recycling off: ``--max-requests 0``) with the standalone sandbox as its gateway. Four
signed-in clients send a mix like a working day's: status pages and their live fragment,
history (plain, filtered, searched), the form, review POSTs, and every tenth request a full
submission (which calls the gateway). Every request opens a new connection, so both workers
get a share; the access log (with the worker's pid) counts each worker's requests. Each
worker's RSS is read from /proc every 500 requests.

Targets: at most 120 MB per worker once it has served 10,000 requests, and no growth over its
last 5,000 (growth counted as more than 2 MB, or 2%, between the sample at half the run and
the last one).

    .venv/bin/python -m bench.memory [--requests 20000] [--clients 4]
"""

from __future__ import annotations

import argparse
import itertools
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import psutil

from bench import _common as c
from bench.history import STORES
from bench.seed import seeded_app

LIMIT_MB = 120.0
GROWTH_MB = 2.0
GROWTH_SHARE = 0.02


def worker_rss_mb(master_pid: int) -> dict[int, float]:
    """RSS (MB) of each gunicorn worker under the master."""
    master = psutil.Process(master_pid)
    return {p.pid: round(p.memory_info().rss / 1024 / 1024, 1) for p in master.children(recursive=False)}


class Client:
    """One signed-in person doing the mix."""

    def __init__(self, base: str, max_id: int, rng: random.Random):
        self.base, self.max_id, self.rng = base, max_id, rng
        self.session = c.browser_session()
        self.session.headers["Connection"] = "close"  # a new connection each time: both workers serve
        c.sign_in(self.session, base, c.MAKER)
        self.csrf = c.csrf_token(self.session.get(base + "/requests/new", timeout=30).text)

    def one(self, n: int) -> int:
        """Do request number ``n`` of the mix; return its HTTP status."""
        base, rng = self.base, self.rng
        if n % 10 == 0:
            form = {**c.FORM, "submission_key": uuid.uuid4().hex, "csrf_token": self.csrf}
            return self.session.post(base + "/requests", data=form, timeout=30).status_code
        kind = n % 10
        if kind in (1, 2, 3):
            url = f"{base}/requests/{rng.randint(1, self.max_id)}"
        elif kind == 4:
            url = base + "/requests"
        elif kind == 5:
            url = f"{base}/requests?state=AdminTask&store={rng.choice(STORES)}"
        elif kind == 6:
            url = f"{base}/requests?q=919780375690"
        elif kind == 7:
            url = base + "/requests/new"
        elif kind == 8:
            form = {**c.FORM, "submission_key": uuid.uuid4().hex, "csrf_token": self.csrf,
                    "reason": "x" * rng.randint(3, 500)}
            return self.session.post(base + "/requests/new", data=form, timeout=30).status_code
        else:
            url = f"{base}/requests/{rng.randint(1, self.max_id)}/live"
        return self.session.get(url, timeout=30).status_code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000, help="in all (each worker gets about half)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--sample-every", type=int, default=500)
    args = parser.parse_args()

    samples: list[dict] = []
    statuses: dict[int, int] = {}
    with c.sandbox_server() as sandbox_url, c.postgres_database("bench_mem") as database_url:
        env = c.app_env(sandbox_url, database_url)
        seeded_app(env, args.records)
        # gunicorn.conf.py turns gunicorn's access log off (it would hold query strings); here it
        # writes only the worker's pid and the status.
        access = ("--max-requests", "0", "--access-logfile", "-", "--access-logformat", "%(p)s %(s)s")
        with c.app_server(env, workers=2, extra_args=access) as (base, master):
            clients = [Client(base, args.records, random.Random(i)) for i in range(args.clients)]
            counter = itertools.count(1)
            lock = threading.Lock()
            samples.append({"requests": 0, "rss_mb": worker_rss_mb(master.pid)})

            def work(client: Client) -> None:
                while True:
                    n = next(counter)
                    if n > args.requests:
                        return
                    status = client.one(n)
                    with lock:
                        statuses[status] = statuses.get(status, 0) + 1
                        if n % args.sample_every == 0:
                            samples.append({"requests": n, "rss_mb": worker_rss_mb(master.pid)})

            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(work, clients))
    served: dict[str, int] = {}
    for line in (c.LOGS / "app.log").read_text().splitlines():
        pid = line.split(" ", 1)[0].strip("<>")
        if pid.isdigit():
            served[pid] = served.get(pid, 0) + 1
    samples.sort(key=lambda s: s["requests"])
    half = min(samples, key=lambda s: abs(s["requests"] - args.requests // 2))
    last = samples[-1]
    workers = sorted(set(last["rss_mb"]) & set(half["rss_mb"]))
    per_worker = []
    for pid in workers:
        at_half, at_end = half["rss_mb"][pid], last["rss_mb"][pid]
        growth = at_end - at_half
        per_worker.append({"pid": pid, "requests_served": served.get(str(pid), 0),
                           "rss_mb_at_half": at_half, "rss_mb_at_end": at_end,
                           "growth_mb": round(growth, 1),
                           "ok": at_end <= LIMIT_MB and (growth <= GROWTH_MB or growth <= at_half * GROWTH_SHARE)
                           and served.get(str(pid), 0) >= 10_000})
    errors = sum(n for status, n in statuses.items() if status >= 400)
    result = {
        "requests": args.requests, "clients": args.clients, "records": args.records,
        "statuses": {str(k): v for k, v in sorted(statuses.items())}, "errors": errors,
        "samples": samples, "workers": per_worker,
        "targets": {"rss_mb_max": LIMIT_MB, "growth_mb_max": GROWTH_MB, "growth_share_max": GROWTH_SHARE},
        "target_met": bool(per_worker) and all(w["ok"] for w in per_worker) and errors == 0,
    }
    path = c.write_result("memory", result)
    _plot(samples, c.RESULTS / "memory.png")
    c.print_table(["worker", "requests served", f"RSS at {half['requests']:,} (MB)",
                   f"RSS at {last['requests']:,} (MB)", "growth MB", "target"],
                  [[w["pid"], w["requests_served"], w["rss_mb_at_half"], w["rss_mb_at_end"], w["growth_mb"],
                    "met" if w["ok"] else "MISSED"] for w in per_worker])
    print(f"\nstatuses {result['statuses']}; results in {path.relative_to(c.ROOT)} and bench/results/memory.png")
    return 0 if result["target_met"] else 1


def _plot(samples: list[dict], path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    pids = sorted({pid for s in samples for pid in s["rss_mb"]})
    for n, pid in enumerate(pids, 1):
        points = [(s["requests"], s["rss_mb"][pid]) for s in samples if pid in s["rss_mb"]]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=f"worker {n}")
    ax.axhline(LIMIT_MB, color="red", linewidth=1, label="limit 120 MB")
    ax.set_xlabel("requests served (both workers together)")
    ax.set_ylabel("resident memory (MB)")
    ax.set_ylim(bottom=0)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    c.main_guard(main)
