"""Read Capillary's error bodies, whatever their shape: the code and the message, as given.

Capillary's APIs answer errors in more than one documented shape (docs/CAPILLARY_API.md §1.5,
§2.4), and which HTTP status carries them is not documented, so every client reads the body
through :func:`error_facts` whatever the status:

- v2: ``{"warnings": [], "errors": [{"status": false, "code": 8015, "message": "…"}]}``;
- flat: ``{"code": 2008, "message": "…"}`` (or ``error`` / ``error_description`` for a message);
- v1.1: ``{"response": {"status": {"code": 500, "message": "…"}, …"item_status": {"code": 744, …}}}``,
  where the item's status (the customer's own result) says more than the batch's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

MESSAGE_MAX = 300


@dataclass(frozen=True)
class ErrorFacts:
    """What an error body says: Capillary's code (as text) and message, either may be missing."""

    code: str | None
    message: str | None


def parse_json(raw: bytes | str | None):
    """Return the parsed JSON of ``raw``, or None when it is not JSON (too deep counts as not JSON)."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def error_facts(body) -> ErrorFacts | None:
    """Return the code and message of an error body (parsed JSON, or raw bytes), None when it has neither."""
    if isinstance(body, bytes | str):
        body = parse_json(body)
    if not isinstance(body, dict):
        return None
    for reader in (_v2, _v1_1, _flat):
        found = reader(body)
        if found is not None and (found.code is not None or found.message is not None):
            return found
    return None


def _v2(body: dict) -> ErrorFacts | None:
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return ErrorFacts(_code(errors[0].get("code")), _text(errors[0].get("message")))
    return None


def _v1_1(body: dict) -> ErrorFacts | None:
    response = body.get("response")
    if not isinstance(response, dict):
        return None
    for item in _items(response):
        status = item.get("item_status")
        if isinstance(status, dict) and _code(status.get("code")) not in (None, "200", "201"):
            return ErrorFacts(_code(status.get("code")), _text(status.get("message")))
    status = response.get("status")
    if isinstance(status, dict) and _code(status.get("code")) not in (None, "200", "201"):
        return ErrorFacts(_code(status.get("code")), _text(status.get("message")))
    return None


def _items(response: dict) -> list[dict]:
    """The per-item results of a v1.1 answer, wherever the API nests them."""
    found: list[dict] = []
    stack: list[dict | list] = [response]
    while stack and len(found) < 50:
        node = stack.pop()
        if isinstance(node, dict):
            if "item_status" in node:
                found.append(node)
            stack.extend(value for value in node.values() if isinstance(value, dict | list))
        elif isinstance(node, list):
            stack.extend(value for value in node if isinstance(value, dict | list))
    return found


def _flat(body: dict) -> ErrorFacts | None:
    message = next((_text(body.get(key)) for key in ("message", "error", "error_description")
                    if _text(body.get(key))), None)
    return ErrorFacts(_code(body.get("code")), message)


def _code(value) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int | str):
        text = str(value).strip()
        return text[:40] or None
    return None


def _text(value) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:MESSAGE_MAX]
    return None
