"""Helpers the browser tests share: launching Debian's Chromium, axe checks, layout checks, forms."""

from __future__ import annotations

import re
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Playwright, expect

from tests.browser.servers import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = ROOT / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

# The three sizes the app must work at: phone, tablet, laptop.
VIEWPORTS = {"phone": (390, 844), "tablet": (768, 1024), "laptop": (1280, 800)}

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
_AXE = Axe()

FORM_VALUES = {
    "Till ID": "50682289",
    "Store ID": "50682288",
    "Zone ID": "50682286",
    "Concept ID": "50678331",
    "Identifier value": "9780375690",
    "Reason": "Suspected fraud at till 3",
}


def launch_chromium(playwright: Playwright) -> Browser:
    """Launch the system Chromium; Playwright never downloads a browser of its own here."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: install the Debian package 'chromium' (scripts/test does).")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def axe_violations(page: Page) -> list[dict]:
    """Run the bundled axe-core on the page as it is now; return its WCAG 2.1 A/AA violations."""
    results = _AXE.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]})
    return results.response["violations"]


def assert_accessible(page: Page, what: str) -> None:
    """Fail with a readable list when axe finds any WCAG 2.1 A/AA violation on ``page``."""
    violations = axe_violations(page)
    lines = [
        f"{v['id']} ({v['impact']}): {v['help']} -> " + ", ".join(str(n["target"]) for n in v["nodes"][:5])
        for v in violations
    ]
    assert not violations, f"axe found {len(violations)} WCAG 2.1 A/AA violation(s) on {what}:\n" + "\n".join(lines)


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when nothing scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


_PAST_THE_EDGE = """() => [...document.querySelectorAll("body *")]
    .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .filter(el => !el.closest(".table-wrap, pre"))
    .map(el => el.tagName.toLowerCase() + (el.className ? "." + el.className : "")
               + " «" + el.textContent.trim().slice(0, 40) + "»")"""


def elements_past_the_right_edge(page: Page) -> list[str]:
    """Elements that stick out past the window's right edge (outside their own scrolling box)."""
    return page.evaluate(_PAST_THE_EDGE)


def check_three_sizes(page: Page, name: str, *, axe_at_laptop: bool = True) -> None:
    """Screenshot ``page`` at phone, tablet and laptop size as ``<name>-<size>.png``; fail if it
    scrolls sideways, if anything sticks out past the right edge, or if axe finds a violation."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    for size, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=SCREENSHOTS / f"{name}-{size}-{width}x{height}.png", full_page=True)
        overflow = horizontal_overflow(page)
        if overflow > 0:
            problems.append(f"{width}x{height}: the page scrolls sideways by {overflow}px")
        past = elements_past_the_right_edge(page)
        if past:
            problems.append(f"{width}x{height}: past the right edge: {past[:5]}")
        if size != "laptop" or axe_at_laptop:
            # A re-flowed layout gets its own contrast, overlap and scrolling checks.
            assert_accessible(page, f"{name} at {width}x{height} ({page.url})")
    page.set_viewport_size({"width": 1280, "height": 800})
    assert problems == [], f"{name}: " + "; ".join(problems)


def fill_request_form(page: Page, values: dict[str, str] | None = None, label: str = "Suspended") -> None:
    """Fill the request form by its visible labels, as a person would."""
    for name, value in {**FORM_VALUES, **(values or {})}.items():
        page.get_by_label(name, exact=True).fill(value)
    page.get_by_label("New status label").select_option(label)


def review_request(page: Page, values: dict[str, str] | None = None) -> None:
    """Open the form (on the context's base URL), fill it and press "Check request"; end on the review page."""
    page.goto("/requests/new")
    fill_request_form(page, values)
    page.get_by_role("button", name="Check request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check before sending")


def submit_request(page: Page, values: dict[str, str] | None = None) -> int:
    """Fill, review and submit a request; end on its status page and return its id."""
    review_request(page, values)
    page.get_by_role("button", name="Submit request").click()
    page.wait_for_url(re.compile(r".*/requests/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def sign_in(page: Page, username: str = "agent", password: str | None = None, *, open_page: bool = True) -> None:
    """Sign in through the sign-in page, as a person would.

    Without ``password`` the user is one of the sandbox demo people, whose password is read
    from the table the sign-in page shows in sandbox mode. With ``open_page=False`` the page
    is already on the sign-in form (e.g. after a session ended) and stays on it.
    """
    if open_page:
        page.goto("/login")
    if password is None:
        demo_table = page.get_by_role("table", name="Demo sign-ins for the training sandbox")
        row = demo_table.get_by_role("row").filter(has=page.get_by_role("cell", name=username, exact=True))
        password = row.get_by_role("cell").nth(1).inner_text().strip()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".account-name")).to_contain_text("Signed in as")


# Signed-in browser state (cookies) per (app URL, username), reused by later tests so that not
# every test pays for a sign-in; the sign-in form itself is exercised by its own tests.
SIGNED_IN: dict[tuple[str, str], dict] = {}


def sign_out_and_in_again(other_tab: Page, username: str = "agent") -> None:
    """In ``other_tab`` (same browser, same cookies) sign out and back in, then close it.

    Pages already open in that browser now hold forms from the old session. Signing out ends
    every session of the person, so the remembered one is replaced by the new one.
    """
    other_tab.goto("/requests")
    other_tab.get_by_role("button", name="Sign out").click()
    expect(other_tab.get_by_role("heading", level=1)).to_have_text("Sign in")
    sign_in(other_tab, username, open_page=False)
    origin = re.match(r"https?://[^/]+", other_tab.url).group(0)
    SIGNED_IN[(origin, username)] = other_tab.context.storage_state()
    other_tab.close()


def bulk_csv(rows: list[list[str]]) -> dict:
    """A CSV upload for ``set_input_files``: the template's header, then ``rows``."""
    header = "tillId,storeId,zoneId,conceptId,identifierName,identifierValue,label,reason"
    lines = [header] + [",".join(row) for row in rows]
    return {"name": "customers.csv", "mimeType": "text/csv", "buffer": ("\n".join(lines) + "\n").encode()}


ENTITY = ["50682289", "50682288", "50682286", "50678331"]
# Four valid rows, one with two errors, one duplicate of the first.
MIXED_BULK_ROWS = [
    [*ENTITY, "mobile", "9780375690", "Suspended", "Fraud ring case 7"],
    [*ENTITY, "mobile", "9780375691", "Suspended", "Fraud ring case 7"],
    [*ENTITY, "email", "rohan.das@example.com", "Suspended", "Fraud ring case 7"],
    [*ENTITY, "externalId", "EXT-1002", "Active", "Cleared after review"],
    [*ENTITY, "mobile", "12", "Suspended", "x"],
    [*ENTITY, "mobile", "9780375690", "Suspended", "Fraud ring case 7"],
]


def watch_server_errors(page: Page) -> list[str]:
    """Collect every response of 500 or more that ``page`` receives (a list filled as it browses)."""
    seen: list[str] = []
    page.on("response", lambda response: seen.append(f"{response.status} {response.url}")
            if response.status >= 500 else None)
    return seen
