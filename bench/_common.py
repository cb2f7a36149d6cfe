"""Shared plumbing for the benchmark scripts: servers, databases, statistics, results.

Everything runs on 127.0.0.1 and is stopped when the script ends: the standalone sandbox and
the app under gunicorn are started as child processes (in their own process groups, ended by
their ids), and a PostgreSQL database made for a run is dropped afterwards.
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOGS = RESULTS / "logs"
# The checkout's own virtualenv, else the one running this script (a git worktree has no .venv).
BIN = ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin").is_dir() else Path(sys.executable).parent
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

# The form a person fills in (the documented example's IDs and a sandbox customer).
FORM = {
    "tillId": "50682289",
    "storeId": "50682288",
    "zoneId": "50682286",
    "conceptId": "50678331",
    "identifierName": "mobile",
    "identifierValue": "919780375690",
    "label": "Suspended",
    "reason": "Benchmark: suspected fraud at till 3",
    "source": "INSTORE",
    "accountId": "",
}
# Demo people made for a run (bench/_common.ensure_users); never real credentials.
MAKER = ("bench.maker", "Bench-maker-password-1")
CHECKER = ("bench.checker", "Bench-checker-password-1")


# -- statistics and results ------------------------------------------------------------------


def summary(values_ms: list[float]) -> dict:
    """Median, p95, mean, min and max of ``values_ms`` (rounded to 0.01 ms)."""
    ordered = sorted(values_ms)
    p95 = statistics.quantiles(ordered, n=100, method="inclusive")[94] if len(ordered) > 1 else ordered[0]
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(p95, 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
        "min_ms": round(ordered[0], 2),
        "max_ms": round(ordered[-1], 2),
    }


def machine() -> dict:
    """Describe the machine and code a result was measured on."""
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    free = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout.strip()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "free_h": free,
        "python": platform.python_version(),
        "commit": commit + ("+uncommitted changes" if dirty else ""),
        # Other work on a shared machine inflates the figures: say how busy it was.
        "load_average_1m_5m_15m": [round(x, 2) for x in os.getloadavg()],
    }


def write_result(name: str, result: dict) -> Path:
    """Write ``result`` (with the machine) to bench/results/<name>.json; return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **result}, indent=2) + "\n")
    return path


def print_table(headers: list[str], rows: list[list]) -> None:
    """Print a plain aligned table."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


# -- processes -------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Poll ``url`` until it answers (any status); fail if ``proc`` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}; see {LOGS}")
        try:
            requests.get(url, timeout=1, allow_redirects=False)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout} s; see {LOGS}")


@contextmanager
def child(name: str, argv: list[str], env: dict, ready_url: str | None = None,
          cwd: Path = ROOT) -> Iterator[subprocess.Popen]:
    """Run ``argv`` in ``cwd`` as a child in its own process group (log in bench/results/logs/<name>.log)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / f"{name}.log", "w") as log:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            if ready_url:
                wait_until_up(ready_url, proc)
            yield proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """End a child started by :func:`child` (its whole process group), politely first."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def base_env() -> dict:
    """The environment without any of the app's settings (so .env or the shell cannot leak in)."""
    drop = ("CAP_", "DATABASE_URL", "REDIS_URL", "SANDBOX_", "SECRET_KEY", "JOBS_", "LOG_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


@contextmanager
def sandbox_server(latency_ms: int = 0, threads: int = 16) -> Iterator[str]:
    """The standalone sandbox under gunicorn (gthread); yields its base URL."""
    port = free_port()
    env = {**base_env(), "SANDBOX_LATENCY_MS": str(latency_ms)}
    argv = [str(BIN / "gunicorn"), "--config", "/dev/null", "-w", "1", "-k", "gthread", "--threads",
            str(threads), "-b", f"127.0.0.1:{port}", "--log-level", "warning", "sandbox:create_app()"]
    url = f"http://127.0.0.1:{port}"
    with child("sandbox", argv, env, ready_url=url + "/_sandbox/state"):
        yield url


def app_env(gateway_url: str, database_url: str, **extra: str) -> dict:
    """Real-mode settings pointing the app at ``gateway_url`` (the standalone sandbox)."""
    from cryptography.fernet import Fernet

    return {
        **base_env(),
        "CAP_GATEWAY_URL": gateway_url,
        "CAP_ORG_ID": "50672",
        "CAP_UI_AUTH_TOKEN": "bench-maker-ui-token",
        "CAP_CHECKER_UI_AUTH_TOKEN": "bench-checker-ui-token",
        "CAP_INTOUCH_HOST": "https://eu.api.capillarytech.com",
        # The customer look-up (issue 14, on by default) asks the standalone sandbox too.
        "CAP_CUSTOMER_API_URL": gateway_url,
        "CAP_INTOUCH_USERNAME": "bench.till",
        "CAP_INTOUCH_PASSWORD": "bench-till-password",
        "SECRET_KEY": secrets.token_hex(32),
        "CAP_TOKEN_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        # Load tests sign many simulated people in from one address.
        "CAP_LOGIN_RATE_LIMIT": "100000 per minute",
        "CAP_LOGIN_ACCOUNT_RATE_LIMIT": "100000 per minute",
        # No periodic sync in the middle of a latency measurement (the soak turns it back on).
        "CAP_SYNC_INTERVAL_SECONDS": "0",
        **extra,
    }


def flask_cli(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``flask --app app <args>`` with ``env``."""
    result = subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def prepare_database(env: dict) -> None:
    """Bring the database to the current schema, as a deployment would (``flask db upgrade``)."""
    if (ROOT / "migrations").is_dir():
        flask_cli(env, "db", "upgrade")


def ensure_users(env: dict) -> bool:
    """Create the bench maker and checker with ``flask users`` with `flask users`; return whether it could."""
    probe = flask_cli(env, "users", "--help", check=False)
    if probe.returncode != 0:
        return False
    for (username, password), role in ((MAKER, "agent"), (CHECKER, "checker")):
        result = subprocess.run([str(BIN / "flask"), "--app", "app", "users", "create", username, "--role", role,
                                 "--password-stdin"], cwd=ROOT, env=env, input=password + "\n",
                                capture_output=True, text=True, check=False)
        if result.returncode != 0 and "already" not in (result.stdout + result.stderr):
            raise RuntimeError(f"could not create {username}: {result.stdout}{result.stderr}")
    return True


@contextmanager
def app_server(env: dict, workers: int = 2, app_spec: str = "app:create_app()",
               extra_args: tuple[str, ...] = (), name: str = "app",
               root: Path = ROOT) -> Iterator[tuple[str, subprocess.Popen]]:
    """The app under gunicorn, from the checkout at ``root`` (another one: a baseline to compare
    with, e.g. ``git archive <commit>`` unpacked); yields ``(base_url, master process)``."""
    port = free_port()
    # The deployment's own gunicorn.conf.py (gthread workers, timeouts, access log), with the
    # worker count and address set here.
    env = {**env, "WEB_CONCURRENCY": str(workers), "GUNICORN_BIND": f"127.0.0.1:{port}"}
    config = ["-c", str(root / "gunicorn.conf.py")] if (root / "gunicorn.conf.py").exists() else []
    argv = [str(BIN / "gunicorn"), *config, "-w", str(workers), "-b", f"127.0.0.1:{port}", *extra_args, app_spec]
    url = f"http://127.0.0.1:{port}"
    with child(name, argv, env, ready_url=url + "/login", cwd=root) as proc:
        yield url, proc


@contextmanager
def postgres_database(prefix: str = "bench") -> Iterator[str]:
    """A fresh PostgreSQL database for one run; yields its SQLAlchemy URL and drops it afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(name=name)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- talking to the app like a browser -------------------------------------------------------


class _Inputs(HTMLParser):
    """Collect the named inputs of the first form posting to ``action`` (or of every form)."""

    def __init__(self, action: str | None):
        super().__init__()
        self.action, self.inside, self.values = action, action is None, {}

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "form" and self.action is not None:
            self.inside = (found.get("action") or "").endswith(self.action)
        if tag in ("input", "button") and self.inside and found.get("name"):
            if tag == "button" or found.get("type") in ("hidden", "text", None):
                self.values.setdefault(found["name"], found.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form" and self.action is not None:
            self.inside = False


def form_inputs(html: str, action: str | None = None) -> dict[str, str]:
    """The hidden/text inputs of the form posting to ``action`` in ``html``."""
    parser = _Inputs(action)
    parser.feed(html)
    return {k: v for k, v in parser.values.items() if k != "action"}


def csrf_token(html: str) -> str:
    """The CSRF token in a page (empty when the page has none)."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html)
    return match.group(1) if match else ""


class LocalTLSJar(requests.cookies.RequestsCookieJar):
    """Keep the app's Secure cookies usable over plain http to 127.0.0.1.

    In real mode the session cookie is ``Secure`` (``__Host-session``): a deployment serves it
    behind a TLS-terminating proxy. The benchmarks talk to gunicorn directly on 127.0.0.1, so
    the client does what that proxy would allow: it sends the cookie back anyway.
    """

    def set_cookie(self, cookie, *args, **kwargs):
        cookie.secure = False
        return super().set_cookie(cookie, *args, **kwargs)


def browser_session() -> requests.Session:
    """A requests session that keeps the app's (Secure) session cookie on 127.0.0.1."""
    session = requests.Session()
    session.cookies = LocalTLSJar()
    return session


def sign_in(session: requests.Session, base_url: str, credentials: tuple[str, str]) -> None:
    """Sign ``session`` (made by :func:`browser_session`) in through /login when the app has sign-in."""
    page = session.get(base_url + "/login", timeout=10)
    if page.status_code == 404:
        return
    username, password = credentials
    response = session.post(base_url + "/login", timeout=10, data={
        "username": username, "password": password, "csrf_token": csrf_token(page.text)})
    if response.status_code >= 400 or "/login" in response.url:
        raise RuntimeError(f"could not sign in as {username}: {response.status_code} {response.url}")


def main_guard(run) -> None:
    """Run ``run()`` and exit non-zero on failure with a one-line reason."""
    try:
        sys.exit(run() or 0)
    except KeyboardInterrupt:
        sys.exit(130)
