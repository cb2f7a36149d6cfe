"""Tell administrators about gateway failures that are the deployment's to fix, not the person's.

The deployment's own token refused (401 or code 2013 to ``CAP_UI_AUTH_TOKEN``), its gateway
credentials refused, and Capillary's configuration codes (docs/CAPILLARY_API.md §1.5: the
organisation header, an unsupported request type, a misconfigured workflow) go to the audit
trail, where administrators read them (/admin/audit), and to the log as a warning. Each problem
is reported at most once per :data:`QUIET_SECONDS` per app process, so a bulk file of ten
thousand rows that all fail the same way does not write ten thousand events.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import current_app

from gateway.errors import ADMIN_KINDS, GatewayError, TokenRejected

log = logging.getLogger(__name__)

QUIET_SECONDS = 600
_lock = threading.Lock()


def _last_reported() -> dict[tuple[str, str], float]:
    """When each problem was last reported by this app (the app's own, so apps never share it)."""
    return current_app.extensions.setdefault("gateway_alerts", {})


def is_for_admins(error: GatewayError, *, shared_token: bool) -> bool:
    """Whether ``error`` is the deployment's problem: its configuration, or its shared token refused."""
    return error.kind in ADMIN_KINDS or (shared_token and isinstance(error, TokenRejected))


def report(error: GatewayError, *, shared_token: bool, target: str = "") -> bool:
    """Record ``error`` for administrators if it is theirs to fix; return whether it was recorded now.

    The audit event is added to the session for the caller to commit.
    """
    if not is_for_admins(error, shared_token=shared_token):
        return False
    refused = isinstance(error, TokenRejected) or error.kind == "gateway_credentials"
    action = "gateway.token_rejected" if refused else "gateway.misconfigured"
    key = (action, error.code or error.kind)
    now = time.monotonic()
    with _lock:
        last = _last_reported()
        if key in last and now - last[key] < QUIET_SECONDS:
            return False
        last[key] = now
    from services.people import audit

    said = f": {error.detail}" if error.detail else ""
    code = f"code {error.code}, " if error.code else ""
    detail = f"{error.kind} ({code}HTTP {error.status or 'none'}){said}"
    audit.record(action, actor=None, actor_name="Capillary", target=target, detail=detail)
    log.warning("Capillary problem for administrators: %s %s", action, detail)
    return True


def forget_reports() -> None:
    """Report every problem afresh (e.g. after an operator fixed the settings)."""
    with _lock:
        _last_reported().clear()
