"""The payload builder rebuilds Capillary's documented example exactly (golden file)."""

import json
from pathlib import Path

import pytest

from gateway.payload import (
    MASK,
    StatusChange,
    build_payload,
    intouch_basic_authorization,
    mask_secrets,
)

GOLDEN = Path(__file__).parent / "data" / "golden_create_payload.json"

DOC_EXAMPLE = StatusChange(
    tillId="50682289",
    storeId="50682288",
    zoneId="50682286",
    conceptId="50678331",
    identifierName="mobile",
    identifierValue="919780375690",
    label="Suspended",
    reason="testing",
)


def _leaves(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    else:
        yield node


def test_golden_payload_matches_documented_example():
    auth = intouch_basic_authorization("store.server", "server123")
    built = build_payload(DOC_EXAMPLE, "https://eu.api.capillarytech.com", auth)
    assert built == json.loads(GOLDEN.read_text())


def test_basic_authorization_matches_capillary_worked_example():
    # docs/CAPILLARY_API.md §7.2: store.server / server123
    assert intouch_basic_authorization("store.server", "server123") == (
        "Basic c3RvcmUuc2VydmVyOjhhMTZhNmI3MDUwNWViMWYxZmY3Y2RjMGNkNTU1OWE3"
    )


def test_every_leaf_is_a_string_and_use_async_is_textual():
    built = build_payload(
        StatusChange(**{**DOC_EXAMPLE.__dict__, "use_async": True}), "https://h", "Basic x"
    )
    assert all(isinstance(leaf, str) for leaf in _leaves(built))
    task = built["payload"]["IntouchAPITask-Payload"]
    assert task["queryParams"]["use_async"] == "true"
    assert task["method"] == "PUT"
    assert task["pathParams"] == {}


def test_mask_hides_authorization_everywhere_without_touching_input():
    built = build_payload(DOC_EXAMPLE, "https://h", "Basic super-secret")
    echoed = {"data": {"details": {"IntouchAPITask-Payload": built["payload"]["IntouchAPITask-Payload"]}}}
    masked = mask_secrets({"sent": built, "echo": echoed})
    text = json.dumps(masked, ensure_ascii=False)
    assert "super-secret" not in text
    assert text.count(MASK) == 2
    assert built["payload"]["IntouchAPITask-Payload"]["headers"]["Authorization"] == "Basic super-secret"


@pytest.mark.parametrize("key", ["Authorization", "X-CAP-API-OAUTH-TOKEN", "CAP-API-ACCESS-TOKEN",
                                 "X-CAP-UI-AUTH-TOKEN", "Proxy-Authorization", "Cookie", "Set-Cookie",
                                 "x-api-key", "secret", "accessToken"])
@pytest.mark.parametrize("value", ["Basic s3cr3t-value", ["Basic s3cr3t-value"], {"token": "s3cr3t-value"},
                                   12345678901234])
def test_mask_hides_every_credential_key_whatever_the_values_type(key, value):
    """Security finding 11 of issue 11: only string values were masked, and only two header names."""
    echoed = {"details": {"IntouchAPITask-Payload": {"headers": {key: value, "content-type": "application/json"}}}}
    masked = mask_secrets(echoed)
    headers = masked["details"]["IntouchAPITask-Payload"]["headers"]
    assert headers == {key: MASK, "content-type": "application/json"}
    assert "s3cr3t" not in json.dumps(masked) and "12345678901234" not in json.dumps(masked)
