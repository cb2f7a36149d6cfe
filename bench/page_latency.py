"""Page latency against the number of records: status page and history at 1k, 100k and 1M.

For each database engine (SQLite file, PostgreSQL) and each size, a database of its own is
filled by bench/seed.py and served by its own gunicorn (2 workers, real mode, the standalone
sandbox as its gateway). One signed-in client per server then fetches N samples of: a random
record's status page, the history's first page, a deep history page (reached by following
"next" links 20 times), and the history filtered by state and by store. The sizes are
interleaved (each sample is taken at every size back to back, in random order), so a busy
moment on a shared machine hits every size alike. Requests are sequential: this is latency,
not throughput.

Targets: p95 under 100 ms at 1M records; growth from 1k to 1M at most 2x.
Results: bench/results/page_latency.json and page_latency.png.

    .venv/bin/python -m bench.page_latency [--db sqlite postgres] [--sizes 1000 100000 1000000] [-n 200]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import re
import tempfile
import time
from html import unescape
from pathlib import Path

import requests

from bench import _common as c
from bench.history import STORES
from bench.seed import seeded_app

TARGET_P95_MS = 100.0
TARGET_GROWTH = 2.0
PAGES = ("status", "history", "history_deep", "history_state", "history_store")


def _next_link(html: str) -> str | None:
    match = re.search(r'<a[^>]*href="([^"]+)"[^>]*rel="next"', html) or re.search(
        r'<a[^>]*rel="next"[^>]*href="([^"]+)"', html)
    return unescape(match.group(1)) if match else None


def _history_filter_names(html: str) -> dict[str, str]:
    """The history form's field names for state and store (they may differ between versions)."""
    names = set(re.findall(r'name="([A-Za-z_]+)"', html))
    return {"state": "state" if "state" in names else "", "store": next(
        (n for n in ("store", "store_id", "storeId") if n in names), "")}


def _deep_url(session: requests.Session, base: str, hops: int = 20) -> str:
    """Follow "next" from the history's first page ``hops`` times; return the URL reached."""
    url = base + "/requests"
    for _ in range(hops):
        link = _next_link(session.get(url, timeout=30).text)
        if not link:
            break
        url = link if link.startswith("http") else base + link
    return url


class Target:
    """One size's server and signed-in client, with the URLs of each page kind."""

    def __init__(self, size: int, base: str, rng: random.Random):
        self.size, self.base, self.rng = size, base, rng
        self.session = c.browser_session()
        c.sign_in(self.session, base, c.MAKER)
        first = self.session.get(base + "/requests", timeout=30)
        first.raise_for_status()
        self.names = _history_filter_names(first.text)
        self.deep = _deep_url(self.session, base)

    def url(self, page: str) -> str:
        base, rng = self.base, self.rng
        return {
            "status": lambda: f"{base}/requests/{rng.randint(1, self.size)}",
            "history": lambda: base + "/requests",
            "history_deep": lambda: self.deep,
            "history_state": lambda: f"{base}/requests?{self.names['state'] or 'state'}=AdminTask",
            "history_store": lambda: f"{base}/requests?{self.names['store'] or 'store'}={rng.choice(STORES)}",
        }[page]()

    def fetch(self, page: str) -> float:
        t0 = time.perf_counter()
        response = self.session.get(self.url(page), timeout=60)
        elapsed = (time.perf_counter() - t0) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{page}: {response.url} answered {response.status_code}")
        return elapsed


def run_database(kind: str, sizes: list[int], samples: int, sandbox_url: str) -> dict:
    """Fill one database per size, serve each, and measure them interleaved; return results per size."""

    targets: list[Target] = []
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        for size in sizes:
            if kind == "postgres":
                database_url = stack.enter_context(c.postgres_database(f"bench_pages_{size}"))
            else:
                database_url = f"sqlite:///{folder / f'pages_{size}.sqlite3'}"
            env = c.app_env(sandbox_url, database_url)
            _app, info = seeded_app(env, size)
            print(f"  {kind}: {size:>9,} records (seeded in {info['seconds']} s)", flush=True)
            base, _ = stack.enter_context(c.app_server(env, workers=2, name=f"app_{kind}_{size}"))
            targets.append(Target(size, base, random.Random(size)))
        for target in targets:  # warm up: connections, caches, template compilation
            for page in PAGES:
                for _ in range(5):
                    target.fetch(page)
        times = {t.size: {page: [] for page in PAGES} for t in targets}
        order = random.Random(1)
        for _ in range(samples):
            for page in PAGES:
                for target in order.sample(targets, len(targets)):
                    times[target.size][page].append(target.fetch(page))
        return {str(t.size): {page: c.summary(times[t.size][page]) for page in PAGES}
                | {"filters_found": t.names, "deep_url": t.deep.replace(t.base, "")} for t in targets}


def plot(result: dict, path: Path) -> None:
    """p95 latency against records, one line per page and database."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for kind, per_size in result["databases"].items():
        sizes = sorted(int(s) for s in per_size)
        for page in PAGES:
            ax.plot(sizes, [per_size[str(s)][page]["p95_ms"] for s in sizes], marker="o",
                    linestyle="-" if kind == "postgres" else "--", label=f"{page} ({kind})")
    ax.axhline(TARGET_P95_MS, color="red", linewidth=1, label="target p95 (100 ms)")
    ax.set_xscale("log")
    ax.set_xlabel("tracked requests in the database")
    ax.set_ylabel("p95 latency (ms)")
    ax.set_title("Page latency against database size (gunicorn, sequential requests)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1_000, 100_000, 1_000_000])
    parser.add_argument("-n", type=int, default=200, help="samples per page kind and size")
    args = parser.parse_args()
    result: dict = {"sizes": args.sizes, "samples": args.n, "databases": {}}
    with c.sandbox_server() as sandbox_url:
        for kind in args.db:
            result["databases"][kind] = run_database(kind, sorted(args.sizes), args.n, sandbox_url)
    smallest, largest = str(min(args.sizes)), str(max(args.sizes))
    verdicts, rows = [], []
    for kind, per_size in result["databases"].items():
        for page in PAGES:
            low, high = per_size[smallest][page]["p95_ms"], per_size[largest][page]["p95_ms"]
            growth = high / low if low else float("inf")
            ok = high < TARGET_P95_MS and growth <= TARGET_GROWTH
            verdicts.append({"database": kind, "page": page, "p95_smallest_ms": low, "p95_largest_ms": high,
                             "growth": round(growth, 2), "target_met": ok})
            rows.append([kind, page] + [f"{per_size[str(s)][page]['median_ms']} / {per_size[str(s)][page]['p95_ms']}"
                                        for s in sorted(args.sizes)] + [f"{growth:.2f}x", "met" if ok else "MISSED"])
    result["verdicts"] = verdicts
    result["targets"] = {"p95_ms_at_largest": TARGET_P95_MS, "growth_max": TARGET_GROWTH}
    path = c.write_result("page_latency", result)
    plot(result, c.RESULTS / "page_latency.png")
    c.print_table(["db", "page"] + [f"{s:,} (med/p95 ms)" for s in sorted(args.sizes)] + ["p95 growth", "target"],
                  rows)
    print(f"\nresults in {path.relative_to(c.ROOT)} and bench/results/page_latency.png")
    return 0 if all(v["target_met"] for v in verdicts) else 1


if __name__ == "__main__":
    c.main_guard(main)
