"""The four request-workflow endpoints (docs/CAPILLARY_API.md §§1–4), served from :class:`SandboxState`.

Every call first goes through :func:`_preamble`: a queued fault for the endpoint is consumed
and answered instead of the normal work, the call is logged, and the configured latency is
added. Errors use the v2 envelope (:mod:`sandbox.errors`).

Sandbox choices where the reference is silent (NOT FOUND there):

- All four endpoints need non-empty ``X-CAP-API-AUTH-ORG-ID`` and ``X-CAP-UI-AUTH-TOKEN``
  headers (else 401). Any token is accepted; there is one org, and the org header does not
  partition requests. Maker and checker access are always granted.
- Bodies are parsed as JSON whatever the Content-Type says.
- Only ``CUSTOMER-STATUS-CHANGE`` is simulated; other request types get 400.
- ``actionName`` must be exactly ``AdminTask`` (the doc's example spelling).
- The list's ``PageNo`` is 0-based (``pagination.number`` looks 0-based in §4.1), ``limit`` must
  be 1..100, empty query values count as absent, and requests without an ``endTime`` sort
  last when sorting by ``endDate``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from datetime import date, datetime
from typing import TypeGuard
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, jsonify, request

from sandbox import workflow
from sandbox.errors import GatewayError, handle_gateway_error
from sandbox.faults import fault_response, stall
from sandbox.state import SandboxState
from sandbox.workflow import ADMIN_KEY, TASK_KEY

bp = Blueprint("gateway", __name__, url_prefix="/api_gateway/v2/request-workflow")
bp.register_error_handler(GatewayError, handle_gateway_error)

# Flask endpoint name -> the fault-queue endpoint name.
_FAULT_ENDPOINTS = {"gateway.create": "create", "gateway.decide": "approve",
                    "gateway.get_one": "get", "gateway.list_all": "list"}
_ENTITY_KEYS = ("tillId", "storeId", "zoneId", "conceptId")
_TASK = f'payload["{TASK_KEY}"]'
_ADMIN = f'payload["{ADMIN_KEY}"]'


def _state() -> SandboxState:
    return current_app.extensions["sandbox"]


@bp.before_request
def _preamble() -> Response | None:
    """Apply faults, log the call and add latency, before any normal work."""
    state = _state()
    endpoint = _FAULT_ENDPOINTS.get(request.endpoint or "", "any")
    fault = state.take_fault(endpoint)
    if fault == "refused":
        # A refused connection never delivers the call: no log entry, no latency.
        return fault_response(fault, request.environ, 0)
    state.record_call(_call_entry(endpoint))
    if stall(request.environ, state.settings()["latency_ms"] / 1000):
        return Response(status=504)  # discarded: the in-process adapter raises ReadTimeout
    if fault is not None:
        return fault_response(fault, request.environ, current_app.config["SANDBOX_STALL_SECONDS"])
    return None


def _call_entry(endpoint: str) -> dict:
    return {
        "time": workflow.now_text(),
        "endpoint": endpoint,
        "method": request.method,
        "path": request.path,
        "query": request.args.to_dict(flat=True),
        "headers": {name.lower(): value for name, value in request.headers.items()},
        "body": request.get_json(force=True, silent=True),
    }


# -- endpoints -------------------------------------------------------------------------------


@bp.post("/<request_type>")
def create(request_type: str) -> Response:
    """§1: create a request; with auto-approval on it is approved (and run) at once (§6)."""
    org_id, user_id, user_name = _identify()
    _check_request_type(request_type)
    body = _json_body()
    problems = validate_create(body)
    if problems:
        raise GatewayError(400, *problems)
    new = workflow.new_request(user_id=user_id, user_name=user_name, task=body["payload"][TASK_KEY])
    state = _state()
    then = None
    if state.settings()["auto_approve"]:
        # Like the auto-approved example in §2.4: no AdminTask-Payload, no checker fields.
        def then(req: dict, customers: list[dict]) -> None:
            workflow.run_task(req, customers, org_id)

    created = state.add_request(new, body["entityInfo"], org_id, then=then)
    return jsonify({"data": created})


@bp.put("/<request_type>")
def decide(request_type: str) -> Response:
    """§2: approve (and run the Intouch task) or reject a request waiting at AdminTask."""
    org_id, user_id, _ = _identify()
    _check_request_type(request_type)
    body = _json_body()
    problems = validate_decision(body)
    if problems:
        raise GatewayError(400, *problems)
    request_id = body["requestId"]
    admin = body["payload"][ADMIN_KEY]
    decision, message = admin["actionDecision"], admin["actionMessage"]
    forbid_self = _state().settings()["forbid_self_approval"]

    def change(req: dict, customers: list[dict]) -> None:
        if req["state"] != "AdminTask":
            raise GatewayError(
                400, f"Request {request_id} is not waiting for an admin task (state: {req['state']})"
            )
        if forbid_self and req["userId"] == user_id:
            # What Capillary's ValidateCheckerAccess step would refuse.
            raise GatewayError(403, "The checker may not approve or reject their own request")
        workflow.record_decision(req, decision, message)
        if decision == "approved":
            workflow.run_task(req, customers, org_id)

    updated = _state().update_request(request_id, change)
    if updated is None:
        raise GatewayError(404, f"Request {request_id} not found")
    return jsonify({"data": updated})


@bp.get("/requests/<request_id>")
def get_one(request_id: str) -> Response:
    """§3: one request by its requestId."""
    _identify()
    found = _state().get_request(request_id)
    if found is None:
        raise GatewayError(404, f"Request {request_id} not found")
    return jsonify({"data": found})


@bp.get("/requests")
def list_all() -> Response:
    """§4.1: filtered, sorted, paged requests."""
    _identify()
    query = parse_list_query(request.args)
    records = [r for r in _state().records() if _matches(r, query)]
    ordered = _sorted(records, query["sortBy"], descending=query["sortOrder"] == "desc")
    limit, page = query["limit"], query["PageNo"]
    items = ordered[page * limit:(page + 1) * limit]
    return jsonify({
        "data": [r["request"] for r in items],
        "pagination": {
            "totalElements": len(ordered),
            "totalPages": math.ceil(len(ordered) / limit),
            "numberOfElements": len(items),
            "number": page,
        },
    })


# -- identity --------------------------------------------------------------------------------


def _identify() -> tuple[str, int, str]:
    """Check the gateway headers; return ``(org_id, user_id, user_name)`` or raise 401."""
    org_id = request.headers.get("X-CAP-API-AUTH-ORG-ID", "").strip()
    token = request.headers.get("X-CAP-UI-AUTH-TOKEN", "").strip()
    missing = [name for name, value in (("X-CAP-API-AUTH-ORG-ID", org_id),
                                        ("X-CAP-UI-AUTH-TOKEN", token)) if not value]
    if missing:
        raise GatewayError(401, *(f"Missing or empty {name} header" for name in missing))
    user_id, user_name = identify(token)
    return org_id, user_id, user_name


def identify(token: str) -> tuple[int, str]:
    """Return the ``(userId, userName)`` a UI token stands for.

    The token format is NOT FOUND in the reference (§7.1); sandbox's choice: if the token is a
    JWT with a readable payload, an integer ``userId`` (or numeric ``sub``) claim gives the
    userId and ``username``/``userName`` (or a non-numeric ``sub``) the userName. Whatever is
    missing is derived from a hash, so the same token (or user name) always gives the same user.
    """
    claims = _jwt_claims(token)
    user_id = _int_claim(claims.get("userId"))
    if user_id is None:
        user_id = _int_claim(claims.get("sub"))
    names = (claims.get("username"), claims.get("userName"), claims.get("sub"))
    name = next((n.strip() for n in names if isinstance(n, str) and n.strip() and not n.isdigit()), None)
    if user_id is None:
        digest = hashlib.sha256((name or token).encode("utf-8")).hexdigest()
        user_id = 100000 + int(digest[:12], 16) % 900000  # six digits, like the docs' 232134
    return user_id, name or f"sandbox.user.{user_id}"


def _jwt_claims(token: str) -> dict:
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _int_claim(value) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


# -- validation ------------------------------------------------------------------------------


def _check_request_type(request_type: str) -> None:
    if request_type == workflow.REQUEST_TYPE_PATH:
        return
    if request_type in workflow.KNOWN_REQUEST_TYPES or request_type == "RETRO-TRANSACTION":
        raise GatewayError(400, f"Request type {request_type} is not simulated by the sandbox; "
                                f"only {workflow.REQUEST_TYPE_PATH} is")
    raise GatewayError(400, f"Unknown request type '{request_type}'")


def _json_body():
    try:
        return json.loads(request.get_data(cache=True))
    except (ValueError, UnicodeDecodeError):
        raise GatewayError(400, "Request body is not valid JSON") from None


def _text(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())


def validate_create(body) -> list[str]:
    """Return every problem with a create body (§1.3), each naming its field; [] if valid."""
    if not isinstance(body, dict):
        return ["Request body must be a JSON object"]
    problems = []
    entity = body.get("entityInfo")
    if not isinstance(entity, dict):
        problems.append("entityInfo is required and must be an object")
    else:
        problems += [f"entityInfo.{key} is required and must be a non-empty string"
                     for key in _ENTITY_KEYS if not _text(entity.get(key))]
    payload = body.get("payload")
    task = payload.get(TASK_KEY) if isinstance(payload, dict) else None
    if not isinstance(task, dict):
        return problems + [f"{_TASK} is required and must be an object"]
    return problems + _task_problems(task)


def _task_problems(task: dict) -> list[str]:
    problems = []
    hostname = task.get("hostname")
    if not _text(hostname):
        problems.append(f"{_TASK}.hostname is required and must be a non-empty string")
    elif not _is_bare_url(hostname):
        # Catches the doc's "<https://...>" misprint (§1.3).
        problems.append(f"{_TASK}.hostname must be a bare http(s) URL such as https://eu.api.capillarytech.com")
    if task.get("path") != workflow.STATUS_PATH:
        problems.append(f"{_TASK}.path must be {workflow.STATUS_PATH}")
    if task.get("method") != "PUT":
        problems.append(f"{_TASK}.method must be PUT")
    if "pathParams" in task and not isinstance(task["pathParams"], dict):
        problems.append(f"{_TASK}.pathParams must be an object")
    query = task.get("queryParams")
    if not isinstance(query, dict):
        problems.append(f"{_TASK}.queryParams is required and must be an object")
    else:
        if query.get("identifierName") not in workflow.IDENTIFIER_NAMES:
            problems.append(f"{_TASK}.queryParams.identifierName must be one of "
                            + ", ".join(workflow.IDENTIFIER_NAMES))
        for key in ("identifierValue", "source"):
            if not _text(query.get(key)):
                problems.append(f"{_TASK}.queryParams.{key} is required and must be a non-empty string")
    body = task.get("body")
    if not isinstance(body, dict):
        problems.append(f"{_TASK}.body is required and must be an object")
    else:
        problems += [f"{_TASK}.body.{key} is required and must be a non-empty string"
                     for key in ("label", "reason") if not _text(body.get(key))]
    headers = task.get("headers")
    if not isinstance(headers, dict):
        problems.append(f"{_TASK}.headers is required and must be an object")
    elif not any(k.lower() == "authorization" and _text(v) for k, v in headers.items()):
        # HTTP header names are case-insensitive, so any spelling of the key is accepted.
        problems.append(f"{_TASK}.headers.Authorization is required and must be a non-empty string")
    return problems


def _is_bare_url(value: str) -> bool:
    parts = urlsplit(value.strip())
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def validate_decision(body) -> list[str]:
    """Return every problem with an approve/reject body (§2.2), each naming its field."""
    if not isinstance(body, dict):
        return ["Request body must be a JSON object"]
    problems = []
    if not _text(body.get("requestId")):
        problems.append("requestId is required and must be a non-empty string")
    if body.get("actionName") != "AdminTask":
        problems.append("actionName is required and must be AdminTask")
    payload = body.get("payload")
    admin = payload.get(ADMIN_KEY) if isinstance(payload, dict) else None
    if not isinstance(admin, dict):
        return problems + [f"{_ADMIN} is required and must be an object"]
    if admin.get("actionDecision") not in workflow.DECISIONS:
        problems.append(f"{_ADMIN}.actionDecision must be approved or rejected")
    if not isinstance(admin.get("actionMessage"), str):
        problems.append(f"{_ADMIN}.actionMessage is required and must be a string")
    return problems


# -- listing ---------------------------------------------------------------------------------


def parse_list_query(args) -> dict:
    """Read §4.1's query parameters; raise a 400 naming every bad one."""
    def value(name: str) -> str | None:
        text = args.get(name, "").strip()
        return text or None  # the doc's example sends empty values for unused filters

    problems: list[str] = []
    query: dict = {key: value(key) for key in (*_ENTITY_KEYS, "requestType")}
    if query["requestType"] is not None:
        wanted = query["requestType"].upper()
        if wanted not in workflow.KNOWN_REQUEST_TYPES:
            problems.append("requestType must be one of " + ", ".join(workflow.KNOWN_REQUEST_TYPES))
        query["requestType"] = wanted.lower()

    by_lower = {s.lower(): s for s in workflow.STATES}
    states = [s.strip() for s in (value("states") or "").split(",") if s.strip()]
    unknown = [s for s in states if s.lower() not in by_lower]
    if unknown:
        problems.append(f"states has unknown values {', '.join(unknown)}; known: {', '.join(workflow.STATES)}")
    query["states"] = {by_lower[s.lower()] for s in states if s.lower() in by_lower}

    query["userId"] = _parse(value("userId"), int, "userId must be a whole number", problems)
    for name in ("startDate", "endDate"):
        query[name] = _parse(value(name), _day, f"{name} must look like 2023-10-03", problems)
    if query["startDate"] and query["endDate"] and query["startDate"] > query["endDate"]:
        problems.append("startDate must not be after endDate")

    query["sortBy"] = value("sortBy") or "startDate"
    if query["sortBy"] not in ("startDate", "endDate"):
        problems.append("sortBy must be startDate or endDate")
    query["sortOrder"] = (value("sortOrder") or "desc").lower()
    if query["sortOrder"] not in ("asc", "desc"):
        problems.append("sortOrder must be asc or desc")
    limit = _parse(value("limit"), int, "limit must be a whole number", problems)
    query["limit"] = 10 if limit is None else limit
    if not 1 <= query["limit"] <= 100:
        problems.append("limit must be between 1 and 100")
    query["PageNo"] = _parse(value("PageNo"), int, "PageNo must be a whole number", problems) or 0
    if query["PageNo"] < 0:
        problems.append("PageNo must be 0 or more (pages count from 0)")
    if problems:
        raise GatewayError(400, *problems)
    return query


def _day(text: str) -> date:
    return datetime.strptime(text, "%Y-%m-%d").date()


def _parse(text: str | None, parse, message: str, problems: list[str]):
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError:
        problems.append(message)
        return None


def _matches(record: dict, query: dict) -> bool:
    req, entity = record["request"], record["entityInfo"]
    day = date.fromisoformat(req["startTime"][:10])
    return all((
        query["requestType"] is None or req["requestType"] == query["requestType"],
        not query["states"] or req["state"] in query["states"],
        all(query[key] is None or entity.get(key) == query[key] for key in _ENTITY_KEYS),
        query["userId"] is None or req["userId"] == query["userId"],
        query["startDate"] is None or day >= query["startDate"],
        query["endDate"] is None or day <= query["endDate"],
    ))


def _sorted(records: list[dict], sort_by: str, *, descending: bool) -> list[dict]:
    field = "startTime" if sort_by == "startDate" else "endTime"
    timed = [r for r in records if r["request"][field] is not None]
    untimed = [r for r in records if r["request"][field] is None]
    # Creation order breaks ties: many requests share a startTime second.
    timed.sort(key=lambda r: (r["request"][field], r["seq"]), reverse=descending)
    untimed.sort(key=lambda r: r["seq"], reverse=descending)
    return timed + untimed
