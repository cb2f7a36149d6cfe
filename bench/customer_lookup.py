"""Review-page latency with the customer look-up on and off, at 50 ms gateway latency (issue 14).

The app runs in-process in sandbox mode (Flask's test client, no HTTP server in front), with the
sandbox adding ``--latency`` ms to every call, the customer look-up and status log included. For
each sample the review page (``POST /requests/new``) is drawn three ways, interleaved:

- ``off``: ``CAP_CUSTOMER_LOOKUP=off`` (no card, no checks);
- ``on, cold``: look-up on and the cache empty (a look-up and a status log: two round trips);
- ``on, warm``: the same customer again within the cache window (no call).

Then the request is submitted after a warm review, and the customer calls the submit made are
counted (target: none, the cache answers).

Target: at the median, ``on, cold`` adds at most two gateway round trips + 15 ms to ``off``.
Results: bench/results/customer_lookup.json.

    .venv/bin/python -m bench.customer_lookup [-n 100] [--latency 50]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from bench import _common as c


def _app(folder: Path, lookup: str, latency_ms: int):
    from app import create_app

    app = create_app({
        "TESTING": True, "WTF_CSRF_ENABLED": False, "SCHEMA_SETUP": "create_all",
        "PASSWORD_HASH_METHOD": "scrypt:2048:8:1", "SANDBOX_LATENCY_MS": latency_ms,
        "ENVIRON": {"DATABASE_URL": f"sqlite:///{folder / f'{lookup}.sqlite3'}", "CAP_CUSTOMER_LOOKUP": lookup},
    })
    client = app.test_client()
    from services.people import accounts

    agent = next(d for d in accounts.DEMO_USERS if d.username == "agent")
    response = client.post("/login", data={"username": agent.username, "password": agent.password})
    assert response.status_code == 303, response.status_code
    return app, client


def _timed(client, form: dict) -> float:
    started = time.perf_counter()
    response = client.post("/requests/new", data={**form, "action": "review"})
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.status_code
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="samples per variant")
    parser.add_argument("--latency", type=int, default=50, help="gateway latency in ms")
    args = parser.parse_args()
    form = {**c.FORM, "identifierValue": "9780375690"}
    with tempfile.TemporaryDirectory() as folder:
        _, off = _app(Path(folder), "off", args.latency)
        on_app, on = _app(Path(folder), "on", args.latency)
        cache = on_app.extensions["customer_client"].cache
        for client in (off, on):  # warm up templates and connections
            _timed(client, form)
        samples: dict[str, list[float]] = {"off": [], "on, cold": [], "on, warm": []}
        for _ in range(args.n):
            samples["off"].append(_timed(off, form))
            cache._local.clear()  # noqa: SLF001 - a cold look-up every sample
            samples["on, cold"].append(_timed(on, form))
            samples["on, warm"].append(_timed(on, form))
        sandbox = on_app.extensions["sandbox_app"].extensions["sandbox"]
        _timed(on, form)
        before = len(sandbox.customer_calls)
        submitted = on.post("/requests", data={**form, "reviewed": "1", "submission_key": "b" * 32})
        assert submitted.status_code == 303 and re.search(r"/requests/\d+$", submitted.headers["Location"])
        submit_calls = len(sandbox.customer_calls) - before
    stats = {name: c.summary(values) for name, values in samples.items()}
    added = stats["on, cold"]["median_ms"] - stats["off"]["median_ms"]
    target = 2 * args.latency + 15
    c.print_table(["variant", "n", "median ms", "p95 ms"],
                  [[name, s["n"], s["median_ms"], s["p95_ms"]] for name, s in stats.items()])
    print(f"look-up adds {added:.1f} ms at the median (target at most {target} ms); "
          f"customer calls made by the submit after a review: {submit_calls} (target 0)")
    path = c.write_result("customer_lookup", {"latency_ms": args.latency, "samples": args.n, "stats": stats,
                                              "added_median_ms": round(added, 2), "target_ms": target,
                                              "submit_customer_calls": submit_calls})
    print(f"written: {path}")


if __name__ == "__main__":
    main()
