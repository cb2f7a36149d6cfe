"""Settings: read once from the environment (and an optional ``.env``) into Flask config keys.

Every variable is listed in README.md and ``.env.example``. ``CAP_GATEWAY_URL=sandbox`` (the
default) selects the embedded sandbox gateway, where safe demo values fill anything unset;
any other value is *real mode*, where a missing required setting stops start-up with a
message naming the variable.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

SANDBOX = "sandbox"

# The languages the interface is translated into (translations/<code>); the first is the fallback.
LANGUAGES = ("en", "es")

DEFAULT_STATUS_LABELS = ("Active", "Suspended", "Fraud suspected", "Fraud confirmed", "Internal")

# Values used only in sandbox mode: the embedded gateway accepts any non-empty token.
SANDBOX_DEFAULTS = {
    "CAP_ORG_ID": "100",
    "CAP_UI_AUTH_TOKEN": "sandbox-maker-token",
    "CAP_CHECKER_UI_AUTH_TOKEN": "sandbox-checker-token",
    "CAP_INTOUCH_HOST": "https://sandbox.api.capillarytech.invalid",
    "CAP_INTOUCH_USERNAME": "sandbox.till",
    "CAP_INTOUCH_PASSWORD": "sandbox-till-password",
    # A fixed Fernet key so the training sandbox's stored tokens survive restarts; never real.
    "CAP_TOKEN_KEY": "UiTts56cKbRheuFgKONStJ1b8foA01RVD8zwV34rLec=",
}

# Settings whose values are secrets: never rendered, logged or put in the session.
SECRET_SETTINGS = (
    "CAP_UI_AUTH_TOKEN",
    "CAP_CHECKER_UI_AUTH_TOKEN",
    "CAP_INTOUCH_PASSWORD",
    "CAP_INTOUCH_AUTHORIZATION",
    "CAP_GATEWAY_PASSWORD",
    "CAP_OAUTH_SECRET",
    "SECRET_KEY",
    "CAP_TOKEN_KEY",
    "CAP_METRICS_TOKEN",
    "SENTRY_DSN",
)


SANDBOX_KEY_FILE = "sandbox-secret-key"


def sandbox_secret_key(instance_path: Path) -> str:
    """Return the sandbox's session key, made at random on first start and kept in ``instance_path``.

    Written readable by its owner only (0600) and put in place by one atomic link, so gunicorn
    workers starting together all read the same whole key.
    """
    path = instance_path / SANDBOX_KEY_FILE
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        draft = instance_path / f".{SANDBOX_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            draft.unlink()
    return path.read_text().strip()


class ConfigError(RuntimeError):
    """A required setting is missing or malformed; the message names the variable."""


def _environment(root: Path) -> dict[str, str]:
    """Merge ``.env`` (if present) under the real environment, which wins."""
    merged = {k: v for k, v in dotenv_values(root / ".env").items() if v is not None}
    merged.update(os.environ)
    return merged


def _number(env: dict, name: str, default, kind: type, words: str):
    """Read a number setting of ``kind`` (default when unset); raise ConfigError naming it when malformed."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be {words}, got {raw!r}") from exc


def _float(env: dict, name: str, default: float) -> float:
    """Read a positive number of seconds."""
    value = _number(env, name, default, float, "a number of seconds")
    if value <= 0:
        raise ConfigError(f"{name} must be greater than zero, got {env.get(name)!r}")
    return value


def _int(env: dict, name: str, default: int, minimum: int = 1) -> int:
    """Read a whole-number setting of at least ``minimum``."""
    value = _number(env, name, default, int, "a whole number")
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {env.get(name)!r}")
    return value


def _proxy_fix(raw: str) -> tuple[int, int, int, int, int] | None:
    """Read CAP_PROXY_FIX: empty (no proxy), N (N proxies set For/Proto/Host/Port) or 5 numbers."""
    raw = raw.strip()
    if not raw:
        return None
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) not in (1, 5) or not all(p.isdigit() for p in parts):
        raise ConfigError(
            "CAP_PROXY_FIX must be the number of trusted proxies (e.g. 1) or five numbers "
            f"x_for,x_proto,x_host,x_port,x_prefix (e.g. 1,1,1,1,0), got {raw!r}"
        )
    numbers = [int(p) for p in parts]
    if len(numbers) == 1:
        numbers = [numbers[0]] * 4 + [0]
    return tuple(numbers)  # type: ignore[return-value]


def _rate_limit(env: dict, name: str, default: str) -> str:
    """Read a Flask-Limiter rate string such as '10 per minute;100 per hour'."""
    from limits import parse_many

    value = (env.get(name) or "").strip() or default
    try:
        parse_many(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a rate limit such as '10 per minute;100 per hour', got {value!r}") from exc
    return value


def _check_token_key(value: str) -> None:
    """CAP_TOKEN_KEY holds one Fernet key, or several comma-separated (newest first) to rotate."""
    from cryptography.fernet import Fernet

    try:
        for key in value.split(","):
            Fernet(key.strip())
    except ValueError:  # the message must not echo the (secret) value
        raise ConfigError(
            "CAP_TOKEN_KEY must be a Fernet key (.venv/bin/python -c \"from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())\"), or several separated by commas"
        ) from None


def _switch(env: dict, name: str, default: bool) -> bool:
    """Read an on/off setting (on, off, true, false, 1, 0, yes, no)."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be on or off, got {raw!r}")


def _labels(raw: str | None) -> tuple[str, ...]:
    if not raw or not raw.strip():
        return DEFAULT_STATUS_LABELS
    labels = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not labels:
        raise ConfigError("CAP_STATUS_LABELS must list at least one label, e.g. 'Active,Suspended'")
    return labels


def _time_zone(env: dict, name: str) -> str:
    """Read an IANA time zone name (default UTC); raise ConfigError naming it when unknown."""
    raw = (env.get(name) or "").strip() or "UTC"
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{name} must be an IANA time zone such as UTC or Asia/Kolkata, got {raw!r}") from exc
    return raw


def _language(env: dict, name: str) -> str:
    raw = (env.get(name) or "").strip().lower() or LANGUAGES[0]
    if raw not in LANGUAGES:
        raise ConfigError(f"{name} must be one of: {', '.join(LANGUAGES)}, got {raw!r}")
    return raw


def _default_gateway_auth(get) -> str:
    """``basic`` when gateway Basic credentials are set, else ``oauth`` when an OAuth key is, else ``none``."""
    if get("CAP_GATEWAY_USERNAME") and get("CAP_GATEWAY_PASSWORD"):
        return "basic"
    if get("CAP_OAUTH_KEY") and get("CAP_OAUTH_SECRET"):
        return "oauth"
    return "none"


def _header_name(env: dict, name: str, default: str) -> str:
    """Read an HTTP header name (letters, digits and -)."""
    raw = (env.get(name) or "").strip() or default
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", raw):
        raise ConfigError(f"{name} must be an HTTP header name such as {default}, got {raw!r}")
    return raw


def load_settings(root: Path, instance_path: Path, environ: dict | None = None) -> dict:
    """Return the Flask config mapping built from the environment.

    :param root: the project folder (where ``.env`` is looked for).
    :param instance_path: Flask's instance folder, home of the default SQLite file.
    :param environ: the variables to read; defaults to ``.env`` merged under ``os.environ``.
    :raises ConfigError: in real mode, when a required setting is missing.
    """
    env = dict(environ) if environ is not None else _environment(root)
    gateway_url = (env.get("CAP_GATEWAY_URL") or SANDBOX).strip().rstrip("/")
    sandbox = gateway_url.lower() == SANDBOX

    def get(name: str, default: str = "") -> str:
        value = (env.get(name) or "").strip()
        if not value and sandbox:
            value = SANDBOX_DEFAULTS.get(name, "")
        return value or default

    settings = {
        "SANDBOX_MODE": sandbox,
        "CAP_GATEWAY_URL": SANDBOX if sandbox else gateway_url,
        "CAP_ORG_ID": get("CAP_ORG_ID"),
        "CAP_UI_AUTH_TOKEN": get("CAP_UI_AUTH_TOKEN"),
        "CAP_CHECKER_UI_AUTH_TOKEN": get("CAP_CHECKER_UI_AUTH_TOKEN"),
        "CAP_INTOUCH_HOST": get("CAP_INTOUCH_HOST").rstrip("/"),
        "CAP_INTOUCH_USERNAME": get("CAP_INTOUCH_USERNAME"),
        "CAP_INTOUCH_PASSWORD": get("CAP_INTOUCH_PASSWORD"),
        "CAP_INTOUCH_AUTHORIZATION": get("CAP_INTOUCH_AUTHORIZATION"),
        "CAP_STATUS_LABELS": _labels(env.get("CAP_STATUS_LABELS")),
        "CAP_SOURCE": get("CAP_SOURCE", "INSTORE"),
        "CAP_PHONE_REGION": get("CAP_PHONE_REGION", "IN").upper(),
        "CAP_CONNECT_TIMEOUT": _float(env, "CAP_CONNECT_TIMEOUT", 3.0),
        "CAP_READ_TIMEOUT": _float(env, "CAP_READ_TIMEOUT", 15.0),
        # The whole of one gateway call (connect, head and body): a read timeout bounds each
        # socket read only, and a gateway trickling its answer would hold a thread without end.
        "CAP_CALL_DEADLINE": _float(env, "CAP_CALL_DEADLINE", _float(env, "CAP_READ_TIMEOUT", 15.0)),
        # Gateway-level auth beside the UI token: none, basic or oauth (§7.2, §7.3); by default
        # the one whose credentials are set (Capillary documents Basic or OAuth as required).
        "CAP_GATEWAY_AUTH": get("CAP_GATEWAY_AUTH", _default_gateway_auth(get)).lower(),
        "CAP_GATEWAY_USERNAME": get("CAP_GATEWAY_USERNAME"),
        "CAP_GATEWAY_PASSWORD": get("CAP_GATEWAY_PASSWORD"),
        "CAP_OAUTH_KEY": get("CAP_OAUTH_KEY"),
        "CAP_OAUTH_SECRET": get("CAP_OAUTH_SECRET"),
        "CAP_OAUTH_TOKEN_URL": get("CAP_OAUTH_TOKEN_URL"),
        # Capillary's examples send the token as X-CAP-API-OAUTH-TOKEN, its overview page says
        # CAP-API-ACCESS-TOKEN (unverified which the gateway reads: docs/CAPILLARY_API.md §7.3).
        "CAP_OAUTH_HEADER": _header_name(env, "CAP_OAUTH_HEADER", "X-CAP-API-OAUTH-TOKEN"),
        # The list endpoint's PageNo base is undocumented (§4.1); 0 matches pagination.number.
        "CAP_LIST_PAGE_BASE": int(get("CAP_LIST_PAGE_BASE", "0") or 0),
        # Following a request: how often an open status page polls the app, and how often at
        # most the app asks the gateway about one request however many pages watch it.
        "CAP_STATUS_POLL_SECONDS": _int(env, "CAP_STATUS_POLL_SECONDS", 10),
        "CAP_STATUS_MIN_REFRESH_SECONDS": _int(env, "CAP_STATUS_MIN_REFRESH_SECONDS", 5, minimum=0),
        # A lost submission not found in Capillary's list this long after it was stored is
        # shown as "not created in Capillary", with a resend.
        "CAP_RECONCILE_GRACE_SECONDS": _int(env, "CAP_RECONCILE_GRACE_SECONDS", 300, minimum=0),
        # `flask requests sync`: list page size (the sandbox allows 1..100), and how many days
        # back decided requests are listed (to import those made in Capillary's own UI).
        "CAP_SYNC_PAGE_SIZE": _int(env, "CAP_SYNC_PAGE_SIZE", 100),
        "CAP_SYNC_LOOKBACK_DAYS": _int(env, "CAP_SYNC_LOOKBACK_DAYS", 2, minimum=0),
        # Capillary's times carry no zone: this says how to read them (unverified: docs/CAPILLARY_API.md §1.4).
        "CAP_GATEWAY_TIMEZONE": _time_zone(env, "CAP_GATEWAY_TIMEZONE"),
        # Languages and time zones: a person's browser (or their choice) wins over these.
        "BABEL_DEFAULT_LOCALE": _language(env, "CAP_DEFAULT_LANGUAGE"),
        "BABEL_DEFAULT_TIMEZONE": _time_zone(env, "CAP_DEFAULT_TIMEZONE"),
        "SQLALCHEMY_DATABASE_URI": get("DATABASE_URL")
        or f"sqlite:///{instance_path / 'capillary_requests.sqlite3'}",
        # The sandbox signs sessions with a random key of its own instance folder: a fixed key
        # would let anyone who reads this file forge a session cookie for any user id.
        "SECRET_KEY": get("SECRET_KEY") or (sandbox_secret_key(instance_path) if sandbox else ""),
        # People and secrets: per-user token encryption, sessions, sign-in limits, logs.
        "CAP_TOKEN_KEY": get("CAP_TOKEN_KEY"),
        "CAP_IDLE_TIMEOUT_MINUTES": _int(env, "CAP_IDLE_TIMEOUT_MINUTES", 30),
        "CAP_IDLE_WARNING_SECONDS": _int(env, "CAP_IDLE_WARNING_SECONDS", 120, minimum=20),
        "CAP_SESSION_MAX_HOURS": _int(env, "CAP_SESSION_MAX_HOURS", 12),
        "CAP_PROXY_FIX": _proxy_fix(env.get("CAP_PROXY_FIX", "")),
        "CAP_LOGIN_RATE_LIMIT": _rate_limit(env, "CAP_LOGIN_RATE_LIMIT", "10 per minute;100 per hour"),
        "CAP_LOGIN_ACCOUNT_RATE_LIMIT": _rate_limit(env, "CAP_LOGIN_ACCOUNT_RATE_LIMIT", "5 per minute;20 per hour"),
        # Failed attempts at one account from every address together: the ASVS 2.2.1 ceiling.
        "CAP_LOGIN_ACCOUNT_ANYWHERE_LIMIT": _rate_limit(env, "CAP_LOGIN_ACCOUNT_ANYWHERE_LIMIT", "100 per hour"),
        "LOG_FORMAT": get("LOG_FORMAT", "text").lower(),
        "LOG_LEVEL": get("LOG_LEVEL", "INFO").upper(),
        # Background jobs: RQ on this Redis when set, else an in-process worker thread.
        "REDIS_URL": (env.get("REDIS_URL") or "").strip(),
        "JOBS_QUEUE": (env.get("JOBS_QUEUE") or "capillary-requests").strip(),
        "REDIS_KEY_PREFIX": (env.get("REDIS_KEY_PREFIX") or "capreq").strip(),
        # How often workers run the status sync and reconciliation (seconds; 0 = never).
        "CAP_SYNC_INTERVAL_SECONDS": _int(env, "CAP_SYNC_INTERVAL_SECONDS", 300, minimum=0),
        # Bulk CSV submissions: gateway calls in flight per job, and calls per minute over
        # all workers (Capillary's demo clusters allow 100 a minute).
        "CAP_BULK_CONCURRENCY": _int(env, "CAP_BULK_CONCURRENCY", 4),
        "CAP_BULK_RATE_PER_MINUTE": _int(env, "CAP_BULK_RATE_PER_MINUTE", 100),
        "CAP_BULK_MAX_ROWS": _int(env, "CAP_BULK_MAX_ROWS", 10_000),
        # A running bulk job renews its claim on the batch; a claim older than this is a
        # dead worker's, and another worker resumes the batch.
        "CAP_BULK_LEASE_SECONDS": _int(env, "CAP_BULK_LEASE_SECONDS", 60, minimum=2),
        **_watching(env),
        **_customer_settings(env),
    }
    if settings["CAP_GATEWAY_AUTH"] not in ("none", "basic", "oauth"):
        raise ConfigError("CAP_GATEWAY_AUTH must be one of: none, basic, oauth")
    _check_people_settings(settings)
    if not sandbox:
        _require_real_mode(settings)
    return settings


def _networks(env: dict, name: str, default: str) -> tuple:
    """Read a comma-separated list of addresses or networks (``10.0.0.5``, ``10.1.0.0/16``, ``::1``)."""
    import ipaddress

    raw = (env.get(name) or "").strip() or default
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise ConfigError(f"{name} must list addresses or networks such as 127.0.0.1,10.0.0.0/8, got {raw!r}") from exc


def _watching(env: dict) -> dict:
    """Settings for watching a deployment: /metrics, the job probe, error reporting."""
    interval = _int(env, "CAP_SYNC_INTERVAL_SECONDS", 300, minimum=0)
    return {
        # /metrics answers requests from these addresses, or carrying this bearer token.
        "CAP_METRICS_ALLOW": _networks(env, "CAP_METRICS_ALLOW", "127.0.0.1,::1"),
        "CAP_METRICS_TOKEN": (env.get("CAP_METRICS_TOKEN") or "").strip(),
        # /readyz/jobs: a successful sync must be newer than this (0: not checked), and no job
        # may wait in the queue longer than that.
        "CAP_SYNC_MAX_AGE_SECONDS": _int(env, "CAP_SYNC_MAX_AGE_SECONDS", 3 * interval, minimum=0),
        "CAP_JOBS_MAX_WAIT_SECONDS": _int(env, "CAP_JOBS_MAX_WAIT_SECONDS", 600),
        # Optional error reporting (sentry-sdk); unset: nothing leaves the server.
        "SENTRY_DSN": (env.get("SENTRY_DSN") or "").strip(),
        "SENTRY_ENVIRONMENT": (env.get("SENTRY_ENVIRONMENT") or "production").strip(),
    }


def _customer_settings(env: dict) -> dict:
    """Settings for the customer look-up and status log (docs/CAPILLARY_API.md §10)."""
    cache_seconds = _int(env, "CAP_CUSTOMER_CACHE_SECONDS", 30, minimum=0)
    if cache_seconds > 60:
        raise ConfigError(f"CAP_CUSTOMER_CACHE_SECONDS must be at most 60, got {cache_seconds}")
    url = (env.get("CAP_CUSTOMER_API_URL") or "").strip().rstrip("/")
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError("CAP_CUSTOMER_API_URL must be a base URL such as https://eu.api.capillarytech.com, "
                          f"got {url!r}")
    return {
        # on: customer cards and checks on the form, review, status and checker pages; off: none.
        "CAP_CUSTOMER_LOOKUP": _switch(env, "CAP_CUSTOMER_LOOKUP", True),
        # The customer API's host when it is not CAP_INTOUCH_HOST.
        "CAP_CUSTOMER_API_URL": url,
        # true: an agent may submit for an identifier Capillary says matches no customer, with a tick.
        "CAP_ALLOW_UNKNOWN_CUSTOMER": _switch(env, "CAP_ALLOW_UNKNOWN_CUSTOMER", False),
        "CAP_CUSTOMER_CACHE_SECONDS": cache_seconds,
    }


def _check_people_settings(settings: dict) -> None:
    """Check the sign-in, session, token-key and logging settings."""
    if settings["LOG_FORMAT"] not in ("text", "json"):
        raise ConfigError("LOG_FORMAT must be text or json")
    if settings["LOG_LEVEL"] not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError("LOG_LEVEL must be one of: DEBUG, INFO, WARNING, ERROR")
    if settings["CAP_IDLE_WARNING_SECONDS"] >= settings["CAP_IDLE_TIMEOUT_MINUTES"] * 60:
        raise ConfigError("CAP_IDLE_WARNING_SECONDS must be shorter than CAP_IDLE_TIMEOUT_MINUTES")
    if settings["CAP_TOKEN_KEY"]:
        _check_token_key(settings["CAP_TOKEN_KEY"])


def _require_real_mode(settings: dict) -> None:
    """Stop start-up when a setting real mode cannot work without is missing."""
    required = ["CAP_ORG_ID", "CAP_UI_AUTH_TOKEN", "CAP_INTOUCH_HOST", "SECRET_KEY", "CAP_TOKEN_KEY"]
    missing = [name for name in required if not settings[name]]
    has_basic = settings["CAP_INTOUCH_USERNAME"] and settings["CAP_INTOUCH_PASSWORD"]
    if not (has_basic or settings["CAP_INTOUCH_AUTHORIZATION"]):
        missing.append("CAP_INTOUCH_USERNAME and CAP_INTOUCH_PASSWORD (or CAP_INTOUCH_AUTHORIZATION)")
    if settings["CAP_GATEWAY_AUTH"] == "basic":
        missing += [n for n in ("CAP_GATEWAY_USERNAME", "CAP_GATEWAY_PASSWORD") if not settings[n]]
    if settings["CAP_GATEWAY_AUTH"] == "oauth":
        missing += [n for n in ("CAP_OAUTH_KEY", "CAP_OAUTH_SECRET") if not settings[n]]
    if missing:
        raise ConfigError(
            "Missing required setting(s) for CAP_GATEWAY_URL="
            f"{settings['CAP_GATEWAY_URL']}: {', '.join(missing)}. "
            "Set them in the environment or in .env (see .env.example)."
        )
    if len(settings["SECRET_KEY"]) < 32:
        raise ConfigError('SECRET_KEY must be at least 32 characters (.venv/bin/python -c "import secrets; '
                          'print(secrets.token_hex(32))")')
    if not settings["CAP_GATEWAY_URL"].startswith(("http://", "https://")):
        raise ConfigError("CAP_GATEWAY_URL must be 'sandbox' or a base URL such as https://eucrm.cc.capillarytech.com")


def server_settings(root: Path, environ: dict | None = None) -> dict:
    """Return gunicorn's settings (read by gunicorn.conf.py) from the environment and ``.env``.

    ``GUNICORN_BIND`` (default 127.0.0.1:8000), ``WEB_CONCURRENCY`` worker processes (2),
    ``GUNICORN_THREADS`` per worker (4), ``GUNICORN_TIMEOUT`` for one request (30 s) and
    ``GUNICORN_GRACEFUL_TIMEOUT``, how long a stopping worker may finish its requests (30 s).
    """
    env = dict(environ) if environ is not None else _environment(root)
    return {
        "bind": (env.get("GUNICORN_BIND") or "127.0.0.1:8000").strip(),
        "workers": _int(env, "WEB_CONCURRENCY", 2),
        "threads": _int(env, "GUNICORN_THREADS", 4),
        "timeout": _int(env, "GUNICORN_TIMEOUT", 30),
        "graceful_timeout": _int(env, "GUNICORN_GRACEFUL_TIMEOUT", 30),
        # Without Redis each worker counts sign-in attempts on its own (gunicorn.conf.py warns).
        "redis_url": (env.get("REDIS_URL") or "").strip(),
    }
