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
    checker.keyboard.press("x")  # ticks the row for one decision on many
    expect(first_row.locator("input[name=pk]")).to_be_checked()
    checker.keyboard.press("x")
    expect(first_row.locator("input[name=pk]")).not_to_be_checked()
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
    new_page("checker")  # signs in (the sign-in helper reads the English demo table)
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


def _bulk_file_of(page: Page, count: int, tag: str) -> int:
    """The demo agent sends a bulk file of ``count`` new requests; return the file's number once all are sent."""
    from tests.browser.kit import ENTITY, bulk_csv

    rows = [[*ENTITY, "externalId", f"EXT-{tag}-{n}", "Suspended", f"Queue test {tag}"] for n in range(count)]
    page.goto("/bulk")
    page.get_by_label("CSV file").set_input_files(bulk_csv(rows))
    page.get_by_role("button", name="Check the file").click()
    page.get_by_role("button", name=re.compile(r"^Send \d+ requests?$")).click()
    expect(page.locator("[data-field=remaining]")).to_have_text("0", timeout=60_000)
    return int(re.search(r"/bulk/(\d+)", page.url).group(1))


def test_a_checker_decides_20_queued_requests_with_one_message_in_under_10_actions(new_page):
    import uuid

    number = _bulk_file_of(new_page("agent"), 20, uuid.uuid4().hex[:8])
    checker: Page = new_page("checker")
    actions = 0

    def act(step):
        nonlocal actions
        actions += 1
        step()

    act(lambda: checker.goto(f"/approvals?batch={number}&sort=file"))
    act(lambda: checker.get_by_label(f"The whole file #{number}: all 20 requests of it waiting").check())
    act(lambda: checker.get_by_role("group", name="Decision").get_by_label(
        "Approve: Capillary then changes the customer's status").check())
    act(lambda: checker.get_by_label("Message to the maker").fill(MESSAGE))
    act(lambda: checker.get_by_role("button", name="Continue to the confirmation").click())
    expect(checker.get_by_role("heading", level=1)).to_have_text("Approve 20 requests?")
    expect(checker.locator("main table tbody tr")).to_have_count(20)
    act(lambda: checker.get_by_role("button", name="Yes, approve 20 requests").click())
    expect(checker.locator("#run-count")).to_have_text(re.compile(r"^20 of 20 requests finished\."), timeout=60_000)
    # Capillary took each decision (these made-up customers then fail to change: "failed").
    expect(checker.get_by_text(re.compile(r"^Approved\. Capillary now shows the request as"))).to_have_count(20)
    assert actions < 10
    from tests.browser.kit import assert_accessible

    assert_accessible(checker, "a finished decision on many requests")


def test_makers_and_agents_see_no_decision_controls(new_page):
    agent = new_page("agent")
    number = submit_request(agent, {"Reason": "No controls for makers"})  # in the demo maker's store
    maker = new_page("maker")
    maker.goto(f"/requests/{number}")
    expect(maker.locator("#state-heading .badge")).to_have_text("Waiting for approval")
    expect(maker.get_by_role("link", name="Approve or reject…")).to_have_count(0)
    expect(agent.locator("#state-heading .badge")).to_have_text("Waiting for approval")
    expect(agent.get_by_role("link", name="Approve or reject…")).to_have_count(0)
    checker = new_page("checker")
    checker.goto(f"/requests/{number}")
    expect(checker.get_by_role("link", name="Approve or reject…")).to_have_count(1)


def test_trainer_controls_are_refused_to_makers(new_page):
    maker = new_page("maker")
    maker.goto("/sandbox")
    expect(maker.get_by_text("Only an administrator or a trainer can change how the sandbox behaves")).to_be_visible()
    expect(maker.get_by_role("button", name="Save settings")).to_have_count(0)
    expect(maker.get_by_role("link", name="Reset the sandbox…")).to_have_count(0)
    answer = maker.goto("/sandbox/reset")
    assert answer.status == 403
    expect(maker.locator("main")).to_contain_text("needs the administrator or trainer role")


def test_one_decision_for_many_in_spanish_passes_axe(new_page):
    from babel.support import Translations

    from tests.browser.kit import assert_accessible
    from tests.browser.servers import ROOT

    es = Translations.load(str(ROOT / "translations"), ["es"])
    agent = new_page("agent")
    first, second = submit_request(agent), submit_request(agent)
    new_page("checker")  # signs in (the sign-in helper reads the English demo table)
    checker: Page = new_page("checker", locale="es-ES")
    checker.goto("/approvals?sort=newest")
    if checker.locator("html").get_attribute("lang") != "es":
        checker.get_by_role("contentinfo").get_by_role("button", name="Español").click()
    expect(checker.locator("html")).to_have_attribute("lang", "es")
    for number in (first, second):
        checker.get_by_label(es.gettext("Choose request %(id)s") % {"id": number}, exact=True).check()
    checker.get_by_role("group", name=es.gettext("Decision")).get_by_label(
        es.gettext("Reject: the customer's status stays as it is")).check()
    checker.get_by_label(es.gettext("Message to the maker")).fill("Sin pruebas suficientes.")
    checker.get_by_role("button", name=es.gettext("Continue to the confirmation")).click()
    expect(checker.get_by_role("heading", level=1)).to_have_text(
        es.ngettext("Reject %(num)s request?", "Reject %(num)s requests?", 2) % {"num": 2})
    assert_accessible(checker, "the confirmation of one decision for many, in Spanish")
    checker.get_by_role("button", name=es.ngettext("Yes, reject %(num)s request", "Yes, reject %(num)s requests",
                                                   2) % {"num": 2}).click()
    done = es.ngettext("%(done)s of %(num)s request finished.", "%(done)s of %(num)s requests finished.", 2)
    expect(checker.locator("#run-count")).to_have_text(re.compile("^" + re.escape(done % {"done": 2, "num": 2})),
                                                       timeout=30_000)
    assert_accessible(checker, "the results of one decision for many, in Spanish")
