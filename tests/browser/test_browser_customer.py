"""Know the customer in Chromium: "Find customer" with and without JavaScript, a customer Capillary
does not know blocks the review, and a no-op needs its tick (issue 14)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import _app_environment, _start_app
from tests.browser.kit import FORM_VALUES, assert_accessible, fill_request_form, sign_in, watch_server_errors
from tests.browser.servers import ServerProcess

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def customer_server(server_dir):
    """The app in sandbox mode with the customer look-up on, on a database of its own."""
    server = ServerProcess("app-customer", "app", _app_environment(
        server_dir, "customer", CAP_GATEWAY_URL="sandbox", CAP_CUSTOMER_LOOKUP="on"), server_dir)
    _start_app(server)
    yield server
    server.stop()


@pytest.fixture
def open_page(new_context, customer_server):
    """A signed-in page on the customer server; ``open_page(javascript=False)`` for one without scripts."""
    def make(javascript: bool = True) -> Page:
        page = new_context(base_url=customer_server.url, java_script_enabled=javascript).new_page()
        sign_in(page, "agent")
        return page
    return make


def test_find_customer_in_place_with_javascript(open_page):
    page = open_page()
    errors = watch_server_errors(page)
    page.goto("/requests/new")
    page.get_by_label("Identifier value", exact=True).fill(FORM_VALUES["Identifier value"])
    page.get_by_role("button", name="Find customer").click()
    region = page.locator("#customer-card-region")
    expect(region).to_have_attribute("aria-live", "polite")
    expect(region.get_by_role("heading", name="Asha Rao")).to_be_visible()
    expect(region).to_contain_text("Active (status ACTIVE)")
    expect(page).to_have_url(re.compile(r"/requests/new$"))  # no page load: checked in place
    assert_accessible(page, "form with a customer card")
    assert errors == []


def test_find_customer_without_javascript_redraws_the_form(open_page):
    page = open_page(javascript=False)
    page.goto("/requests/new")
    page.get_by_label("Identifier value", exact=True).fill("9812345670")
    page.get_by_label("Reason").fill("kept while finding")
    page.get_by_role("button", name="Find customer").click()
    expect(page.locator("#customer-card-region").get_by_role("heading", name="Meera Iyer")).to_be_visible()
    expect(page.get_by_label("Reason")).to_have_value("kept while finding")


def test_a_customer_capillary_does_not_know_cannot_be_submitted(open_page):
    page = open_page()
    page.goto("/requests/new")
    fill_request_form(page, {"Identifier value": "9000000001"})
    page.get_by_role("button", name="Check request").click()
    expect(page.get_by_role("heading", name="No customer found")).to_be_visible()
    expect(page.get_by_role("button", name="Submit request")).to_have_count(0)
    assert_accessible(page, "review of an unknown customer")
    page.get_by_role("button", name="Edit").click()
    expect(page.get_by_label("Identifier value", exact=True)).to_have_value("9000000001")


def test_a_no_op_needs_the_tick(open_page):
    page = open_page()
    page.goto("/requests/new")
    fill_request_form(page, {"Identifier value": "9812345671"}, label="Active")  # Rohan Das is Active
    page.get_by_role("button", name="Check request").click()
    expect(page.locator(".change-sentence")).to_have_text("Change Rohan Das's status from Active to Active.")
    tick = page.get_by_label("Send it anyway: I know the customer already has this status.")
    page.get_by_role("button", name="Submit request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check before sending")  # the browser refused
    assert_accessible(page, "review of a no-op")
    tick.check()
    page.get_by_role("button", name="Submit request").click()
    page.wait_for_url(re.compile(r"/requests/\d+$"))
    expect(page.locator("#state-heading .badge")).to_have_text("Waiting for approval")


def test_on_a_phone_submit_comes_before_the_request_details(new_context, customer_server):
    page = new_context(base_url=customer_server.url).new_page()
    sign_in(page, "agent")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/requests/new")
    fill_request_form(page, {"Identifier value": "9780375691"})  # Vikram Shah
    page.get_by_role("button", name="Check request").click()
    submit = page.get_by_role("button", name="Submit request").bounding_box()
    details = page.locator("details.request-details").bounding_box()
    assert submit and details and submit["y"] + submit["height"] <= details["y"]
    expect(page.locator("details.request-details")).not_to_have_attribute("open", re.compile(".*"))


def test_verified_in_capillary_after_a_checker_approves_in_another_browser(open_page, new_context, customer_server):
    maker = open_page()
    maker.goto("/requests/new")
    fill_request_form(maker, {"Identifier value": "9780375691", "Reason": "Verify me"}, label="Suspended")
    maker.get_by_role("button", name="Check request").click()
    maker.get_by_role("button", name="Submit request").click()
    maker.wait_for_url(re.compile(r"/requests/\d+$"))
    number = maker.url.rsplit("/", 1)[1]
    expect(maker.locator("main")).to_contain_text("Before sending, the customer's status was High Value")

    checker = new_context(base_url=customer_server.url).new_page()
    sign_in(checker, "checker")
    checker.goto(f"/approvals/{number}?decision=approved")
    expect(checker.locator("main")).to_contain_text("Vikram Shah")
    checker.get_by_label("Message").fill("Cleared by the store.")
    checker.get_by_role("button", name="Continue").click()
    checker.get_by_role("button", name="Yes, approve it").click()

    # The maker's page, left open, shows the verification read from the status log.
    expect(maker.locator(".live-fragment")).to_contain_text(
        "Verified in Capillary: the customer is now Suspended (status SUSPENDED)", timeout=20_000)
    assert_accessible(maker, "status page verified in Capillary")
