"""Field rules shared by the web form and the CSV importer: plain functions on plain values.

Each ``clean_*`` returns the value to send and raises ``ValueError`` with a message a person
can act on, in the request's language (a plain ``str``: the CSV importer stores it with the row).
"""

from __future__ import annotations

import re

import phonenumbers
from babel import Locale
from email_validator import EmailNotValidError, validate_email
from flask_babel import get_locale
from flask_babel import gettext as _

from gateway.payload import IDENTIFIER_NAMES

ENTITY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SOURCE = re.compile(r"[A-Za-z0-9_]{1,64}")
MAX_IDENTIFIER = 128
REASON_MIN, REASON_MAX = 3, 500


def clean_entity_id(value: str | None, name: str | None = None) -> str:
    """Trim and check a till/store/zone/concept ID: 1–64 letters, digits, ``-`` or ``_``.

    ``name`` is the field's name as shown (e.g. a lazy ``_l("Till ID")``); it defaults to "This ID".
    """
    if name is None:
        name = _("This ID")
    value = (value or "").strip()
    if not value:
        raise ValueError(_("Enter the %(name)s.", name=name))
    if not ENTITY_ID.fullmatch(value):
        raise ValueError(_("%(name)s must be 1–64 letters, digits, '-' or '_' (no spaces).", name=name))
    return value


def clean_identifier(name: str | None, value: str | None, region: str = "IN") -> str:
    """Check an identifier value for its type; return it as Capillary expects it.

    A mobile number comes back as digits with the country code and no ``+``
    (``919780375690``); one typed without a country code is read in ``region``.
    """
    value = (value or "").strip()
    if name not in IDENTIFIER_NAMES:
        raise ValueError(_("Choose an identifier type from the list."))
    if not value:
        raise ValueError(_("Enter the identifier value."))
    if name == "mobile":
        return _clean_mobile(value, region)
    if name == "email":
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise ValueError(_("Enter a valid email address (%(problem)s).", problem=exc)) from exc
    if len(value) > MAX_IDENTIFIER:
        raise ValueError(_("The identifier value must be at most %(max)s characters.", max=MAX_IDENTIFIER))
    if not value.isprintable():
        raise ValueError(_("The identifier value contains characters that cannot be sent (e.g. control characters)."))
    return value


def _clean_mobile(value: str, region: str) -> str:
    """Read a mobile number; return it as Capillary stores it (digits with country code, no ``+``).

    The rule for digits typed without ``+`` (README "Mobile numbers"): a number that is valid in
    ``region`` is read there, so a local number always stays local; otherwise the digits are read
    as starting with a country code (``8613800138000`` is China's ``+86 138 0013 8000``). A ``+``
    (or the region's international prefix, e.g. ``00``) always means a country code follows.
    """
    compact = re.sub(r"[\s().-]", "", value)
    if not re.fullmatch(r"\+?\d{4,17}", compact):
        raise ValueError(_("Enter a mobile number using digits only, e.g. 9780375690 or +91 97803 75690."))
    if compact.startswith("+"):
        number = _parsed(compact, None)
        if number is None or not _known_country(number):
            raise ValueError(_("No country code starts this number after the “+”. Check the first digits, "
                               "e.g. +91 for India or +44 for the United Kingdom."))
        if not phonenumbers.is_valid_number(number):
            raise ValueError(_country_code_problem(number))
        return _stored(number)
    local = _parsed(compact, region)
    if local is not None and phonenumbers.is_valid_number(local):
        return _stored(local)
    international = _parsed("+" + compact, None)
    if international is not None and phonenumbers.is_valid_number(international):
        return _stored(international)
    if international is not None and _known_country(international) and phonenumbers.is_possible_number(international):
        raise ValueError(_country_code_problem(international))
    raise ValueError(_("This is not a valid mobile number in %(country)s, where a number without a country "
                       "code is read. If the number is from another country, type its country code first, "
                       "e.g. +44 7911 123456.", country=_region_name(region)))


def _parsed(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def _known_country(number: phonenumbers.PhoneNumber) -> bool:
    code = number.country_code or 0
    return phonenumbers.region_code_for_country_code(code) != phonenumbers.UNKNOWN_REGION


def _country_code_problem(number: phonenumbers.PhoneNumber) -> str:
    return _("This is not a valid mobile number for country code +%(code)s. Check the digits after the "
             "country code.", code=number.country_code)


def _region_name(region: str) -> str:
    """The region's name in the reader's language, with its code (e.g. "India (IN)")."""
    name = (get_locale() or Locale("en")).territories.get(region)
    return f"{name} ({region})" if name else region


def _stored(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def clean_reason(value: str | None) -> str:
    """Trim and check the reason: 3–500 characters."""
    value = (value or "").strip()
    if len(value) < REASON_MIN:
        raise ValueError(_("Enter a reason of at least %(min)s characters.", min=REASON_MIN))
    if len(value) > REASON_MAX:
        raise ValueError(_("The reason must be at most %(max)s characters (it has %(length)s).",
                           max=REASON_MAX, length=len(value)))
    if any(not ch.isprintable() and ch not in "\n\r\t" for ch in value):
        raise ValueError(_("The reason contains characters that cannot be sent (e.g. control characters)."))
    return value


def clean_source(value: str | None, default: str) -> str:
    """Check the source (e.g. INSTORE): 1–64 letters, digits or ``_``; empty means the default."""
    value = (value or "").strip() or default
    if not SOURCE.fullmatch(value):
        raise ValueError(_("Source must be 1–64 letters, digits or '_', e.g. INSTORE."))
    return value


def clean_account_id(value: str | None) -> str:
    """Check the optional account ID: at most 64 printable characters."""
    value = (value or "").strip()
    if len(value) > 64 or not value.isprintable():
        raise ValueError(_("Account ID must be at most 64 printable characters."))
    return value


def strip(value):
    """WTForms filter: a text value without surrounding spaces (anything else as it is)."""
    return value.strip() if isinstance(value, str) else value
