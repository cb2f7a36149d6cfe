"""Responsive layout and look: three window sizes (no sideways scrolling, axe again, screenshots), titles, badges."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.kit import check_three_sizes, submit_request
from tests.browser.pages import STATES

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("state", [name for name, s in STATES.items() if s.main])
def test_main_pages_fit_phone_tablet_and_laptop(open_state, state):
    page = open_state(state)
    # test_browser_a11y already checks every state at the laptop size.
    check_three_sizes(page, state, axe_at_laptop=False)


def test_the_header_and_nav_stay_usable_on_a_phone(new_page):
    page = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto("/requests/new")
    nav = page.get_by_role("navigation", name="Main")
    for name in ("New request", "History"):
        link = nav.get_by_role("link", name=name, exact=True)
        expect(link).to_be_in_viewport()
        box = link.bounding_box()
        assert box["height"] >= 24, f"{name} is a {box['height']}px tall target"
    expect(nav.get_by_role("link", name="New request")).to_have_attribute("aria-current", "page")


def test_every_page_title_says_where_you_are(page):
    titles = {}
    page.goto("/requests/new")
    titles["form"] = page.title()
    page.get_by_role("button", name="Check request").click()
    titles["form with errors"] = page.title()
    number = submit_request(page)
    titles["status"] = page.title()
    page.goto("/requests")
    titles["history"] = page.title()
    page.goto("/nowhere")
    titles["not found"] = page.title()

    assert titles["form"] == "New status change request · Customer status requests"
    assert titles["form with errors"] == "Error: New status change request · Customer status requests"
    assert titles["status"] == f"Request {number}: Waiting for approval · Customer status requests"
    assert titles["history"] == "Request history · Customer status requests"
    assert titles["not found"] == "Page not found · Customer status requests"
    assert len(set(titles.values())) == len(titles)


def test_favicon_is_linked_and_served(page, app_server):
    page.goto("/requests/new")
    href = page.locator("link[rel=icon]").get_attribute("href")
    response = requests.get(app_server.url + href, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("image/svg+xml")
    assert "<svg" in response.text


def test_state_badges_carry_text_and_distinct_colours(new_page, gateway):
    page = new_page(server="real")
    looks = {}
    gateway.control("POST", "faults", {"kind": "503", "endpoint": "create"})
    submit_request(page)
    submit_request(page)
    gateway.control("POST", "settings", {"auto_approve": True})
    submit_request(page)
    page.goto("/requests")
    for text in ("Not submitted", "Waiting for approval", "Approved"):
        badge = page.locator("td .badge", has_text=re.compile(f"^{text}$")).first
        expect(badge).to_be_visible()
        looks[text] = badge.evaluate("b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]")
    # Text says the state; colour only reinforces it, and each tone looks different.
    assert len({tuple(v) for v in looks.values()}) == 3, looks
