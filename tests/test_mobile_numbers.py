"""Mobile numbers of many countries: typed with or without "+", spaces or dashes, stored as
Capillary stores them (digits with the country code, no "+"); the rule for ambiguous digits."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from forms import validators as rules


def _examples() -> list[phonenumbers.PhoneNumber]:
    """phonenumbers' own example mobile number for every region it knows (about 240)."""
    found = (phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
             for region in sorted(phonenumbers.SUPPORTED_REGIONS))
    return [number for number in found if number is not None and phonenumbers.is_valid_number(number)]


EXAMPLES = _examples()
HOME_REGIONS = ["IN", "US", "GB", "CN", "AE", "BR"]


def _digits(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]


def _typings(number: phonenumbers.PhoneNumber) -> list[str]:
    """Ways a person types a number with its country code and a "+"."""
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)  # +44 7400 123456
    return ["+" + _digits(number), international, international.replace(" ", "-"), " " + international + " "]


def test_there_are_examples_from_many_countries():
    assert len({number.country_code for number in EXAMPLES}) > 150


@settings(max_examples=300, deadline=None)
@given(number=st.sampled_from(EXAMPLES), region=st.sampled_from(HOME_REGIONS), data=st.data())
def test_a_number_typed_with_plus_and_country_code_is_stored_as_digits(number, region, data):
    typed = data.draw(st.sampled_from(_typings(number)))
    assert rules.clean_identifier("mobile", typed, region) == _digits(number)


@settings(max_examples=300, deadline=None)
@given(number=st.sampled_from(EXAMPLES), region=st.sampled_from(HOME_REGIONS), data=st.data())
def test_digits_starting_with_a_country_code_are_read_with_it_unless_they_are_a_local_number(number, region, data):
    typed = data.draw(st.sampled_from(_typings(number))).strip().lstrip("+")
    digits = _digits(number)
    local = phonenumbers.parse(digits, region)
    stored = rules.clean_identifier("mobile", typed, region)
    if phonenumbers.is_valid_number(local):
        # The rule: digits that are a valid number of the home region are read there.
        assert stored == _digits(local)
    else:
        assert stored == digits


@settings(max_examples=200, deadline=None)
@given(number=st.sampled_from(EXAMPLES))
def test_a_national_number_is_read_in_its_own_region(number):
    region = phonenumbers.region_code_for_number(number)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    assert rules.clean_identifier("mobile", national, region) == _digits(number)


@pytest.mark.parametrize(("typed", "stored"), [
    ("8613800138000", "8613800138000"),  # China, no "+" (how Capillary lists it)
    ("+86 138 0013 8000", "8613800138000"),
    ("+44 7911 123456", "447911123456"),
    ("447911123456", "447911123456"),
    ("1-415-555-0132", "14155550132"),
    ("+1 (415) 555-0132", "14155550132"),
    ("0044 7911 123456", "447911123456"),  # India's international prefix
    ("971501234567", "971501234567"),  # the UAE
    ("9780375690", "919780375690"),  # a local number stays local
    ("919780375690", "919780375690"),
    ("097803-75690", "919780375690"),  # with the trunk 0
])
def test_examples_from_the_issue_typed_in_india(typed, stored):
    assert rules.clean_identifier("mobile", typed, "IN") == stored


def test_ambiguous_digits_are_a_local_number_and_a_plus_makes_them_foreign():
    # 6581234567 is an Indian mobile (+91 65812 34567) and also Singapore's +65 8123 4567.
    assert phonenumbers.is_valid_number(phonenumbers.parse("+6581234567"))
    assert rules.clean_identifier("mobile", "6581234567", "IN") == "916581234567"
    assert rules.clean_identifier("mobile", "+65 8123 4567", "IN") == "6581234567"
    # Read in Singapore the same digits start with Singapore's own code.
    assert rules.clean_identifier("mobile", "6581234567", "SG") == "6581234567"


def test_a_number_with_no_recognisable_country_code_names_the_region_and_suggests_one(app):
    with app.test_request_context(), pytest.raises(ValueError) as caught:
        rules.clean_identifier("mobile", "12345", "IN")
    message = str(caught.value)
    assert "India (IN)" in message
    assert "type its country code first" in message


def test_a_wrong_number_after_a_country_code_does_not_name_the_region(app):
    with app.test_request_context():
        for typed in ("+44 7700 12", "86138001380001"):
            with pytest.raises(ValueError) as caught:
                rules.clean_identifier("mobile", typed, "IN")
            message = str(caught.value)
            assert "country code +" in message and "(IN)" not in message and "region" not in message


def test_a_plus_without_a_country_code_says_so():
    with pytest.raises(ValueError, match="No country code starts this number"):
        rules.clean_identifier("mobile", "+999 1234 5678", "IN")


def test_the_region_is_named_in_spanish(app):
    with app.test_request_context(headers={"Accept-Language": "es"}):
        from flask_babel import refresh
        refresh()
        with pytest.raises(ValueError) as caught:
            rules.clean_identifier("mobile", "12345", "IN")
    assert str(caught.value).startswith("No es un número de móvil válido en India (IN)")


def test_the_form_accepts_a_chinese_number_typed_without_plus(client, sandbox, valid_form):
    response = client.post("/requests/new", data={**valid_form, "identifierValue": "8613800138000"})
    assert response.status_code == 200
    assert "8613800138000" in response.get_data(as_text=True)
    assert sandbox.created_count == 0  # the review page only


def test_a_number_in_a_range_reserved_for_fiction_is_refused_with_its_country_code(app):
    # Ofcom keeps 07700 900000–900999 for TV drama: no customer can have +44 7700 900123.
    with app.test_request_context(), pytest.raises(ValueError, match=r"country code \+44"):
        rules.clean_identifier("mobile", "+44 7700 900123", "IN")
