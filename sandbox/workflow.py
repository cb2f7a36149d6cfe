"""The request lifecycle: build request objects, record a checker's decision, run the Intouch task.

Pure functions over plain dicts, with no Flask and no locking: :mod:`sandbox.state` calls them
while holding its lock, so a request is never decided twice. Shapes follow docs/CAPILLARY_API.md
§1.4 (created), §2.3/§2.4 (decided) and §5 (the Update Customer Status task and its errors).
"""

from __future__ import annotations

import base64
import binascii
import copy
import uuid
from datetime import UTC, datetime, timedelta

# Path spelling of the request types (§0); only the first one is simulated.
REQUEST_TYPE_PATH = "CUSTOMER-STATUS-CHANGE"
REQUEST_TYPE = "customer-status-change"
KNOWN_REQUEST_TYPES = (
    "CUSTOMER-STATUS-CHANGE",
    "POINTS-REDEMPTION",
    "GOODWILL-POINTS",
    "EARN-BADGE",
    "ISSUE-BADGE",
)
STATES = ("AdminTask", "approved", "rejected", "failed")
DECISIONS = ("approved", "rejected")

TASK_KEY = "IntouchAPITask-Payload"
ADMIN_KEY = "AdminTask-Payload"
STATUS_PATH = "/v2/customers/lookup/status"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"

IDENTIFIER_NAMES = (
    "mobile",
    "email",
    "externalId",
    "cardnumber",
    "cardExternalId",
    "wechat",
    "fbid",
    "martjackId",
)

# The status API's `source` enum is NOT FOUND (§5). Sandbox's choice: the v2 source list of
# the sibling "Update Customer Details" page; anything else fails with 8003.
SOURCES = frozenset({
    "FACEBOOK", "WEB_ENGAGE", "WECHAT", "INSTORE", "MARTJACK", "TMALL",
    "TAOBAO", "JD", "ECOMMERCE", "WEBSITE", "LINE", "MOBILE_APP",
})

# Labels are defined per org (§5.1). Sandbox's choice: this demo org's labels, each mapped
# to the platform status it sits under.
LABELS = {
    "Active": "Active",
    "High Value": "Active",
    "Suspended": "Suspended",
    "Suspicious": "Suspended",
    "Fraud suspected": "Fraud suspected",
    "Fraud confirmed": "Fraud confirmed",
    "Internal": "Internal",
    "Deleted": "Deleted",
    "Deletion_pending": "Pending deletion",
}
# Statuses the status API refuses to touch or to set (UPDATECUSTOMERSTATUS_1032, §5).
DELETION_STATUSES = frozenset({"Deleted", "Pending deletion"})

# Intouch error codes (§5). No code for an unknown label is documented: the sandbox answers
# it with code 400, its own choice.
INVALID_SOURCE = (8003, "Invalid source")
INVALID_IDENTIFIER = (8013, "Lookup, Invalid identifier passed")
CUSTOMER_NOT_FOUND = (8015, "Customer not found for the given identifiers")
DELETION_NOT_ALLOWED = (
    "UPDATECUSTOMERSTATUS_1032",
    "Customer update with pending deletion or deleted status not allowed",
)
UNKNOWN_LABEL = 400

# §2.4's failed example (a points redemption): HTTP 200, status_code 744 in the headers and a
# v1.1 body whose item status carries the reason. The `failed-744` fault answers with it.
DOCUMENTED_FAILURE_BODY = {
    "response": {
        "status": {"success": False, "code": 500, "message": "All requests have failed due to errors"},
        "responses": {"redemption": [{"item_status": {"success": False, "code": 744,
                                                      "message": "Reference number already exists"}}]},
    },
}
# The till a task runs as when its inner Authorization names none (Basic user = till, §7.2).
DEFAULT_TILL = "sandbox.till"
# Downstream tasks of the other documented request types (§4.2), for seeded requests.
OTHER_TASKS = {
    "POINTS-REDEMPTION": ("POST", "/v1.1/points/redeem"),
    "GOODWILL-POINTS": ("POST", "/internal/goodwill/"),
    "EARN-BADGE": ("POST", "/api_gateway/v1/badges/customer/earn"),
    "ISSUE-BADGE": ("POST", "/api_gateway/v1/badges/badgeMeta/customer/issueBulk"),
}


def now_text() -> str:
    """Current time as the gateway prints it: UTC, seconds, no zone (the sandbox's reading)."""
    return datetime.now(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """Parse a ``YYYY-MM-DDTHH:MM:SS`` time; raise ValueError otherwise."""
    return datetime.strptime(text, TIME_FORMAT)


def new_request(*, user_id: int, user_name: str, task: dict, start_time: str | None = None,
                request_type: str = REQUEST_TYPE) -> dict:
    """Return a freshly created request waiting at the admin task (§1.4)."""
    return {
        "requestId": str(uuid.uuid1()),
        "userId": user_id,
        "userName": user_name,
        "requestType": request_type,
        "state": "AdminTask",
        "startTime": start_time or now_text(),
        "endTime": None,
        "details": {
            # Capillary echoes the task, inner Authorization included (§1.4).
            TASK_KEY: copy.deepcopy(task),
            "ValidateMakerAccess_Output": True,
            "ValidatePayload_Output": True,
        },
    }


def new_task(
    *,
    identifier_name: str,
    identifier_value: str,
    label: str,
    reason: str,
    source: str = "INSTORE",
    hostname: str = "https://eu.api.capillarytech.com",
    authorization: str = "Basic c2FuZGJveC51aS50aWxsOnNhbmRib3g=",
) -> dict:
    """Return an ``IntouchAPITask-Payload`` for a status change, shaped like §1.3's example."""
    return {
        "hostname": hostname,
        "path": STATUS_PATH,
        "method": "PUT",
        "pathParams": {},
        "queryParams": {
            "source": source,
            "accountId": "",
            "use_async": "false",
            "identifierName": identifier_name,
            "identifierValue": identifier_value,
        },
        "body": {"reason": reason, "label": label},
        "headers": {"Authorization": authorization, "content-type": "application/json"},
    }


def other_task(request_type: str, reason: str) -> dict:
    """Return a plausible ``IntouchAPITask-Payload`` of another documented request type (§4.2)."""
    method, path = OTHER_TASKS[request_type]
    return {"hostname": "https://eu.api.capillarytech.com", "path": path, "method": method, "pathParams": {},
            "queryParams": {}, "body": {"notes": reason},
            "headers": {"Authorization": "Basic c2FuZGJveC51aS50aWxsOnNhbmRib3g=", "content-type": "application/json"}}


def record_decision(request: dict, decision: str, message: str) -> None:
    """Record a checker's decision; a rejection ends the request (§2.3)."""
    details = request["details"]
    details[ADMIN_KEY] = {"actionDecision": decision, "actionMessage": message}
    details["AdminTask_Output"] = decision
    details["ValidateCheckerAccess_Output"] = True
    if decision == "rejected":
        request["state"] = "rejected"
        request["endTime"] = now_text()


def run_task(request: dict, customers: list[dict], org_id: str, *, fault: str | None = None) -> None:
    """Run the approved Intouch task against ``customers`` and settle the request.

    Success changes the customer's label (and status) and leaves the request ``approved``;
    an Intouch error leaves it ``failed`` with the error in ``IntouchAPITask_Output`` (§2.4).
    ``fault="failed-744"`` fails it in the documented failed shape instead, changing nothing.
    """
    task = request["details"].get(TASK_KEY) or {}
    till = task_till(task)
    if fault == "failed-744":
        request["state"] = "failed"
        request["details"]["IntouchAPITask_Output"] = documented_failure_output(org_id, till)
        request["endTime"] = now_text()
        return
    before = find_customer(customers, *_identifier(task))
    label_before = before["label"] if before is not None else None
    outcome = _apply_status_change(task, customers)
    if outcome is None:
        request["state"] = "approved"
        warnings = []
        if label_before is not None and label_before == (task.get("body") or {}).get("label"):
            # Sandbox's choice: setting the label a customer already has succeeds with a warning.
            warnings.append({"status": True, "message": f"Customer already has the label '{label_before}'"})
        request["details"]["IntouchAPITask_Output"] = success_output(org_id, till, warnings=warnings)
    else:
        request["state"] = "failed"
        request["details"]["IntouchAPITask_Output"] = failure_output(*outcome, org_id=org_id, till=till)
    request["endTime"] = now_text()


def task_till(task: dict) -> str:
    """The till a task runs as: the user in its inner ``Authorization: Basic`` header (§7.2)."""
    headers = task.get("headers")
    pairs = headers.items() if isinstance(headers, dict) else ()
    value = next((v for k, v in pairs if str(k).lower() == "authorization" and isinstance(v, str)), "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() == "basic":
        try:
            user = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")[0]
        except (binascii.Error, UnicodeDecodeError, ValueError):
            user = ""
        if user.strip():
            return user.strip()
    return DEFAULT_TILL


def _identifier(task: dict) -> tuple[str, str]:
    query = task.get("queryParams")
    if not isinstance(query, dict):
        return "", ""
    name, value = query.get("identifierName"), query.get("identifierValue")
    return (name if isinstance(name, str) else ""), (value if isinstance(value, str) else "")


def settle_seed(request: dict, state: str, end_time: str, org_id: str) -> None:
    """Give a seeded (foreign) request the fields of an already decided one.

    Sandbox's choice: a seeded ``approved`` request does not touch the customer directory,
    and a seeded ``failed`` one carries the 8015 error.
    """
    if state == "AdminTask":
        return
    record_decision(request, "rejected" if state == "rejected" else "approved", "Decided in Capillary UI")
    till = task_till(request["details"].get(TASK_KEY) or {})
    if state == "approved":
        request["details"]["IntouchAPITask_Output"] = success_output(org_id, till)
    elif state == "failed":
        request["details"]["IntouchAPITask_Output"] = failure_output(*CUSTOMER_NOT_FOUND, org_id=org_id, till=till)
    request["state"] = state
    request["endTime"] = end_time


def later(start_time: str, minutes: int = 5) -> str:
    """Return ``start_time`` plus ``minutes``, in the gateway's time format."""
    return (parse_time(start_time) + timedelta(minutes=minutes)).strftime(TIME_FORMAT)


def find_customer(customers: list[dict], identifier_name: str, identifier_value: str) -> dict | None:
    """Return the customer holding that identifier, or None.

    Sandbox's choice: emails match case-insensitively, mobiles ignore ``+``, spaces and dashes.
    """
    wanted = _normalise(identifier_name, identifier_value)
    for customer in customers:
        held = customer["identifiers"].get(identifier_name)
        if held is not None and _normalise(identifier_name, held) == wanted:
            return customer
    return None


def success_output(org_id: str, till: str = DEFAULT_TILL, *, warnings: list | None = None) -> dict:
    """``IntouchAPITask_Output`` of a successful status update (§2.4's example)."""
    return {
        "status": 200.0,
        "headers": _output_headers("200", org_id, till, ok=True),
        "body": {"warnings": list(warnings or [])},
    }


def failure_output(code: int | str, message: str, *, org_id: str, till: str = DEFAULT_TILL) -> dict:
    """``IntouchAPITask_Output`` of a failed status update.

    Sandbox's choice: HTTP status 400.0 with the v2 error envelope; the docs show no example.
    """
    return {
        "status": 400.0,
        "headers": _output_headers(str(code), org_id, till, ok=False),
        "body": {"errors": [{"status": False, "code": code, "message": message}]},
    }


def documented_failure_output(org_id: str, till: str = DEFAULT_TILL) -> dict:
    """``IntouchAPITask_Output`` exactly shaped like §2.4's failed example: 200, header 744, a v1.1 body."""
    headers = _output_headers("744", org_id, till, ok=False)
    # The other spelling of the downstream request id that Capillary's examples use.
    headers["X-Cap-RequestID"] = headers.pop("X-CAP-REQUEST-ID")
    return {"status": 200.0, "headers": headers, "body": copy.deepcopy(DOCUMENTED_FAILURE_BODY)}


def _apply_status_change(task: dict, customers: list[dict]) -> tuple[int | str, str] | None:
    """Apply the status change; return ``(code, message)`` on an Intouch error, else None."""
    query, body = task.get("queryParams"), task.get("body")
    query = query if isinstance(query, dict) else {}
    body = body if isinstance(body, dict) else {}
    if query.get("source") not in SOURCES:
        return INVALID_SOURCE
    name, value = query.get("identifierName"), query.get("identifierValue")
    if name not in IDENTIFIER_NAMES or not isinstance(value, str) or not value.strip():
        return INVALID_IDENTIFIER
    customer = find_customer(customers, name, value)
    if customer is None:
        return CUSTOMER_NOT_FOUND
    if customer["status"] in DELETION_STATUSES:
        return DELETION_NOT_ALLOWED
    label = body.get("label")
    status = LABELS.get(label) if isinstance(label, str) else None
    if status is None:
        return UNKNOWN_LABEL, f"Invalid label '{label}': no such customer status label in this org"
    if status in DELETION_STATUSES:
        # Deleted is only reachable through the PII-deletion flow (§5).
        return DELETION_NOT_ALLOWED
    customer["label"] = label
    customer["status"] = status
    append_status(customer, str(label), status, _text(body.get("reason")))
    return None


# The API spelling of the platform statuses: ACTIVE, SUSPENDED and DELETED are documented; the
# others are not (§10), so the sandbox's choice is upper case with underscores.
def api_status(status: str) -> str:
    """``Fraud suspected`` -> ``FRAUD_SUSPECTED``."""
    return status.upper().replace(" ", "_")


def status_entry(customer_id: int, label: str, status: str, reason: str, created_on: str, *,
                 active: bool, prev_label: str | None = None) -> dict:
    """One status-log entry, shaped like the documented example (§10)."""
    entry = {"createdByUser": "sandbox.till", "reason": reason, "createdBy": 75155291, "actions": [],
             "autoUpdateTime": created_on[:10], "createdOn": created_on, "entityId": customer_id,
             "isActive": active, "label": label, "status": api_status(status)}
    if prev_label is not None:
        entry["prevLabel"] = prev_label
    return entry


def append_status(customer: dict, label: str, status: str, reason: str) -> None:
    """Append an applied change to the customer's status log: the new entry active, the rest not."""
    log = customer.setdefault("statusLog", [])
    previous = next((e["label"] for e in reversed(log) if e.get("isActive")), None)
    for entry in log:
        entry["isActive"] = False
    created_on = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    log.append(status_entry(customer["id"], label, status, reason[:50], created_on, active=True,
                            prev_label=previous))


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _output_headers(status_code: str, org_id: str, till: str, *, ok: bool) -> dict:
    """The downstream call's response headers, the full set §2.4's example shows (maps of lists)."""
    return {
        # Printed with the placeholder in the doc's example (§2.4); kept as printed.
        "uri_path": ["/v2/customers/{id}/status"],
        "org_id": [org_id],
        "status_code": [status_code],
        "success": ["1" if ok else "0"],
        "fail": ["0" if ok else "1"],
        "till": [till],
        "X-CAP-REQUEST-ID": [str(uuid.uuid4())],
    }


def _normalise(identifier_name: str, value: str) -> str:
    value = value.strip()
    if identifier_name == "email":
        return value.lower()
    if identifier_name == "mobile":
        return value.replace("+", "").replace(" ", "").replace("-", "")
    return value
