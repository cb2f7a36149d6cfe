"""Real server processes for the browser suite: the app and the standalone sandbox gateway.

Each server is a child process (``python -m flask ... run``) on a free port of 127.0.0.1 with
its own environment, so the browser talks to the app over a real socket exactly as people
do. Readiness is detected by polling; the process is always stopped at the end.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_environment(**extra: str) -> dict[str, str]:
    """The parent's environment without the app's own settings, plus ``extra``.

    Settings a developer exported in their shell (``CAP_*``, ``DATABASE_URL``…) must not leak
    into a test server; a ``.env`` file in the project is ignored by setting each variable the
    tests depend on explicitly.
    """
    prefixes = ("CAP_", "SANDBOX_", "FLASK_", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "LOG_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the test run itself dies, so no server is left behind (Linux)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


class ServerProcess:
    """A ``flask --app <app> run`` child process on a fixed port; start/stop may repeat."""

    def __init__(self, name: str, flask_app: str, env: dict[str, str], log_dir: Path, port: int | None = None,
                 ready_path: str = "/"):
        self.name = name
        self.flask_app = flask_app
        self.env = env
        self.port = port or free_port()
        self.ready_path = ready_path
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The server's base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def flask(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """Run a ``flask`` CLI command for this app with the server's environment; raise with its output."""
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", self.flask_app, *args],
            cwd=ROOT, env=self.env, input=stdin, capture_output=True, text=True, timeout=60, check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def command(self) -> list[str]:
        """The server's command line: Flask's own server (subclasses serve otherwise)."""
        return [sys.executable, "-m", "flask", "--app", self.flask_app, "run",
                "--host", "127.0.0.1", "--port", str(self.port), "--no-reload", "--no-debugger"]

    def start(self) -> ServerProcess:
        """Start the process and wait until it answers HTTP; raise with its log if it never does."""
        if self.process is not None:
            raise RuntimeError(f"{self.name} is already running")
        log = self.log_path.open("a")
        self.process = subprocess.Popen(  # a new process group: stop() ends any children too
            self.command(), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                requests.get(self.url + self.ready_path, timeout=1, allow_redirects=False)
                return
            except (requests.ConnectionError, requests.Timeout):  # not listening, or still booting
                time.sleep(0.1)
        log_tail = self.log_path.read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"{self.name} did not start on port {self.port}. Its log:\n{log_tail}")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s); safe to call twice."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self._wait_port_free()

    def _wait_port_free(self) -> None:
        """Wait until the port refuses connections, so a restart on it cannot race the old one."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)
