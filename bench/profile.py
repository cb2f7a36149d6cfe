"""Where the app's own time goes: py-spy samples the gunicorn workers during submissions and status pages.

Starts the standalone sandbox (gunicorn, 50 ms added latency) and the app under the deployment's
gunicorn.conf.py in real mode pointing at it (as bench/submission_overhead.py does), then, with
``py-spy record --subprocesses`` attached to the gunicorn master:

- ``submit``: N full submissions (form POST → review page, review POST → 303, GET status page);
- ``status``: N GETs of the status page of a decided request.

Idle threads (one waiting on the gateway's answer) are not sampled, so the samples are the
app's own CPU time. Prints, per phase, the functions with the most samples of their own and
the share of samples under a few places worth knowing (queries, templates, Babel, sign-in,
CSRF, the gateway client), and keeps the raw stacks (flamegraph.pl / speedscope input) in
bench/results/logs/profile_<phase>.txt.

    .venv/bin/python -m bench.profile [--db sqlite|postgres] [-n 300] [--rate 250]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, text

from bench import _common as c
from bench.submission_overhead import AppFlow

# Frames whose inclusive share is reported: (label, substring of a py-spy frame "func (file:line)").
PLACES = [
    ("SQL: execute (all queries)", "_execute_context (sqlalchemy/engine/base.py"),
    ("SQL: commit", "commit (sqlalchemy/orm/session.py"),
    ("sqlite3 commit (fsync)", "do_commit (sqlalchemy/engine/default.py"),
    ("connection checkout (pool, pre-ping)", "_checkout (sqlalchemy/pool/base.py"),
    ("Jinja render", "render (jinja2/environment.py"),
    ("Babel date formatting", "format_datetime (i18n.py"),
    ("flask-login user load", "_load_user (views/access.py"),
    ("the gate (views/access.py)", "_gate (views/access.py"),
    ("CSRF check", "protect (flask_wtf/csrf.py"),
    ("session cookie save", "save_session (flask/sessions.py"),
    ("security headers", "(security.py"),
    ("request logging", "(app_logging.py"),
    ("metrics", "(metrics.py"),
    ("gateway client (requests/urllib3)", "call (gateway/transport.py"),
    ("form validation", "validate (wtforms/form.py"),
    ("phonenumbers", "(phonenumbers/"),
    ("audit row", "record (services/people/audit.py"),
    ("status page refresh decision", "refresh (services/lifecycle/refresh.py"),
    ("status_context", "status_context (views/requests/status.py"),
]


@contextlib.contextmanager
def spy(pid: int, out: Path, rate: int):
    """Run ``py-spy record`` on ``pid`` and its workers while the block runs."""
    argv = [str(c.BIN / "py-spy"), "record", "--pid", str(pid), "--subprocesses", "--format", "raw",
            "--rate", str(rate), "--nonblocking", "--output", str(out)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    time.sleep(2)  # py-spy attaches to each worker
    try:
        yield
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # py-spy writes its file on Ctrl-C
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def analyse(raw: Path, top: int = 25) -> dict:
    """Self-time leaders and inclusive shares of :data:`PLACES` from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    places: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        # Only the gunicorn worker threads serving requests.
        if not any("handle_request (gunicorn/workers/gthread.py" in f for f in frames):
            continue
        total += count
        own[frames[-1]] += count
        for label, needle in PLACES:
            if any(needle in f for f in frames):
                places[label] += count
    return {
        "samples": total,
        "own_top": [(f, n, round(100 * n / max(total, 1), 1)) for f, n in own.most_common(top)],
        "places": [(label, places[label], round(100 * places[label] / max(total, 1), 1)) for label, _ in PLACES],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="sqlite")
    parser.add_argument("-n", type=int, default=300, help="submissions, and status pages (default 300)")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second (default 250)")
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    report = {}
    with c.sandbox_server(latency_ms=args.latency_ms) as sandbox_url, tempfile.TemporaryDirectory() as tmp:
        with (c.postgres_database("bench_profile") if args.db == "postgres"
              else contextlib.nullcontext(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")) as database_url:
            env = c.app_env(sandbox_url, database_url)
            c.prepare_database(env)
            c.ensure_users(env)
            with c.app_server(env, workers=2) as (app_url, master):
                flow = AppFlow(app_url)
                for _ in range(10):
                    flow.submit()
                c.LOGS.mkdir(parents=True, exist_ok=True)
                out = c.LOGS / f"profile_{args.db}_submit.txt"
                started = time.perf_counter()
                with spy(master.pid, out, args.rate):
                    for _ in range(args.n):
                        flow.submit()
                report["submit"] = {"seconds": round(time.perf_counter() - started, 1), **analyse(out)}
                # A decided request: the status page then never asks the gateway.
                # A decided request (as in bench/throughput.py): the page never waits on the gateway.
                engine = create_engine(database_url)
                with engine.begin() as connection:
                    connection.execute(text("UPDATE tracked_requests SET state = 'approved' WHERE id = 1"))
                engine.dispose()
                out = c.LOGS / f"profile_{args.db}_status.txt"
                started = time.perf_counter()
                with spy(master.pid, out, args.rate):
                    for _ in range(args.n):
                        page = flow.session.get(app_url + "/requests/1", timeout=10)
                        page.raise_for_status()
                report["status"] = {"seconds": round(time.perf_counter() - started, 1), **analyse(out)}
    path = c.write_result(f"profile_{args.db}", report)
    for phase, found in report.items():
        print(f"\n== {phase}: {found['samples']} samples in worker threads ({found['seconds']} s) ==")
        c.print_table(["where (inclusive)", "samples", "%"], found["places"])
        print()
        c.print_table(["own time: frame", "samples", "%"], found["own_top"])
    print(f"\nresults in {path.relative_to(c.ROOT)}; raw stacks in {c.LOGS.relative_to(c.ROOT)}/profile_*.txt")
    return 0


if __name__ == "__main__":
    c.main_guard(main)
