"""Jinja helpers shared by every page: state words, advice, time formatting."""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from gateway import errors
from services.states import describe

_ADVICE = {cls.kind: cls.advice for cls in (
    errors.GatewayError, errors.GatewayUnreachable, errors.GatewayTimeout, errors.GatewayConnectionLost,
    errors.GatewayRejected, errors.TokenRejected, errors.AccessDenied, errors.NotFound, errors.RateLimited,
    errors.GatewayServerError, errors.GatewayUnavailable, errors.UnreadableResponse,
)}


def advice_for(kind: str | None) -> str:
    """Return what a person should do after a gateway failure of this kind."""
    return _ADVICE.get(kind or "", errors.GatewayError.advice)


def check_text(value) -> str:
    """Show a gateway validation flag in words."""
    return {True: "Passed", False: "Failed"}.get(value, "Not reported")


def format_datetime(value: datetime | None) -> str:
    """Format a naive-UTC datetime for people."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def init_app(app: Flask) -> None:
    """Register the helpers on ``app``'s Jinja environment."""
    app.jinja_env.globals.update(describe_state=describe, advice_for=advice_for, check_text=check_text)
    app.jinja_env.filters["datetime"] = format_datetime
