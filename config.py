"""Settings: read once from the environment (and an optional ``.env``) into Flask config keys.

Every variable is listed in README.md and ``.env.example``. ``CAP_GATEWAY_URL=sandbox`` (the
default) selects the embedded sandbox gateway, where safe demo values fill anything unset;
any other value is *real mode*, where a missing required setting stops start-up with a
message naming the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from dotenv import dotenv_values

SANDBOX = "sandbox"

DEFAULT_STATUS_LABELS = ("Active", "Suspended", "Fraud suspected", "Fraud confirmed", "Internal")

# Values used only in sandbox mode: the embedded gateway accepts any non-empty token.
SANDBOX_DEFAULTS = {
    "CAP_ORG_ID": "100",
    "CAP_UI_AUTH_TOKEN": "sandbox-maker-token",
    "CAP_CHECKER_UI_AUTH_TOKEN": "sandbox-checker-token",
    "CAP_INTOUCH_HOST": "https://sandbox.api.capillarytech.invalid",
    "CAP_INTOUCH_USERNAME": "sandbox.till",
    "CAP_INTOUCH_PASSWORD": "sandbox-till-password",
    "SECRET_KEY": "sandbox-only-secret-key-not-for-real-use",
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
)


class ConfigError(RuntimeError):
    """A required setting is missing or malformed; the message names the variable."""


def _environment(root: Path) -> dict[str, str]:
    """Merge ``.env`` (if present) under the real environment, which wins."""
    merged = {k: v for k, v in dotenv_values(root / ".env").items() if v is not None}
    merged.update(os.environ)
    return merged


def _float(env: dict, name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be greater than zero, got {raw!r}")
    return value


def _labels(raw: str | None) -> tuple[str, ...]:
    if not raw or not raw.strip():
        return DEFAULT_STATUS_LABELS
    labels = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    if not labels:
        raise ConfigError("CAP_STATUS_LABELS must list at least one label, e.g. 'Active,Suspended'")
    return labels


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
        # Gateway-level auth beside the UI token: none, basic or oauth (§7.2, §7.3).
        "CAP_GATEWAY_AUTH": get("CAP_GATEWAY_AUTH", "none").lower(),
        "CAP_GATEWAY_USERNAME": get("CAP_GATEWAY_USERNAME"),
        "CAP_GATEWAY_PASSWORD": get("CAP_GATEWAY_PASSWORD"),
        "CAP_OAUTH_KEY": get("CAP_OAUTH_KEY"),
        "CAP_OAUTH_SECRET": get("CAP_OAUTH_SECRET"),
        "CAP_OAUTH_TOKEN_URL": get("CAP_OAUTH_TOKEN_URL"),
        # The list endpoint's PageNo base is undocumented (§4.1); 0 matches pagination.number.
        "CAP_LIST_PAGE_BASE": int(get("CAP_LIST_PAGE_BASE", "0") or 0),
        "SQLALCHEMY_DATABASE_URI": get("DATABASE_URL")
        or f"sqlite:///{instance_path / 'capillary_requests.sqlite3'}",
        "SECRET_KEY": get("SECRET_KEY"),
    }
    if settings["CAP_GATEWAY_AUTH"] not in ("none", "basic", "oauth"):
        raise ConfigError("CAP_GATEWAY_AUTH must be one of: none, basic, oauth")
    if not sandbox:
        _require_real_mode(settings)
    return settings


def _require_real_mode(settings: dict) -> None:
    """Stop start-up when a setting real mode cannot work without is missing."""
    required = ["CAP_ORG_ID", "CAP_UI_AUTH_TOKEN", "CAP_INTOUCH_HOST", "SECRET_KEY"]
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
    if not settings["CAP_GATEWAY_URL"].startswith(("http://", "https://")):
        raise ConfigError("CAP_GATEWAY_URL must be 'sandbox' or a base URL such as https://eucrm.cc.capillarytech.com")
