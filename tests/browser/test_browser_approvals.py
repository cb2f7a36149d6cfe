"""The checker in Chromium: approve-and-next, a decision made with the keyboard alone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.kit import submit_request

pytestmark = pytest.mark.browser

MESSAGE = "Checked the till receipts"


def test_approve_and_next_lands_on_the_next_waiting_request(new_page):
    maker = new_page("agent")
    first = submit_request(maker, {"Reason": "First of two"})
    second = submit_request(maker, {"Reason": "Second of two"})
    checker: Page = new_page("checker")
    checker.goto(f"/approvals/{first}")
    checker.get_by_label("Approve: Capillary then changes the customer's status").check()
    checker.get_by_label("Message to the maker").fill(MESSAGE)
    checker.get_by_role("button", name="Continue").click()
    checker.get_by_role("button", name="Yes, approve it").click()
    # Not the decided request's page: the next one waiting (older ones from other tests come first).
    checker.wait_for_url(re.compile(r"/approvals(/\d+)?$"))
    expect(checker.locator(".flashes")).to_contain_text(f"Request {first}: Approved.")
    assert not checker.url.endswith(f"/approvals/{first}")
    if checker.url.endswith("/approvals"):
        pytest.fail(f"request {second} was still waiting, yet the checker landed on the queue")
    expect(checker.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Approve or reject request \d+$"))


def test_a_decision_with_the_keyboard_alone(new_page):
    maker = new_page("agent")
    number = submit_request(maker, {"Reason": "Decided by keyboard"})
    checker: Page = new_page("checker")
    checker.goto(f"/approvals/{number}")
    checker.locator("body").press("r")  # choose Reject: focus goes to the message
    expect(checker.get_by_label("Reject: the customer's status stays as it is")).to_be_checked()
    expect(checker.get_by_label("Message to the maker")).to_be_focused()
    checker.keyboard.type("Not enough evidence, typed r and j here")  # keys in a text field are text
    expect(checker.get_by_label("Reject: the customer's status stays as it is")).to_be_checked()
    checker.keyboard.press("Tab")
    expect(checker.get_by_role("button", name="Continue")).to_be_focused()
    checker.keyboard.press("Enter")
    expect(checker.get_by_role("heading", level=1)).to_have_text(f"Reject request {number}?")
    checker.get_by_role("button", name="Yes, reject it").focus()
    checker.keyboard.press("Enter")
    expect(checker.locator(".flashes")).to_contain_text(f"Request {number}: Rejected.")


def test_queue_keys_move_and_open_and_can_be_turned_off(new_page):
    maker = new_page("agent")
    submit_request(maker, {"Reason": "Queue keys"})
    checker: Page = new_page("checker")
    checker.goto("/approvals?sort=newest")
    checker.locator("body").press("j")
    first_row = checker.locator("tr[data-queue-row]").first
    expect(first_row).to_have_class(re.compile("is-current"))
    checker.keyboard.press("a")
    checker.wait_for_url(re.compile(r"/approvals/\d+\?decision=approved$"))
    expect(checker.get_by_label("Approve: Capillary then changes the customer's status")).to_be_checked()

    checker.goto("/approvals")
    checker.get_by_text("Keyboard shortcuts", exact=True).click()
    checker.get_by_label("Use keyboard shortcuts on these pages").uncheck()
    checker.reload()
    checker.locator("body").press("j")
    expect(checker.locator("tr.is-current")).to_have_count(0)  # off, and remembered
    checker.get_by_text("Keyboard shortcuts", exact=True).click()
    checker.get_by_label("Use keyboard shortcuts on these pages").check()


def test_the_queue_and_the_decide_page_in_spanish_pass_axe(new_page):
    from babel.support import Translations

    from tests.browser.kit import assert_accessible
    from tests.browser.servers import ROOT

    t = Translations.load(str(ROOT / "translations"), ["es"]).gettext
    number = submit_request(new_page("agent"))
    checker: Page = new_page("checker", locale="es-ES")
    checker.goto("/approvals?store=50682288&sort=newest")
    if checker.locator("html").get_attribute("lang") != "es":  # a remembered choice outranks the browser's
        checker.get_by_role("contentinfo").get_by_role("button", name="Español").click()
    expect(checker.locator("html")).to_have_attribute("lang", "es")
    checker.get_by_text(t("Keyboard shortcuts"), exact=True).click()
    checker.locator("body").press("j")
    expect(checker.locator("tr.is-current")).to_contain_text(str(number))
    assert_accessible(checker, "the queue in Spanish")
    checker.goto(f"/approvals/{number}")
    checker.get_by_text(t("Keyboard shortcuts"), exact=True).click()
    assert_accessible(checker, "the decide page in Spanish")
