"""Benchmark the memory of a bulk file: peak resident memory (RSS) of reading and storing the
upload, and of the job that sends it, at 1,000 and 10,000 rows.

Each phase runs in a fresh child process (this script with ``--child``), so its peak is its
own: ``baseline`` (the app created, nothing done), ``upload`` (the CSV checked and stored,
services/bulk.create_batch reading the file as the upload view does) and ``job`` (the job
sending every row to the standalone sandbox, as a worker does). The parent reads each child's
peak RSS from the kernel (``os.wait4``). Target: at most 150 MB for 10,000 rows, and flat in
the number of rows.

    .venv/bin/python -m bench.bulk_memory
    .venv/bin/python -m bench.bulk_memory --rows 1000 10000 --database postgresql
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench._common import ROOT, app_env, print_table, sandbox_server, write_result
from bench.bulk_throughput import database

PHASES = ("baseline", "upload", "job")


def write_csv(path: Path, rows: int) -> None:
    """A file of ``rows`` valid rows with real-looking mobile numbers (checked with phonenumbers)."""
    from services.bulk.csv_reader import COLUMNS

    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(COLUMNS) + "\r\n")
        for n in range(rows):
            out.write(f"50682289,50682288,50682286,50678331,mobile,98{n:08d},Suspended,"
                      f'"Bulk memory benchmark, row {n}",INSTORE,\r\n')


def child(phase: str, csv_path: Path) -> None:
    """One phase, in this (fresh) process; prints a JSON line with what it did."""
    from app import create_app
    from extensions import db
    from services.bulk import batches, runner

    app = create_app({"SCHEMA_SETUP": "check"})
    result: dict = {"phase": phase}
    with app.app_context():
        if phase in ("upload", "job"):
            with csv_path.open("rb") as stream:
                started = time.monotonic()
                batch = batches.create_batch(stream, csv_path.name, size=csv_path.stat().st_size, uploader=None)
                result["upload_s"] = round(time.monotonic() - started, 2)
            result["valid_rows"] = batch.valid_rows
        if phase == "job":
            assert batches.confirm(batch, actor=None)
            started = time.monotonic()
            result["outcome"] = runner.run_batch(batch.id, slice_seconds=3600)
            result["job_s"] = round(time.monotonic() - started, 2)
            result["created"] = batches.progress(batch).created
        db.engine.dispose()
    print(json.dumps(result))


def measure(phase: str, csv_path: Path, env: dict) -> dict:
    """Run one phase in a child process; return its output and peak RSS in MB."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.bulk_memory", "--child", phase, "--csv", str(csv_path)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    output, errors = proc.stdout.read().decode(), proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{phase} failed:\n{output}\n{errors[-3000:]}")
    return {**json.loads(output.strip().splitlines()[-1]), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)}


def main() -> None:
    """Measure every phase at each size; print a table and write bench/results/bulk_memory_<db>.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.csv)
        return

    from bench._common import flask_cli

    results = []
    for rows in args.rows:
        with ExitStack() as stack:
            gateway = stack.enter_context(sandbox_server(latency_ms=0, threads=16))
            url = stack.enter_context(database(args.database))
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            csv_path = tmp / f"bulk-{rows}.csv"
            write_csv(csv_path, rows)
            env = app_env(gateway, url, CAP_BULK_CONCURRENCY="4", CAP_BULK_RATE_PER_MINUTE="10000000",
                          CAP_BULK_MAX_ROWS=str(max(rows, 10_000)))
            flask_cli(env, "db", "upgrade")
            for phase in PHASES:
                results.append({"rows": rows, "file_mb": round(csv_path.stat().st_size / 1024 / 1024, 2),
                                "database": args.database, **measure(phase, csv_path, env)})
    print_table(["rows", "file MB", "phase", "peak RSS MB", "upload s", "job s", "created"],
                [[r["rows"], r["file_mb"], r["phase"], r["peak_rss_mb"], r.get("upload_s", ""), r.get("job_s", ""),
                  r.get("created", "")] for r in results])
    print(f"written to {write_result(f'bulk_memory_{args.database}', {'results': results})}")


if __name__ == "__main__":
    main()
