"""Two languages in a real browser: Accept-Language, the switcher, Spanish pages checked with axe
at three sizes (screenshots too), and times in the browser's own time zone.

The Spanish words are read from the compiled catalog, so these tests act as a Spanish-speaking
person would (by the labels they see) without repeating the translations here.
"""

from __future__ import annotations

import re

import pytest
from babel.support import Translations
from playwright.sync_api import Page, expect

from tests.browser.kit import FORM_VALUES, check_three_sizes, submit_request
from tests.browser.servers import ROOT

pytestmark = pytest.mark.browser

SPANISH = Translations.load(str(ROOT / "translations"), ["es"])
t = SPANISH.gettext


def _check_spanish_page(page: Page, name: str) -> None:
    """The page is in Spanish, passes axe and fits (no sideways scrolling) at all three sizes."""
    expect(page.locator("html")).to_have_attribute("lang", "es")
    check_three_sizes(page, f"es-{name}")


def _switch_to(page: Page, language_name: str, code: str) -> None:
    page.get_by_role("contentinfo").get_by_role("button", name=language_name).click()
    expect(page.locator("html")).to_have_attribute("lang", code)


def test_the_browsers_language_picks_spanish_and_the_switcher_remembers_a_choice(new_page):
    page = new_page(user=None, locale="es-ES")
    page.goto("/login")
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Sign in"))
    _check_spanish_page(page, "login")

    demo = page.get_by_role("table", name=t("Demo sign-ins for the training sandbox"))
    row = demo.get_by_role("row").filter(has=page.get_by_role("cell", name="agent", exact=True))
    password = row.get_by_role("cell").nth(1).inner_text().strip()
    page.get_by_label(t("Username")).fill("agent")
    page.get_by_label(t("Password")).fill(password)
    page.get_by_role("button", name=t("Sign in")).click()
    expect(page.get_by_role("navigation", name=t("Main"))).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "es")

    # The browser still asks for Spanish; the person's choice of English wins from now on.
    _switch_to(page, "English", "en")
    page.goto("/requests")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Request history")
    _switch_to(page, "Español", "es")
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Request history"))


def test_a_whole_request_in_spanish_passes_axe_and_fits_every_size(new_page):
    page = new_page()  # the demo support agent, in a browser that asks for English
    page.goto("/requests/new")
    _switch_to(page, "Español", "es")
    expect(page).to_have_url(re.compile(r"/requests/new$"))  # back on the same page
    _check_spanish_page(page, "form-empty")

    page.get_by_role("button", name=t("Check request")).click()
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator(".error-summary h2")).to_have_text(t("There is a problem"))
    _check_spanish_page(page, "form-with-errors")

    for label, value in FORM_VALUES.items():
        page.get_by_label(t(label), exact=True).fill(value)
    page.get_by_label(t("New status label")).select_option("Suspended")
    page.get_by_role("button", name=t("Check request")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Check before sending"))
    _check_spanish_page(page, "review")

    page.get_by_role("button", name=t("Submit request")).click()
    page.wait_for_url(re.compile(r".*/requests/\d+$"))
    expect(page.locator("#state-heading .badge")).to_have_text(t("Waiting for approval"))
    _check_spanish_page(page, "status-waiting")

    page.goto("/requests")
    expect(page.get_by_role("heading", level=1)).to_have_text(t("Request history"))
    _check_spanish_page(page, "history")

    page.goto("/profile")
    _check_spanish_page(page, "profile")
    page.goto("/bulk")
    _check_spanish_page(page, "bulk")


def test_the_checkers_pages_in_spanish(new_page):
    maker = new_page()
    submit_request(maker)
    checker = new_page("checker")
    checker.goto("/approvals")
    _switch_to(checker, "Español", "es")
    _check_spanish_page(checker, "approvals")
    checker.locator("a[href*='decision=approved']").first.click()
    _check_spanish_page(checker, "approvals-decide")


def test_times_are_shown_in_the_browsers_time_zone(new_page):
    page = new_page(timezone_id="Asia/Kolkata")
    submit_request(page)
    page.reload()  # the first page of a remembered sign-in may predate this browser's zone cookie
    # Chromium reports the zone by its older IANA name; both name the same zone.
    expect(page.get_by_role("contentinfo")).to_contain_text(re.compile(r"Asia/(Kolkata|Calcutta)"))
    stored = page.locator("dt", has_text="Stored in the app").locator("xpath=following-sibling::dd[1]")
    expect(stored).to_contain_text("+0530")
    # The same moment as the browser itself shows it in its own zone: compare the hour.
    shown_hour = int(re.search(r"(\d{1,2}):\d{2}:\d{2}\s?([AP]M)", stored.inner_text()).group(1)) % 12
    browser_hour = page.evaluate("new Date().getHours()") % 12
    assert shown_hour in (browser_hour, (browser_hour - 1) % 12)  # submitted within the last hour
