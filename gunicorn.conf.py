"""Gunicorn settings: ``gunicorn -c gunicorn.conf.py`` serves the app (see README, Production).

Values come from the environment or ``.env`` through config.server_settings; a bad value
stops gunicorn with a message naming the variable.
"""

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
accesslog = "-"
errorlog = "-"
# Gunicorn 27's control socket lives at one path per user ($HOME/.gunicorn/gunicorn.ctl), so a
# second server on the same machine would take it over; nothing here uses it.
control_socket_disable = True
