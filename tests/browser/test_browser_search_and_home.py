"""Issue 17 items 5, 7, 8 in a real browser: foreign mobile numbers on the form, search by part
of a number, the history's filters folded on a phone, and "My requests" with its badge, axe-clean
in English and Spanish."""

from __future__ import annotations

import random
import re

import pytest
from babel.support import Translations
from playwright.sync_api import Page, expect

from tests.browser.kit import (
    assert_accessible,
    elements_past_the_right_edge,
    horizontal_overflow,
    review_request,
    submit_request,
)
from tests.browser.servers import ROOT

pytestmark = pytest.mark.browser

SPANISH = Translations.load(str(ROOT / "translations"), ["es"])
PHONE = {"width": 390, "height": 844}

# Text that does not fit its box: a label, hint, summary or button narrower than its text, or a
# select narrower than its chosen option (measured in the select's own font, arrow included).
_CLIPPED = """(root) => {
  const canvas = document.createElement("canvas").getContext("2d");
  const found = [];
  for (const el of root.querySelectorAll("label, .hint, summary, button, a, select")) {
    if (!el.getClientRects().length) continue;
    if (el.tagName === "SELECT") {
      const style = getComputedStyle(el);
      canvas.font = style.font;
      const text = el.options[el.selectedIndex] ? el.options[el.selectedIndex].text : "";
      const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 16;
      if (canvas.measureText(text).width > room) found.push("select#" + el.id + " «" + text + "»");
    } else if (el.scrollWidth > el.clientWidth + 1) {
      found.push(el.tagName.toLowerCase() + " «" + el.textContent.trim().slice(0, 40) + "»");
    }
  }
  return found;
}"""


@pytest.mark.parametrize(("typed", "stored"), [
    ("8613800138000", "8613800138000"),  # China, digits only (as Capillary lists it)
    ("+44 7911 123456", "447911123456"),
    ("1-415-555-0132", "14155550132"),
])
def test_foreign_mobile_numbers_are_accepted_on_the_form(page, typed, stored):
    review_request(page, {"Identifier value": typed})
    expect(page.locator("main")).to_contain_text(stored)


def test_a_number_without_a_country_code_names_the_region_and_suggests_one(page):
    page.goto("/requests/new")
    page.get_by_label("Identifier value", exact=True).fill("12345")
    page.get_by_role("button", name="Check request").click()
    expect(page.locator("#identifierValue-error")).to_contain_text("India (IN)")
    expect(page.locator("#identifierValue-error")).to_contain_text("type its country code first")


def test_a_part_of_a_number_finds_the_request(page):
    digits = f"{random.randrange(10**8):08d}"  # a number of its own, whatever ran before
    stored = f"86139{digits}"
    submit_request(page, {"Identifier value": f"+86 139 {digits[:4]} {digits[4:]}"})
    page.goto("/requests")
    for part in (f"{digits[1:4]} {digits[4:7]}", f"+86 139{digits[:2]}", stored):  # typed with spaces
        page.get_by_label("Customer identifier").fill(part)
        page.get_by_role("button", name="Show").click()
        expect(page.get_by_role("cell", name=stored)).to_have_count(1)
    page.get_by_label("Customer identifier").fill(stored + "0")  # longer: not a part of it
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("cell", name=stored)).to_have_count(0)


def _check_folded_filters(page: Page, summary_text: str, where: str) -> None:
    panel = page.locator("details.filters-panel")
    summary = panel.locator("summary")
    expect(summary).to_have_text(summary_text)
    expect(panel).not_to_have_attribute("open", "")
    expect(page.locator("#q")).to_be_hidden()
    # The first result is on the first screen.
    assert page.get_by_role("table").bounding_box()["y"] < PHONE["height"], where
    box = summary.bounding_box()
    assert box["height"] >= 44, f"{where}: the toggle is {box['height']}px high"
    assert_accessible(page, f"{where}, folded")
    summary.click()
    expect(page.locator("#q")).to_be_visible()
    assert horizontal_overflow(page) == 0, where
    assert elements_past_the_right_edge(page) == [], where
    assert page.evaluate(_CLIPPED, page.locator("main").element_handle()) == [], where
    page.screenshot(path=ROOT / "artifacts" / "screenshots" / f"{where}-390x844.png", full_page=True)
    assert_accessible(page, f"{where}, open")


def test_the_history_filters_fold_behind_a_toggle_on_a_phone(new_page):
    page = new_page()  # signed in at laptop size (the kit reads the demo table's columns)
    page.set_viewport_size(PHONE)
    review_request(page)
    page.get_by_role("button", name="Submit request").click()
    page.wait_for_url(re.compile(r".*/requests/\d+$"))
    page.goto("/requests?state=AdminTask&sort=oldest")
    _check_folded_filters(page, "Filters (1)", "history-filters-phone")
    # A filter with an error stays open, so its message is seen.
    page.goto("/requests?date_from=2026-03-10&date_to=2026-03-01")
    expect(page.locator("details.filters-panel")).to_have_attribute("open", "")
    # Spanish: the same layout, the longest words of both languages.
    page.get_by_role("contentinfo").get_by_role("button", name="Español").click()
    page.goto("/requests?state=AdminTask&label=Suspended")
    _check_folded_filters(page, SPANISH.gettext("Filters (%(num)s)") % {"num": 2}, "es-history-filters-phone")


def test_my_requests_in_spanish_passes_axe(open_state):
    page = open_state("my-requests")
    page.get_by_role("contentinfo").get_by_role("button", name="Español").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(SPANISH.gettext("My requests"))
    assert_accessible(page, "es-my-requests")
    page.goto("/requests?q=97803")
    assert_accessible(page, "es-history-search-part")
