"""End-to-end in Chromium against real server processes: submit, follow, history, failures."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.kit import (
    FORM_VALUES,
    MIXED_BULK_ROWS,
    SIGNED_IN,
    bulk_csv,
    fill_request_form,
    review_request,
    sign_in,
    sign_out_and_in_again,
    submit_request,
    watch_server_errors,
)

pytestmark = pytest.mark.browser


def test_fill_review_submit_and_follow_it_on_the_status_page(page: Page):
    errors = watch_server_errors(page)
    review_request(page)
    # The review page shows exactly what will be sent, credentials hidden.
    body = page.get_by_label("Request body (JSON)")
    expect(body).to_contain_text('"identifierValue": "919780375690"')
    expect(body).to_contain_text('"method": "PUT"')
    expect(page.get_by_label("Request headers")).to_contain_text("X-CAP-UI-AUTH-TOKEN: •••••• (hidden)")
    expect(page.locator("main")).not_to_contain_text("sandbox-maker-token")
    expect(page).to_have_title(re.compile(r"^Check before sending · "))

    page.get_by_role("button", name="Submit request").click()
    page.wait_for_url(re.compile(r"/requests/\d+$"))
    number = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Status change request {number}")
    expect(page).to_have_title(re.compile(rf"^Request {number}: Waiting for approval · "))
    expect(page.locator("#state-heading .badge")).to_have_text("Waiting for approval")
    details = page.locator(".summary-list")
    expect(details).to_contain_text("919780375690")
    expect(details).to_contain_text("Suspected fraud at till 3")
    expect(details.locator("code")).to_have_text(re.compile(r"^[0-9a-f-]{36}$"))  # Capillary's requestId
    expect(page.locator(".timeline li")).not_to_have_count(0)

    # Reloading the status page (the redirect target of the POST) never re-submits.
    page.reload()
    expect(page.locator("#state-heading .badge")).to_have_text("Waiting for approval")

    page.get_by_role("link", name="History", exact=True).click()
    expect(page).to_have_title(re.compile(r"^Request history · "))
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=number, exact=True))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Waiting for approval")
    expect(row).to_contain_text("Suspended")
    row.get_by_role("link", name=number, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/requests/{number}$"))
    assert errors == []


def test_errors_are_summarised_focused_and_tied_to_their_fields(page: Page):
    page.goto("/requests/new")
    page.get_by_label("Identifier value").fill("12")
    page.get_by_role("button", name="Check request").click()

    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()  # a screen reader announces the problem at once
    expect(page).to_have_title(re.compile(r"^Error: "))
    till = page.get_by_label("Till ID", exact=True)
    expect(till).to_have_attribute("aria-invalid", "true")
    expect(till).to_have_accessible_description(re.compile(r"Enter the Till ID"))
    expect(page.get_by_label("Identifier value")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Reason")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Identifier type")).not_to_have_attribute("aria-invalid", "true")

    # Every summary link leads to its field and puts the cursor there.
    links = summary.get_by_role("link")
    expect(links).to_have_count(7)  # till, store, zone, concept, identifier value, label (no default), reason
    links.filter(has_text="Reason").click()
    expect(page.get_by_label("Reason")).to_be_focused()
    links.first.click()
    expect(till).to_be_focused()

    # What was typed is kept; correcting the fields gets through to the review page.
    expect(page.get_by_label("Identifier value")).to_have_value("12")
    fill_request_form(page)
    page.get_by_role("button", name="Check request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check before sending")


def test_edit_from_the_review_page_keeps_every_value(page: Page):
    review_request(page, {"Reason": "Card shared between customers"})
    page.get_by_role("button", name="Edit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request a customer status change")
    for label, value in {**FORM_VALUES, "Reason": "Card shared between customers"}.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(page.get_by_label("New status label")).to_have_value("Suspended")


def test_a_form_whose_session_ended_comes_back_after_signing_in(page: Page):
    errors = watch_server_errors(page)
    review_request(page, {"Reason": "Expired session check"})
    # The session is gone (idle timeout, browser restart): so are the sign-in and the CSRF token.
    page.context.clear_cookies()
    page.get_by_role("button", name="Submit request").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_role("status").filter(has_text="Your session ended")).to_be_visible()
    expect(page.get_by_text("What you typed on the last page is kept")).to_be_visible()
    sign_in(page, "agent", open_page=False)

    # Back on the form, nothing sent yet, every value kept.
    expect(page.get_by_role("heading", level=1)).to_have_text("Request a customer status change")
    for label, value in {**FORM_VALUES, "Reason": "Expired session check"}.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(page.get_by_label("New status label")).to_have_value("Suspended")
    page.get_by_role("button", name="Check request").click()
    page.get_by_role("button", name="Submit request").click()
    expect(page.locator("#state-heading .badge")).to_have_text("Waiting for approval")
    assert errors == []


def test_a_stale_form_says_this_form_expired_and_keeps_the_values(page: Page):
    errors = watch_server_errors(page)
    review_request(page, {"Reason": "Stale token check"})
    # Meanwhile, in another tab, the person signs out and in again: a new session, new token.
    sign_out_and_in_again(page.context.new_page())
    page.get_by_role("button", name="Submit request").click()

    expect(page.get_by_role("heading", name="This form expired")).to_be_visible()
    for label, value in {**FORM_VALUES, "Reason": "Stale token check"}.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(page.get_by_label("New status label")).to_have_value("Suspended")
    # The page carries a fresh token: the person just goes on.
    page.get_by_role("button", name="Check request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check before sending")
    page.get_by_role("button", name="Submit request").click()
    expect(page.locator("#state-heading .badge")).to_have_text("Waiting for approval")
    assert errors == []


def _tab_to(page: Page, selector: str, limit: int = 40) -> None:
    """Press Tab until the element matching ``selector`` has focus; fail if it never does."""
    target = page.locator(selector)
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never received focus after {limit} presses of Tab")


def test_a_whole_submission_with_the_keyboard_alone(page: Page):
    page.goto("/requests/new")
    # The first Tab reaches the skip link, which jumps past the header.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))

    for field_id, value in (("tillId", "50682289"), ("storeId", "50682288"),
                            ("zoneId", "50682286"), ("conceptId", "50678331")):
        _tab_to(page, f"#{field_id}")
        page.keyboard.type(value)
    _tab_to(page, "#identifierName")  # "Mobile number" is already chosen
    _tab_to(page, "#identifierValue")
    page.keyboard.type("9780375690")
    _tab_to(page, "#label")
    page.keyboard.press("ArrowDown")  # "Choose a status label…" -> Active
    page.keyboard.press("ArrowDown")  # Active -> Suspended
    expect(page.locator("#label")).to_have_value("Suspended")
    _tab_to(page, "#reason")
    page.keyboard.type("Typed with the keyboard only")
    _tab_to(page, "button[value=review]")
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Check before sending")
    _tab_to(page, "button:text('Submit request')")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/requests/\d+$"))
    expect(page.locator("#state-heading .badge")).to_have_text("Waiting for approval")
    expect(page.locator(".summary-list")).to_contain_text("Typed with the keyboard only")


def test_the_gateway_answering_503_gives_a_clear_message_not_an_error_page(new_page, gateway):
    page = new_page(server="real")
    errors = watch_server_errors(page)
    gateway.control("POST", "faults", {"kind": "503", "endpoint": "create"})
    submit_request(page)

    expect(page.locator("#state-heading .badge")).to_have_text("Not submitted")
    problem = page.locator(".notice")
    expect(problem).to_contain_text("What happened")
    expect(problem).to_contain_text("Does it exist in Capillary? No.")
    expect(problem).to_contain_text("temporarily unavailable")
    expect(page.get_by_role("link", name="Edit and retry")).to_be_visible()
    assert errors == []


def test_the_gateway_down_then_back_edit_and_retry(new_page, gateway):
    page = new_page(server="real")
    errors = watch_server_errors(page)
    gateway.stop()  # nothing listens on the gateway's port any more
    submit_request(page, {"Reason": "Sent while the gateway was down"})

    expect(page.locator("#state-heading .badge")).to_have_text("Not submitted")
    expect(page.locator(".notice")).to_contain_text("Does it exist in Capillary? No.")
    expect(page.locator(".notice")).to_contain_text("Check the network or try again shortly")

    gateway.start()
    page.get_by_role("link", name="Edit and retry").click()
    expect(page.get_by_label("Reason")).to_have_value("Sent while the gateway was down")
    expect(page.get_by_label("Till ID", exact=True)).to_have_value(FORM_VALUES["Till ID"])
    page.get_by_role("button", name="Check request").click()
    page.get_by_role("button", name="Submit request").click()
    expect(page.locator("#state-heading .badge")).to_have_text("Waiting for approval")
    assert gateway.control("GET", "state")["created_count"] == 1
    assert errors == []


def test_an_auto_approved_request_shows_as_decided(new_page, gateway):
    page = new_page(server="real")
    gateway.control("POST", "settings", {"auto_approve": True})
    submit_request(page)
    expect(page.locator("#state-heading .badge")).to_have_text("Approved")
    expect(page.locator("#state-heading .badge")).to_have_class(re.compile(r"\bbadge-good\b"))
    expect(page).to_have_title(re.compile(r"^Request \d+: Approved · "))


def test_unknown_pages_render_in_the_layout(page: Page):
    response = page.goto("/requests/999999")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    expect(page).to_have_title(re.compile(r"^Page not found · "))


def test_a_checker_approves_and_the_makers_page_updates_by_itself(new_page):
    maker = new_page("agent")
    number = submit_request(maker, {"Reason": "Approve me in the other browser"})
    expect(maker.locator("#state-heading .badge")).to_have_text("Waiting for approval")
    maker.evaluate("window.stillTheSamePage = true")  # gone if the page were reloaded

    checker = new_page("checker")
    checker.get_by_role("link", name="Approvals", exact=True).click()
    # The queue is oldest first and the shared server has many waiting: newest first shows this one.
    checker.goto("/approvals?sort=newest")
    row = checker.get_by_role("row").filter(has=checker.get_by_role("link", name=str(number), exact=True))
    expect(row).to_contain_text("Approve me in the other browser")
    row.get_by_role("link", name=re.compile(rf"^Approve request {number}\b")).click()
    expect(checker.get_by_label("Approve")).to_be_checked()
    checker.get_by_label("Message").fill("Receipts match: approved.")
    checker.get_by_role("button", name="Continue").click()
    # The confirmation step says what will happen before anything is sent.
    expect(checker.get_by_role("heading", level=1)).to_have_text(f"Approve request {number}?")
    expect(checker.locator("main")).to_contain_text("to Suspended as soon as you confirm")
    checker.get_by_role("button", name="Yes, approve it").click()
    expect(checker.locator(".flashes")).to_contain_text(f"Request {number}: Approved.")  # on to the next one
    checker.goto(f"/requests/{number}")
    expect(checker.locator("#state-heading .badge")).to_have_text("Approved")

    # The maker's page, left alone, follows: new badge, an announcement, a new title.
    expect(maker.locator("#state-heading .badge")).to_have_text("Approved", timeout=20_000)
    expect(maker.get_by_role("status").filter(has_text="Status changed")).to_have_text("Status changed: Approved.")
    expect(maker).to_have_title(re.compile(rf"^Request {number}: Approved "))
    expect(maker.locator(".live-fragment")).to_contain_text("Receipts match: approved.")
    assert maker.evaluate("window.stillTheSamePage === true")


def test_history_filters_find_a_request(page: Page):
    wanted = submit_request(page, {"Identifier value": "9812345671", "Reason": "Filter target"})
    other = submit_request(page, {"Identifier value": "9812345670"})
    page.get_by_role("link", name="History", exact=True).click()

    page.get_by_label("Customer identifier").fill("+91 98123 45671")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("link", name=str(wanted), exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=str(other), exact=True)).to_have_count(0)
    for row in page.locator("tbody tr").all():
        expect(row).to_contain_text("919812345671")
    # The filters stay filled in, and clearing them brings every request back.
    expect(page.get_by_label("Customer identifier")).to_have_value("+91 98123 45671")
    page.get_by_role("link", name="Clear filters").first.click()
    expect(page.get_by_role("link", name=str(other), exact=True)).to_be_visible()

    page.get_by_label("Status", exact=True).select_option(label="Approved")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("link", name=str(wanted), exact=True)).to_have_count(0)


def test_bulk_upload_review_confirm_and_live_progress(page: Page):
    errors = watch_server_errors(page)
    page.goto("/bulk")
    page.get_by_label("CSV file").set_input_files(bulk_csv(MIXED_BULK_ROWS))
    page.get_by_role("button", name="Check the file").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Check the file before sending")
    summary = page.locator(".summary-list")
    expect(summary).to_contain_text("Rows in the file6")
    expect(summary).to_contain_text("Ready to send4")
    expect(summary).to_contain_text("With errors (not sent)1")
    expect(summary).to_contain_text("Duplicates in the file (not sent)1")
    problems = page.get_by_role("table", name="Rows with errors: line, column and problem")
    expect(problems).to_contain_text("identifierValue")
    expect(problems).to_contain_text("reason")

    page.get_by_role("button", name="Send 4 requests").click()
    expect(page).to_have_title(re.compile(r"^Bulk file #\d+: "))
    page.evaluate("window.stillTheSamePage = true")
    bar = page.get_by_label("Rows finished")
    expect(page.locator("[data-field=remaining]")).to_have_text("0", timeout=30_000)
    expect(page.locator("[data-field=created]")).to_have_text("4")
    expect(bar).to_have_js_property("value", 4)
    expect(page.get_by_role("status").filter(has_text="4")).to_be_visible()
    # Every sent row is a tracked request of its own; the rows table catches up in place too.
    rows = page.get_by_role("table", name="Rows of this file and their requests").locator("tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.get_by_text("Waiting for approval")).to_have_count(4)
    expect(rows.get_by_text("Sending")).to_have_count(0)
    assert page.evaluate("window.stillTheSamePage === true")  # updated in place, not reloaded
    assert errors == []


def test_signing_in_and_out(new_page):
    page = new_page(None)
    page.goto("/requests/new")
    expect(page).to_have_url(re.compile(r"/login"))  # every page needs sign-in
    page.get_by_label("Username").fill("maker")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_title(re.compile(r"^Error: Sign in · "))
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.get_by_label("Password")).to_have_value("")  # never echoed back

    sign_in(page, "maker", open_page=False)  # the password as the page's demo table shows it
    expect(page.locator(".account-name")).to_contain_text("Demo store manager")
    page.get_by_role("button", name="Sign out").click()
    SIGNED_IN.pop((re.match(r"https?://[^/]+", page.url).group(0), "maker"), None)  # that session is over
    expect(page.get_by_role("status").filter(has_text="You have signed out.")).to_be_visible()
    page.goto("/requests")
    expect(page).to_have_url(re.compile(r"/login"))
