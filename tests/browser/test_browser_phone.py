"""The phone layout (issue 17 item 9) at 390×844 with touch: radio and label on one line, tap
targets at least 44×44 px, the Spanish sort choice not clipped; axe clean in both languages.
And the submit state (item 6): "Sending to Capillary…" shown and announced while Capillary answers."""

from __future__ import annotations

import re

import pytest
from babel.support import Translations
from playwright.sync_api import Locator, Page, expect

from tests.browser.kit import assert_accessible, review_request, submit_request
from tests.browser.servers import ROOT

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SPANISH = Translations.load(str(ROOT / "translations"), ["es"])
MIN_TARGET = 44


def _box(locator: Locator) -> dict:
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not shown"
    return box


def _assert_tap_target(locator: Locator, what: str) -> None:
    box = _box(locator)
    assert box["width"] >= MIN_TARGET and box["height"] >= MIN_TARGET, (
        f"{what} is a {box['width']:.0f}×{box['height']:.0f} px target")


def _assert_on_one_line(radio: Locator, label: Locator, what: str) -> None:
    """The radio sits beside the start of its label: same row, label to its right."""
    button, words = _box(radio), _box(label)
    middle = button["y"] + button["height"] / 2
    assert words["x"] >= button["x"] + button["width"] - 1, f"{what}: the label is not beside the radio"
    assert words["y"] <= middle <= words["y"] + words["height"], (
        f"{what}: the radio (middle at {middle:.0f}) is not on the label's first line ({words})")


def _phone(new_page, user: str, language: str) -> Page:
    """A phone page for ``user`` whose browser asks for ``language`` (signed in on a laptop first:
    the sign-in helper reads the demo table's laptop layout)."""
    new_page(user)
    return new_page(user, locale={"en": "en-GB", "es": "es-ES"}[language], **PHONE)


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_decide_page_and_the_queue_work_on_a_phone(new_page, language):
    waiting = submit_request(new_page("agent"))
    page = _phone(new_page, "checker", language)
    t = SPANISH.gettext if language == "es" else (lambda text: text)

    page.goto("/approvals")
    expect(page.locator("html")).to_have_attribute("lang", language)
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=str(waiting), exact=True))
    for link in row.locator("a[href*='decision=']").all():
        _assert_tap_target(link, f"the queue's {link.inner_text()!r} link")
    assert_accessible(page, f"the queue on a phone ({language})")

    page.goto(f"/approvals/{waiting}")
    for option in page.locator(".checkbox:has(input[type=radio])").all():
        radio, label = option.locator("input[type=radio]"), option.locator("label")
        _assert_on_one_line(radio, label, f"decision {label.inner_text()!r}")
        _assert_tap_target(label, f"the label {label.inner_text()!r}")
    _assert_tap_target(page.get_by_role("button", name=t("Continue")), "the Continue button")
    _assert_tap_target(page.locator(".actions a"), "the Cancel link")
    assert_accessible(page, f"the decide page on a phone ({language})")


@pytest.mark.parametrize("width", [390, 768, 1280])
def test_the_spanish_sort_choice_is_not_clipped(new_page, width):
    page = _phone(new_page, "agent", "es")
    page.set_viewport_size({"width": width, "height": 844})
    page.goto("/requests")
    panel = page.locator("details.filters-panel")
    if panel.get_attribute("open") is None:  # folded on a phone: open it as a person would
        panel.locator("summary").click()
    sort = page.get_by_label(SPANISH.gettext("Sort"), exact=True)
    expect(sort).to_be_visible()
    for text in (SPANISH.gettext("Newest first"), SPANISH.gettext("Oldest first")):
        sort.select_option(label=text)
        # The chosen text's width in the select's own font, against the room inside it
        # (its width less padding and the drop-down arrow).
        room, needed = sort.evaluate("""select => {
            const style = getComputedStyle(select);
            const context = document.createElement("canvas").getContext("2d");
            context.font = style.font;
            const text = select.options[select.selectedIndex].text;
            const inner = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
            return [inner - 24, context.measureText(text).width];
        }""")
        assert needed <= room, f"«{text}» needs {needed:.0f} px; the sort box has {room:.0f} at {width} px"
    if width == 390:
        assert_accessible(page, "the Spanish history on a phone")


def test_a_slow_submit_shows_and_announces_sending_to_capillary(new_page, gateway):
    page = new_page(server="real")
    gateway.control("POST", "settings", {"latency_ms": 2000})  # within the app's 3 s read timeout
    review_request(page)
    status = page.locator("[data-sending-status]")
    expect(status).to_have_attribute("role", "status")  # a live region, present before it speaks
    expect(status).to_have_text("")
    # What the live region says while the answer is awaited, noted as it happens (the page is
    # navigating then, so it is read back from localStorage afterwards).
    page.evaluate("""() => {
        const status = document.querySelector("[data-sending-status]");
        new MutationObserver(() => localStorage.setItem("said", JSON.stringify(
            {text: status.textContent, shown: status.offsetHeight > 0}))
        ).observe(status, {childList: true, characterData: true, subtree: true});
    }""")
    page.get_by_role("button", name="Submit request").click()
    page.wait_for_url(re.compile(r".*/requests/\d+$"))
    expect(page.locator("#state-heading .badge")).to_have_text("Waiting for approval")
    said = page.evaluate("() => JSON.parse(localStorage.getItem('said'))")
    assert said["shown"] and said["text"].startswith("Sending to Capillary…"), said


def test_going_back_to_edit_does_not_say_sending(new_page):
    page = new_page()
    review_request(page)
    page.get_by_role("button", name="Edit", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request a customer status change")
    expect(page.locator("[data-sending-status]")).to_have_count(0)
