"""The request lifecycle: build request objects, record a checker's decision, run the Intouch task.

Pure functions over plain dicts, with no Flask and no locking: :mod:`sandbox.state` calls them
while holding its lock, so a request is never decided twice. Shapes follow docs/CAPILLARY_API.md
§1.4 (created), §2.3/§2.4 (decided) and §5 (the Update Customer Status task and its errors).
"""

from __future__ import annotations

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


def now_text() -> str:
    """Current time as the gateway prints it: UTC, seconds, no zone (the sandbox's reading)."""
    return datetime.now(UTC).strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """Parse a ``YYYY-MM-DDTHH:MM:SS`` time; raise ValueError otherwise."""
    return datetime.strptime(text, TIME_FORMAT)


def new_request(*, user_id: int, user_name: str, task: dict, start_time: str | None = None) -> dict:
    """Return a freshly created request waiting at the admin task (§1.4)."""
    return {
        "requestId": str(uuid.uuid1()),
        "userId": user_id,
        "userName": user_name,
        "requestType": REQUEST_TYPE,
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


def record_decision(request: dict, decision: str, message: str) -> None:
    """Record a checker's decision; a rejection ends the request (§2.3)."""
    details = request["details"]
    details[ADMIN_KEY] = {"actionDecision": decision, "actionMessage": message}
    details["AdminTask_Output"] = decision
    details["ValidateCheckerAccess_Output"] = True
    if decision == "rejected":
        request["state"] = "rejected"
        request["endTime"] = now_text()


def run_task(request: dict, customers: list[dict], org_id: str) -> None:
    """Run the approved Intouch task against ``customers`` and settle the request.

    Success changes the customer's label (and status) and leaves the request ``approved``;
    an Intouch error leaves it ``failed`` with the error in ``IntouchAPITask_Output`` (§2.4).
    """
    task = request["details"].get(TASK_KEY) or {}
    outcome = _apply_status_change(task, customers)
    if outcome is None:
        request["state"] = "approved"
        request["details"]["IntouchAPITask_Output"] = success_output(org_id)
    else:
        request["state"] = "failed"
        request["details"]["IntouchAPITask_Output"] = failure_output(*outcome, org_id=org_id)
    request["endTime"] = now_text()


def settle_seed(request: dict, state: str, end_time: str, org_id: str) -> None:
    """Give a seeded (foreign) request the fields of an already decided one.

    Sandbox's choice: a seeded ``approved`` request does not touch the customer directory,
    and a seeded ``failed`` one carries the 8015 error.
    """
    if state == "AdminTask":
        return
    record_decision(request, "rejected" if state == "rejected" else "approved", "Decided in Capillary UI")
    if state == "approved":
        request["details"]["IntouchAPITask_Output"] = success_output(org_id)
    elif state == "failed":
        request["details"]["IntouchAPITask_Output"] = failure_output(*CUSTOMER_NOT_FOUND, org_id=org_id)
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


def success_output(org_id: str) -> dict:
    """``IntouchAPITask_Output`` of a successful status update (§2.4's example)."""
    return {
        "status": 200.0,
        "headers": _output_headers("200", org_id, ok=True),
        "body": {"warnings": []},
    }


def failure_output(code: int | str, message: str, *, org_id: str) -> dict:
    """``IntouchAPITask_Output`` of a failed status update.

    Sandbox's choice: HTTP status 400.0 with the v2 error envelope; the docs show no example.
    """
    return {
        "status": 400.0,
        "headers": _output_headers(str(code), org_id, ok=False),
        "body": {"errors": [{"status": False, "code": code, "message": message}]},
    }


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
    return None


def _output_headers(status_code: str, org_id: str, *, ok: bool) -> dict:
    return {
        "org_id": [org_id],
        "status_code": [status_code],
        "success": ["1" if ok else "0"],
        "fail": ["0" if ok else "1"],
        # Printed with the placeholder in the doc's example (§2.4); kept as printed.
        "uri_path": ["/v2/customers/{id}/status"],
        "X-CAP-REQUEST-ID": [str(uuid.uuid4())],
    }


def _normalise(identifier_name: str, value: str) -> str:
    value = value.strip()
    if identifier_name == "email":
        return value.lower()
    if identifier_name == "mobile":
        return value.replace("+", "").replace(" ", "").replace("-", "")
    return value
