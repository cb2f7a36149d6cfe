"""Build the CUSTOMER-STATUS-CHANGE request body exactly as Capillary documents it.

Pure functions, no Flask: the mapping from a person's input to the JSON Capillary runs on
approval is the riskiest logic in the product, so it is kept testable against golden files.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from dataclasses import dataclass

REQUEST_TYPE = "CUSTOMER-STATUS-CHANGE"
CREATE_PATH = f"/api_gateway/v2/request-workflow/{REQUEST_TYPE}"
INTOUCH_STATUS_PATH = "/v2/customers/lookup/status"
# The doc's printed request example says POST, but its field table, its response example and
# the Update Customer Status API itself all say PUT (docs/CAPILLARY_API.md §1.3).
INTOUCH_STATUS_METHOD = "PUT"
TASK_KEY = "IntouchAPITask-Payload"
MASK = "•••••• (hidden)"

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


@dataclass(frozen=True)
class StatusChange:
    """What a person asks for: the till context, the customer and the new status label."""

    tillId: str
    storeId: str
    zoneId: str
    conceptId: str
    identifierName: str
    identifierValue: str
    label: str
    reason: str
    source: str = "INSTORE"
    accountId: str = ""
    use_async: bool = False

    def entity_info(self) -> dict[str, str]:
        """Return the ``entityInfo`` block (till, store, zone, concept)."""
        return {
            "tillId": self.tillId,
            "storeId": self.storeId,
            "zoneId": self.zoneId,
            "conceptId": self.conceptId,
        }


def intouch_basic_authorization(username: str, password: str) -> str:
    """Return Capillary's till auth header value: ``Basic base64(username:md5hex(password))``."""
    digest = hashlib.md5(password.encode("utf-8")).hexdigest()  # noqa: S324 - Capillary's scheme
    token = base64.b64encode(f"{username}:{digest}".encode()).decode("ascii")
    return f"Basic {token}"


def build_payload(change: StatusChange, hostname: str, authorization: str) -> dict:
    """Return the request body for ``POST /api_gateway/v2/request-workflow/CUSTOMER-STATUS-CHANGE``.

    Every leaf value is a string, as in the documented example (``use_async`` is "true"/"false").

    :param change: the requested status change.
    :param hostname: the Intouch API host the approved task will call (``CAP_INTOUCH_HOST``).
    :param authorization: the inner Intouch ``Authorization`` header value (a secret).
    """
    return {
        "entityInfo": change.entity_info(),
        "payload": {
            TASK_KEY: {
                "hostname": hostname,
                "path": INTOUCH_STATUS_PATH,
                "method": INTOUCH_STATUS_METHOD,
                "pathParams": {},
                "queryParams": {
                    "source": change.source,
                    "accountId": change.accountId,
                    "use_async": "true" if change.use_async else "false",
                    "identifierName": change.identifierName,
                    "identifierValue": change.identifierValue,
                },
                "body": {"reason": change.reason, "label": change.label},
                "headers": {"Authorization": authorization, "content-type": "application/json"},
            }
        },
    }


# Keys whose value is a credential wherever they appear (compared lower-case): the headers Capillary
# and its gateway read (docs/CAPILLARY_API.md §7), a proxy's, cookies, and OAuth's body and answer.
SECRET_KEYS = frozenset({
    "authorization", "proxy-authorization", "x-cap-ui-auth-token", "x-cap-api-oauth-token",
    "cap-api-access-token", "x-api-key", "cookie", "set-cookie",
    "secret", "password", "accesstoken", "access_token", "refreshtoken", "refresh_token",
})


def mask_secrets(document):
    """Return a deep copy of ``document`` with the value of every credential key replaced by a mask.

    Works on request bodies and on Capillary's responses, which echo the task payload with its
    inner Authorization header (docs/CAPILLARY_API.md §1.4). A key of :data:`SECRET_KEYS` is
    masked whatever its value's type: an echo may carry ``{"Authorization": ["Basic …"]}``.
    """
    masked = copy.deepcopy(document)
    _mask_in_place(masked)
    return masked


def _mask_in_place(node) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.lower() in SECRET_KEYS and value not in (None, ""):
                node[key] = MASK
            else:
                _mask_in_place(value)
    elif isinstance(node, list):
        for item in node:
            _mask_in_place(item)
