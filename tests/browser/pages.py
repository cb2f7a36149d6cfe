"""Every page of the app in each state worth checking, as recipes that drive a browser there.

The accessibility test runs axe on every recipe; the layout test takes the ``main`` ones to
three window sizes and saves screenshots. A new page joins both by adding one recipe here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from playwright.sync_api import Page, expect

from tests.browser.kit import MIXED_BULK_ROWS, bulk_csv, review_request, sign_out_and_in_again, submit_request


@dataclass(frozen=True)
class PageState:
    """How to reach one page in one state.

    :param server: ``"sandbox"`` (the app with its embedded gateway) or ``"real"`` (the app in
        real mode against the standalone sandbox, whose faults and settings the recipe may use).
    :param main: also checked at three window sizes, with screenshots.
    :param user: who signs in first (None: nobody).
    """

    name: str
    open: Callable
    server: str = "sandbox"
    main: bool = False
    user: str | None = "agent"


STATES: dict[str, PageState] = {}


def recipe(name: str, server: str = "sandbox", main: bool = False, user: str | None = "agent"):
    """Register the decorated ``open(page, env)`` function as the page state ``name``.

    ``user`` is who is signed in first (a demo person, or None for nobody). ``env.gateway`` is
    the standalone sandbox (real-mode recipes only); ``env.person(user)`` opens a page for
    someone else on the same app (their own browser context), signed in.
    """

    def register(open_page: Callable) -> Callable:
        STATES[name] = PageState(name, open_page, server, main, user)
        return open_page

    return register


def _badge(page: Page, text: str) -> None:
    expect(page.locator("#state-heading .badge")).to_have_text(text)


@recipe("form-empty", main=True)
def form_empty(page: Page, env) -> None:
    """The request form as it first opens."""
    page.goto("/requests/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Request a customer status change")


@recipe("form-with-errors", main=True)
def form_with_errors(page: Page, env) -> None:
    """The form sent with fields missing or wrong: error summary and an error beside each field."""
    page.goto("/requests/new")
    page.get_by_label("Identifier value").fill("12")
    page.get_by_role("button", name="Check request").click()
    expect(page.locator(".error-summary")).to_be_focused()


@recipe("form-with-advanced-open")
def form_with_advanced_open(page: Page, env) -> None:
    """The form with its "Advanced options" disclosure opened."""
    page.goto("/requests/new")
    page.get_by_text("Advanced options").click()
    expect(page.get_by_label("Source")).to_be_visible()


@recipe("form-expired")
def form_expired(page: Page, env) -> None:
    """The form shown again, values kept, after its token went stale (signed in again elsewhere)."""
    review_request(page)
    sign_out_and_in_again(page.context.new_page())
    page.get_by_role("button", name="Submit request").click()
    expect(page.get_by_role("heading", name="This form expired")).to_be_visible()


@recipe("login-session-ended")
def login_session_ended(page: Page, env) -> None:
    """The sign-in page after the session ended mid-form, carrying what was typed."""
    review_request(page)
    page.context.clear_cookies()
    page.get_by_role("button", name="Submit request").click()
    expect(page.get_by_text("What you typed on the last page is kept")).to_be_visible()


@recipe("review", main=True)
def review(page: Page, env) -> None:
    """The review page: what will be sent, with the submit and edit buttons."""
    review_request(page)


@recipe("status-waiting", main=True)
def status_waiting(page: Page, env) -> None:
    """A request waiting for a checker's approval."""
    submit_request(page)
    _badge(page, "Waiting for approval")


@recipe("status-not-submitted", server="real", main=True)
def status_not_submitted(page: Page, env) -> None:
    """The gateway refused the request (503): not created, with what to do."""
    env.gateway.control("POST", "faults", {"kind": "503", "endpoint": "create"})
    submit_request(page)
    _badge(page, "Not submitted")


@recipe("status-outcome-unknown", server="real")
def status_outcome_unknown(page: Page, env) -> None:
    """The gateway failed in a way that leaves it unclear whether the request exists."""
    env.gateway.control("POST", "faults", {"kind": "500", "endpoint": "create"})
    submit_request(page)
    _badge(page, "Outcome unknown")


@recipe("status-approved", server="real")
def status_approved(page: Page, env) -> None:
    """A decided request (the sandbox approves on creation)."""
    env.gateway.control("POST", "settings", {"auto_approve": True})
    submit_request(page)
    _badge(page, "Approved")


@recipe("status-refused-with-a-code", server="real")
def status_refused_with_a_code(page: Page, env) -> None:
    """Capillary refused the create with one of its documented codes: worded, with the code."""
    env.gateway.control("POST", "faults", {"kind": "code-2024", "endpoint": "create"})
    submit_request(page)
    _badge(page, "Not submitted")
    expect(page.get_by_text("HTTP 400 · error 2024")).to_be_visible()  # in the details line


@recipe("status-failed-documented-shape", server="real")
def status_failed_documented_shape(page: Page, env) -> None:
    """Approved automatically, but the task failed in Capillary's documented shape (200, 744, v1.1)."""
    env.gateway.control("POST", "settings", {"auto_approve": True})
    env.gateway.control("POST", "faults", {"kind": "failed-744", "endpoint": "create"})
    submit_request(page)
    _badge(page, "Failed")
    expect(page.get_by_role("heading", name="For Capillary support")).to_be_visible()


@recipe("status-details-open")
def status_details_open(page: Page, env) -> None:
    """A status page with "What was sent" opened (the JSON block)."""
    submit_request(page)
    page.get_by_text("What was sent").click()
    expect(page.get_by_label("Submitted request body (JSON)")).to_be_visible()


@recipe("history", main=True)
def history(page: Page, env) -> None:
    """The history list with at least one request in it."""
    submit_request(page, {"Identifier value": "9780375691"})
    page.goto("/requests")
    expect(page.get_by_role("table")).to_be_visible()


@recipe("not-found", main=True)
def not_found(page: Page, env) -> None:
    """The error page (in the app's layout) for an address that does not exist."""
    response = page.goto("/requests/999999")
    assert response.status == 404
    expect(page).to_have_title(re.compile(r"^Page not found"))


# -- sign-in, profile ------------------------------------------------------------------------


@recipe("login", main=True, user=None)
def login(page: Page, env) -> None:
    """The sign-in page; in sandbox mode it lists the demo people."""
    page.goto("/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


@recipe("login-with-error", user=None)
def login_with_error(page: Page, env) -> None:
    """The sign-in page after a wrong password."""
    page.goto("/login")
    page.get_by_label("Username").fill("agent")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".error-summary")).to_be_focused()


@recipe("profile", main=True)
def profile(page: Page, env) -> None:
    """The person's own profile: account, Capillary token, password."""
    page.goto("/profile")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your profile")


# -- history ---------------------------------------------------------------------------------


@recipe("history-filtered")
def history_filtered(page: Page, env) -> None:
    """History filtered by status through the filter form."""
    submit_request(page)
    page.goto("/requests")
    page.get_by_label("Status", exact=True).select_option(label="Waiting for approval")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"state=AdminTask"))


@recipe("history-filter-errors")
def history_filter_errors(page: Page, env) -> None:
    """History with a filter value it cannot use: error summary, no table."""
    page.goto("/requests")
    page.get_by_label("Created from").fill("2026-03-10")
    page.get_by_label("Created to").fill("2026-03-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".error-summary")).to_be_visible()


# -- the checker's console -------------------------------------------------------------------


def _waiting_request(page: Page, env) -> int:
    """Have the demo support agent submit a request (in their own browser); return its id."""
    return submit_request(env.person("agent"))


@recipe("approvals", main=True, user="checker")
def approvals_list(page: Page, env) -> None:
    """The checker's console with at least one request waiting."""
    number = _waiting_request(page, env)
    page.goto("/approvals?sort=newest")  # the shared server has many waiting: newest first shows this one
    expect(page.get_by_role("link", name=str(number), exact=True)).to_be_visible()


@recipe("approvals-filtered-with-shortcuts", user="checker")
def approvals_filtered_with_shortcuts(page: Page, env) -> None:
    """The queue filtered and sorted, its keyboard shortcuts shown and a row highlighted with j."""
    number = _waiting_request(page, env)
    page.goto("/approvals?store=50682288&sort=newest&size=50")
    page.get_by_text("Keyboard shortcuts", exact=True).click()
    page.locator("body").press("j")
    expect(page.locator("tr.is-current")).to_contain_text(str(number))


@recipe("approvals-decide-after-a-decision", user="checker")
def approvals_decide_after_a_decision(page: Page, env) -> None:
    """Approve-and-next: the next request's decision form, what was decided in a flash, shortcuts open."""
    first = _waiting_request(page, env)
    _waiting_request(page, env)
    page.goto(f"/approvals/{first}?decision=approved")
    page.get_by_label("Message").fill("Checked the till receipts: approved.")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Yes, approve it").click()
    expect(page.locator(".flashes")).to_contain_text(f"Request {first}: Approved.")
    page.get_by_text("Keyboard shortcuts", exact=True).click()


def _many_confirmation(page: Page, env) -> int:
    """Two new requests ticked on the queue, approved with one message: the confirmation page."""
    first, second = _waiting_request(page, env), _waiting_request(page, env)
    page.goto("/approvals?sort=newest")
    page.get_by_label(f"Choose request {first}", exact=True).check()
    page.get_by_label(f"Choose request {second}", exact=True).check()
    decision = page.get_by_role("group", name="Decision")
    decision.get_by_label("Approve: Capillary then changes the customer's status").check()
    page.get_by_label("Message to the maker").fill("Checked both against the till receipts.")
    page.get_by_role("button", name="Continue to the confirmation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Approve 2 requests?")
    return second


@recipe("approvals-many-confirm", user="checker")
def approvals_many_confirm(page: Page, env) -> None:
    """One decision for many: the confirmation page with the count and the list."""
    _many_confirmation(page, env)


@recipe("approvals-many-nothing-chosen", user="checker")
def approvals_many_nothing_chosen(page: Page, env) -> None:
    """One decision for many sent with nothing ticked and no message: the errors."""
    _waiting_request(page, env)
    page.goto("/approvals")
    page.get_by_role("button", name="Continue to the confirmation").click()
    expect(page.locator(".error-summary")).to_contain_text("Enter a message for the maker")
    expect(page.get_by_role("alert").filter(has_text="Tick at least one request")).to_be_visible()


@recipe("approvals-run-finished", main=True, user="checker")
def approvals_run_finished(page: Page, env) -> None:
    """One decision for many: the progress page once every decision is sent, with the results."""
    _many_confirmation(page, env)
    page.get_by_role("button", name="Yes, approve 2 requests").click()
    expect(page.locator("#run-count")).to_have_text(re.compile(r"^2 of 2 requests finished\."), timeout=30_000)


@recipe("approvals-decide", user="checker")
def approvals_decide(page: Page, env) -> None:
    """The decision form for one waiting request."""
    number = _waiting_request(page, env)
    page.goto(f"/approvals/{number}")
    expect(page.get_by_role("group", name="Decision")).to_be_visible()


@recipe("approvals-decide-errors", user="checker")
def approvals_decide_errors(page: Page, env) -> None:
    """The decision form sent without a decision or a message."""
    number = _waiting_request(page, env)
    page.goto(f"/approvals/{number}")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".error-summary")).to_be_focused()


@recipe("approvals-confirm", main=True, user="checker")
def approvals_confirm(page: Page, env) -> None:
    """The confirmation step before an approval is sent."""
    number = _waiting_request(page, env)
    page.goto(f"/approvals/{number}?decision=approved")
    page.get_by_label("Message").fill("Checked the till receipts: approved.")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Approve request {number}?")


@recipe("status-rejected-by-checker", user="checker")
def status_rejected_by_checker(page: Page, env) -> None:
    """A status page after the checker rejected the request here (its decision, in the list)."""
    number = _waiting_request(page, env)
    page.goto(f"/approvals/{number}?decision=rejected")
    page.get_by_label("Message").fill("Not enough evidence.")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Yes, reject it").click()
    expect(page.locator(".flashes")).to_contain_text(f"Request {number}: Rejected.")  # approve-and-next
    page.goto(f"/requests/{number}")
    _badge(page, "Rejected")


# -- bulk ------------------------------------------------------------------------------------


@recipe("bulk-upload", main=True)
def bulk_upload(page: Page, env) -> None:
    """The bulk page: template, upload form, latest files."""
    page.goto("/bulk")
    expect(page.get_by_role("heading", level=1)).to_contain_text("CSV file")


@recipe("bulk-upload-errors")
def bulk_upload_errors(page: Page, env) -> None:
    """The bulk upload sent without a file."""
    page.goto("/bulk")
    page.get_by_role("button", name="Check the file").click()
    expect(page.locator(".error-summary")).to_be_focused()


@recipe("bulk-review", main=True)
def bulk_review(page: Page, env) -> None:
    """The review of an uploaded file: valid rows, rows with errors, duplicates."""
    page.goto("/bulk")
    page.get_by_label("CSV file").set_input_files(bulk_csv(MIXED_BULK_ROWS))
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the file before sending")


@recipe("bulk-progress", main=True)
def bulk_progress(page: Page, env) -> None:
    """The progress page of a confirmed file, once every row is done."""
    bulk_review(page, env)
    page.get_by_role("button", name=re.compile(r"^Send \d+ requests?$")).click()
    expect(page.get_by_role("heading", level=2, name="Progress")).to_be_visible()
    expect(page.locator("[data-field=remaining]")).to_have_text("0", timeout=30_000)


# -- sandbox trainer and administration ------------------------------------------------------


@recipe("trainer", main=True)
def trainer(page: Page, env) -> None:
    """The trainer's page for the sandbox: customers, settings, faults, seeding, reset."""
    page.goto("/sandbox")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Trainer")


@recipe("trainer-with-controls", user="trainer")
def trainer_with_controls(page: Page, env) -> None:
    """The trainer page for a trainer: switches, faults and the reset link."""
    page.goto("/sandbox")
    expect(page.get_by_role("button", name="Save settings")).to_be_visible()


@recipe("trainer-reset-confirm", user="trainer")
def trainer_reset_confirm(page: Page, env) -> None:
    """The question before a reset of the training sandbox (not answered here)."""
    page.goto("/sandbox")
    page.get_by_role("link", name="Reset the sandbox…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset the training sandbox?")


@recipe("admin-users", main=True, user="admin")
def admin_users(page: Page, env) -> None:
    """The list of people, for administrators."""
    page.goto("/admin/users")
    expect(page.get_by_role("table")).to_be_visible()


@recipe("admin-user-new-errors", user="admin")
def admin_user_new_errors(page: Page, env) -> None:
    """The new-person form sent empty."""
    page.goto("/admin/users/new")
    page.locator("main form").get_by_role("button").last.click()
    expect(page.locator(".error-summary")).to_be_focused()


@recipe("admin-audit", user="admin")
def admin_audit(page: Page, env) -> None:
    """The audit trail."""
    page.goto("/admin/audit")
    expect(page.get_by_role("table")).to_be_visible()


@recipe("admin-settings", user="admin")
def admin_settings(page: Page, env) -> None:
    """The read-only settings view (secrets masked)."""
    page.goto("/admin/settings")
    expect(page.get_by_role("heading", level=1)).to_be_visible()


# -- search by part, a submitter's own requests (issue 17) ----------------------------------


@recipe("history-search-part")
def history_search_part(page: Page, env) -> None:
    """History searched by a part of a foreign number typed with a space."""
    submit_request(page, {"Identifier value": "+86 139 1234 5678"})
    page.goto("/requests")
    page.get_by_label("Customer identifier").fill("1234 567")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("cell", name="8613912345678").first).to_be_visible()  # once per run of this recipe


@recipe("my-requests", server="real", main=True)
def my_requests(page: Page, env) -> None:
    """"My requests" with a decision that arrived since the last visit (the header's badge)."""
    env.gateway.control("POST", "settings", {"auto_approve": True})
    submit_request(page)
    page.goto("/requests")
    expect(page.locator(".nav-list .count-badge")).to_be_visible()
    page.get_by_role("link", name=re.compile(r"^My requests")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My requests")
    expect(page.get_by_text("New", exact=True).first).to_be_visible()
    expect(page.locator(".nav-list .count-badge")).to_have_count(0)
