"""Reading Capillary's error bodies in every documented shape (gateway/envelope.py)."""

from __future__ import annotations

import json

import pytest

from gateway.envelope import ErrorFacts, error_facts, warning_texts

V1_1_FAILED = {  # the documented failed example's body (points redemption), docs/CAPILLARY_API.md §2.4
    "response": {
        "status": {"success": False, "code": 500, "message": "All requests have failed due to errors"},
        "responses": {"redemption": [{"item_status": {"success": False, "code": 744,
                                                      "message": "Reference number already exists"}}]},
    },
}


@pytest.mark.parametrize(("body", "expected"), [
    ({"warnings": [], "errors": [{"status": False, "code": 8015, "message": "Customer not found"}]},
     ErrorFacts("8015", "Customer not found")),
    ({"code": 2008, "message": "Invalid payload"}, ErrorFacts("2008", "Invalid payload")),
    ({"error": "invalid_token"}, ErrorFacts(None, "invalid_token")),
    (V1_1_FAILED, ErrorFacts("744", "Reference number already exists")),
    ({"response": {"status": {"code": 500, "message": "Server said no"}}}, ErrorFacts("500", "Server said no")),
    ({"errors": [{"code": 2013.0}]}, ErrorFacts("2013", None)),
])
def test_each_documented_shape_gives_its_code_and_message(body, expected):
    assert error_facts(body) == expected
    assert error_facts(json.dumps(body).encode()) == expected


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b"{}", b'{"warnings": []}', b'{"code": true}',
                                 b"[" * 100_000 + b"]" * 100_000])
def test_bodies_that_say_nothing_give_none(raw):
    assert error_facts(raw) is None


def test_a_long_message_is_cut():
    facts = error_facts({"errors": [{"code": 1, "message": "x" * 10_000}]})
    assert facts is not None and len(facts.message) == 300


def test_warnings_are_read_in_any_shape():
    assert warning_texts({"warnings": [{"code": 8071, "message": "Points not reversed"}, "Plain words",
                                       {"status": True, "message": "Only a message"}, {"code": 9}, {}, 5]}) == [
        "Points not reversed (code 8071)", "Plain words", "Only a message", "code 9"]
    assert warning_texts({"warnings": []}) == [] and warning_texts(b"not json") == []
    assert len(warning_texts({"warnings": ["w"] * 50})) == 10
