"""Each form rule: message at the field, values kept, no gateway call."""

import pytest

from forms import validators as rules


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("9780375690", "919780375690"),
        ("+91 97803 75690", "919780375690"),
        ("919780375690", "919780375690"),
        ("+44 7400 123456", "447400123456"),
    ],
)
def test_mobile_is_sent_as_digits_with_country_code(typed, sent):
    assert rules.clean_identifier("mobile", typed, "IN") == sent


def test_mobile_without_country_code_is_read_in_configured_region():
    assert rules.clean_identifier("mobile", "2025550143", "US") == "12025550143"


@pytest.mark.parametrize("typed", ["12345", "98abc76543", "+91 0000", ""])
def test_bad_mobile_numbers_are_refused(typed):
    with pytest.raises(ValueError):
        rules.clean_identifier("mobile", typed, "IN")


def test_email_is_checked_without_dns():
    assert rules.clean_identifier("email", "asha.rao@shop-mail.com", "IN") == "asha.rao@shop-mail.com"
    with pytest.raises(ValueError, match="valid email"):
        rules.clean_identifier("email", "asha@@example.com", "IN")


def test_other_identifiers_limit_length_and_printable():
    assert rules.clean_identifier("externalId", "EXT-1", "IN") == "EXT-1"
    with pytest.raises(ValueError, match="at most 128"):
        rules.clean_identifier("cardnumber", "9" * 129, "IN")
    with pytest.raises(ValueError, match="control"):
        rules.clean_identifier("wechat", "abc\x00def", "IN")
    with pytest.raises(ValueError, match="identifier type"):
        rules.clean_identifier("passport", "X1", "IN")


@pytest.mark.parametrize("value", ["", "   ", "a b", "x" * 65, "till#1", "ünïcode"])
def test_entity_ids_must_be_1_to_64_safe_characters(value):
    with pytest.raises(ValueError):
        rules.clean_entity_id(value, "Till ID")


def test_entity_ids_are_trimmed():
    assert rules.clean_entity_id("  till_01-a ", "Till ID") == "till_01-a"


FIELD_CASES = [
    ("tillId", "", "Enter the Till ID"),
    ("storeId", "store 1", "Store ID must be 1–64"),
    ("zoneId", "z" * 65, "Zone ID must be 1–64"),
    ("conceptId", "", "Enter the Concept ID"),
    ("identifierName", "passport", "Not a valid choice"),
    ("identifierValue", "", "Enter the identifier value"),
    ("identifierValue", "12", "mobile number"),
    ("label", "Deleted", "Not a valid choice"),
    ("reason", "ab", "at least 3"),
    ("reason", "x" * 501, "at most 500"),
    ("source", "IN STORE", "Source must be"),
    ("accountId", "a" * 65, "Account ID must be"),
]


@pytest.mark.parametrize(("name", "value", "message"), FIELD_CASES)
def test_each_invalid_field_shows_message_keeps_values_and_sends_nothing(
    client, sandbox, valid_form, name, value, message
):
    form = {**valid_form, name: value}
    response = client.post("/requests/new", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert 'class="error-summary"' in html
    assert f'id="{name}-error"' in html
    assert 'aria-invalid="true"' in html
    # The other values are kept as typed.
    kept = "conceptId" if name != "conceptId" else "tillId"
    assert f'value="{valid_form[kept]}"' in html
    if name != "reason":
        assert "Suspected fraud at till 3</textarea>" in html
    assert sandbox.created_count == 0
