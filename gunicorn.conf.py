"""Gunicorn settings: ``gunicorn -c gunicorn.conf.py`` serves the app (see README, Production).

Values come from the environment or ``.env`` through config.server_settings; a bad value
stops gunicorn with a message naming the variable.
"""

import os
import tempfile
from pathlib import Path

from config import ConfigError, server_settings

try:
    _settings = server_settings(Path(__file__).resolve().parent)
except ConfigError as exc:
    raise SystemExit(f"Configuration error: {exc}") from None

wsgi_app = "app:create_app()"
bind = _settings["bind"]
workers = _settings["workers"]
# More than one thread makes gunicorn use its gthread worker: a slow gateway call holds a
# thread, not a whole process.
threads = _settings["threads"]
timeout = _settings["timeout"]
# On SIGTERM a worker stops accepting, finishes its requests within this many seconds, and
# its background job threads hand any bulk batch back to the queue before it exits.
graceful_timeout = _settings["graceful_timeout"]
keepalive = 5
# Each worker builds its own app after the fork: database pools and job threads are per process.
preload_app = False
# No gunicorn access log: its lines hold the query string (customer identifiers: /requests?q=…),
# the Referer and the User-Agent, and its decoded path is written raw. The app writes one line per
# request instead (app_logging.py): method, path without the query, status, time, address, ids.
accesslog = None
errorlog = "-"
# Gunicorn 27's control socket lives at one path per user ($HOME/.gunicorn/gunicorn.ctl), so a
# second server on the same machine would take it over; nothing here uses it.
control_socket_disable = True

# --- Prometheus metrics of several processes (metrics.py) --------------------------------------
# Each worker process keeps its counts in files in PROMETHEUS_MULTIPROC_DIR and /metrics adds
# them up. Set here, in the master, before any worker imports prometheus-client. The systemd
# units give the web and the `flask worker` processes one folder, so /metrics includes both;
# otherwise this server gets a folder of its own.
metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="capreq-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir


def on_starting(server):
    """Drop the files of processes that are gone: their counts belonged to an earlier run.

    Only dead processes' files: a `flask worker` sharing the folder keeps writing to its own.
    """
    Path(metrics_dir).mkdir(parents=True, exist_ok=True)
    for path in Path(metrics_dir).glob("*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _running(int(pid)):
            path.unlink(missing_ok=True)


def when_ready(server):
    """Say at start-up what the sign-in limits mean when the workers cannot share their counts."""
    if workers > 1 and not _settings["redis_url"]:
        server.log.warning(
            "Sign-in limits are counted by each of the %d workers on its own (no REDIS_URL): an address "
            "or account gets up to %d times CAP_LOGIN_RATE_LIMIT and the account limits. Set REDIS_URL "
            "to share the counts.", workers, workers)


def child_exit(server, worker):
    """A worker exited (HUP, crash, max requests): its live gauges no longer count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, metrics_dir)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
