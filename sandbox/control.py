"""JSON control endpoints under ``/_sandbox/`` for tests and the standalone trainer.

Not part of Capillary's API: they drive :class:`~sandbox.state.SandboxState` over HTTP
(settings, faults, seeded foreign requests, the call log). They are never faulted, delayed
or logged.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, jsonify, request

from sandbox import faults
from sandbox.errors import GatewayError, handle_gateway_error
from sandbox.state import SandboxState

bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")
bp.register_error_handler(GatewayError, handle_gateway_error)

# JSON key of a seeded request -> seed_request() keyword.
_SEED_FIELDS = {
    "entityInfo": "entity_info",
    "identifierName": "identifier_name",
    "identifierValue": "identifier_value",
    "label": "label",
    "reason": "reason",
    "state": "state",
    "startTime": "start_time",
    "endTime": "end_time",
    "source": "source",
    "userId": "user_id",
    "userName": "user_name",
    "orgId": "org_id",
}


def _state() -> SandboxState:
    return current_app.extensions["sandbox"]


def _json_object() -> dict:
    try:
        body = json.loads(request.get_data() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise GatewayError(400, "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise GatewayError(400, "Request body must be a JSON object")
    return body


@bp.get("/state")
def show_state() -> Response:
    """Settings, customers, pending faults, counts and the fault kinds on offer."""
    state = _state()
    return jsonify({
        "settings": state.settings(),
        "customers": state.customers(),
        "pending_faults": state.pending_faults(),
        "created_count": state.created_count,
        "request_count": state.request_count,
        "fault_kinds": faults.describe(),
        "endpoints": list(faults.ENDPOINTS),
    })


@bp.post("/reset")
def reset() -> Response:
    """Back to a fresh sandbox: no requests, calls or faults; start-up settings and customers."""
    _state().reset()
    return jsonify({"ok": True, "settings": _state().settings()})


@bp.post("/settings")
def change_settings() -> Response:
    """Change any of ``auto_approve``, ``forbid_self_approval`` (booleans), ``latency_ms`` (int >= 0)."""
    body = _json_object()
    unknown = sorted(set(body) - {"auto_approve", "forbid_self_approval", "latency_ms"})
    problems = [f"unknown setting {name}" for name in unknown]
    problems += [f"{name} must be true or false" for name in ("auto_approve", "forbid_self_approval")
                 if name in body and not isinstance(body[name], bool)]
    latency = body.get("latency_ms", 0)
    if isinstance(latency, bool) or not isinstance(latency, int) or latency < 0:
        problems.append("latency_ms must be a whole number, 0 or more")
    if problems:
        raise GatewayError(400, *problems)
    state = _state()
    if "auto_approve" in body:
        state.set_auto_approve(body["auto_approve"])
    if "forbid_self_approval" in body:
        state.set_forbid_self_approval(body["forbid_self_approval"])
    if "latency_ms" in body:
        state.set_latency_ms(latency)
    return jsonify({"settings": state.settings()})


@bp.post("/faults")
def add_fault() -> tuple[Response, int]:
    """Queue a fault: ``{"kind", "count" (default 1), "endpoint" (default "any")}``."""
    body = _json_object()
    try:
        _state().inject_fault(body.get("kind"), body.get("count", 1), body.get("endpoint", "any"))
    except ValueError as exc:
        raise GatewayError(400, str(exc)) from None
    return jsonify({"pending_faults": _state().pending_faults()}), 201


@bp.delete("/faults")
def clear_faults() -> Response:
    """Drop every queued fault."""
    _state().clear_faults()
    return jsonify({"pending_faults": []})


@bp.post("/requests")
def seed() -> tuple[Response, int]:
    """Seed a request as if another maker raised it in Capillary's UI (camelCase keys, all optional)."""
    body = _json_object()
    problems = [f"unknown field {name}" for name in sorted(set(body) - set(_SEED_FIELDS))]
    for name, value in body.items():
        if name == "entityInfo":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                problems.append("entityInfo must be an object of strings")
        elif name == "userId":
            if isinstance(value, bool) or not isinstance(value, int):
                problems.append("userId must be a whole number")
        elif name in _SEED_FIELDS and not isinstance(value, str):
            problems.append(f"{name} must be a string")
    if problems:
        raise GatewayError(400, *problems)
    try:
        request_id = _state().seed_request(**{_SEED_FIELDS[k]: v for k, v in body.items()})
    except ValueError as exc:
        raise GatewayError(400, str(exc)) from None
    return jsonify({"data": _state().get_request(request_id)}), 201


@bp.get("/calls")
def calls() -> Response:
    """The logged gateway calls, oldest first; ``?clear=1`` also empties the log."""
    clear = request.args.get("clear", "").lower() in ("1", "true", "yes")
    return jsonify({"calls": _state().clear_calls() if clear else _state().calls})
