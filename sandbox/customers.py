"""The customer look-up and status log (docs/CAPILLARY_API.md §10), served from the customer directory.

- ``GET /v2/customers/lookup/customerDetails?source=&identifierName=&identifierValue=`` answers the
  documented fields the app reads: ``id``, ``profiles[]`` (``firstName``, ``lastName``, ``source``,
  ``identifiers``, ``attribution.createDate``/``createdBy``), ``loyaltyInfo.loyaltyType`` and, with
  ``embed=mlp``, ``loyaltyProgramDetails[].currentSlab``.
- ``GET /v2/customers/{id}/statusLog`` answers ``{"data": [...], "warnings": [], "errors": []}``,
  oldest first, the current entry ``isActive: true``; an applied status change appends to it
  (sandbox/workflow.py).

Sandbox choices where the reference is silent: the till's ``Authorization: Basic`` is required
(missing or not Basic: 401 in the v2 envelope, code 401); an unknown source is 400 code 8003, a
malformed identifier 400 code 8013, no such customer 400 code 8015 (look-up) or 404 code 8015
(status log). Faults reach these calls only when queued for ``lookup`` or ``statuslog`` by name;
they are logged apart from the gateway's calls (``SandboxState.customer_calls``).
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, jsonify, request

from sandbox import workflow
from sandbox.errors import GatewayError, coded, handle_gateway_error
from sandbox.faults import fault_response, stall
from sandbox.state import SandboxState

bp = Blueprint("customers", __name__, url_prefix="/v2/customers")
bp.register_error_handler(GatewayError, handle_gateway_error)

_FAULT_ENDPOINTS = {"customers.lookup": "lookup", "customers.status_log": "statuslog"}
SANDBOX_TILL = {"id": 50682289, "code": "sandbox.till", "name": "Sandbox store till", "type": "TILL"}


def _state() -> SandboxState:
    return current_app.extensions["sandbox"]


@bp.before_request
def _preamble() -> Response | None:
    """Apply a fault queued for this endpoint, log the call and add the latency."""
    state = _state()
    endpoint = _FAULT_ENDPOINTS.get(request.endpoint or "", "lookup")
    fault = state.take_fault(endpoint, task_faults=False)
    if fault == "refused":
        return fault_response(fault, request.environ, 0)
    state.record_customer_call({"time": workflow.now_text(), "endpoint": endpoint, "path": request.path,
                                "query": request.args.to_dict(flat=True),
                                "authorization": bool(request.headers.get("Authorization"))})
    if stall(request.environ, state.settings()["latency_ms"] / 1000):
        return Response(status=504)
    if fault is not None:
        return fault_response(fault, request.environ, current_app.config["SANDBOX_STALL_SECONDS"])
    if not request.headers.get("Authorization", "").startswith("Basic "):
        raise GatewayError(401, "Unauthorized: the till's Basic credentials are required", code=401)
    return None


@bp.get("/lookup/customerDetails")
def lookup() -> Response:
    """Who holds this identifier, in the documented shape."""
    source = request.args.get("source", "").strip()
    name = request.args.get("identifierName", "").strip()
    value = request.args.get("identifierValue", "").strip()
    if source.upper() not in workflow.SOURCES:
        raise coded(8003, "Invalid source passed")
    if name not in workflow.IDENTIFIER_NAMES or not _plausible(name, value):
        raise coded(8013)
    customer = _state().find_customer(name, value)
    if customer is None:
        raise coded(8015)
    return jsonify(customer_details(customer, source.upper(), "mlp" in request.args.get("embed", "").lower()))


@bp.get("/<int:customer_id>/statusLog")
def status_log(customer_id: int) -> Response:
    """The customer's status log, oldest first (as in the older documented example)."""
    customer = _state().customer_by_id(customer_id)
    if customer is None:
        raise coded(8015, status=404)
    return jsonify({"data": customer.get("statusLog", []), "warnings": [], "errors": []})


def customer_details(customer: dict, source: str, mlp: bool) -> dict:
    """The look-up answer for ``customer`` (one profile, of the source asked)."""
    first, _, last = customer["name"].partition(" ")
    profile = {
        "firstName": first, "lastName": last, "fields": {}, "source": source, "accountId": "",
        "identifiers": [{"type": kind, "value": value} for kind, value in customer["identifiers"].items()],
        "commChannels": [],
        "attribution": {"createDate": customer.get("memberSince", ""), "createdBy": dict(SANDBOX_TILL),
                        "modifiedBy": dict(SANDBOX_TILL)},
    }
    body: dict = {
        "id": customer["id"],
        "profiles": [profile],
        "loyaltyInfo": {"loyaltyType": customer.get("loyaltyType", "loyalty"),
                        "attributionV2": {"createDate": customer.get("memberSince", ""),
                                          "createdBy": dict(SANDBOX_TILL)}},
        "segments": {},
        "associatedWith": SANDBOX_TILL["code"],
        "extendedFields": {},
        "cardDetails": [],
        "warnings": [],
    }
    if mlp:
        body["loyaltyProgramDetails"] = [{"currentSlab": customer.get("tier", ""), "slabSNo": 1,
                                          "programId": 1550, "programTitle": "Sandbox loyalty"}]
    return body


def _plausible(name: str, value: str) -> bool:
    """The sandbox's reading of "invalid identifier": empty, or a mobile/email of the wrong form."""
    if not value:
        return False
    if name == "mobile":
        return re.fullmatch(r"\+?[0-9 -]{8,20}", value) is not None
    if name == "email":
        return "@" in value
    return True
