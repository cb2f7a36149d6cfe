"""The idle-timeout warning in Chromium (WCAG 2.2.1): it appears, "Stay signed in" extends, no answer signs out.

A separate app process with a one-minute idle timeout and a 55-second warning, so the warning
comes five seconds after a page loads.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import _app_environment, _start_app
from tests.browser.kit import sign_in
from tests.browser.servers import ServerProcess

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def short_session_server(server_dir):
    """The sandbox-mode app with a one-minute idle timeout."""
    env = _app_environment(server_dir, "short-session", CAP_GATEWAY_URL="sandbox",
                           CAP_IDLE_TIMEOUT_MINUTES="1", CAP_IDLE_WARNING_SECONDS="55")
    server = ServerProcess("app-short-session", "app", env, server_dir)
    _start_app(server)
    yield server
    server.stop()


def test_the_idle_warning_lets_people_stay_and_otherwise_signs_them_out(new_context, short_session_server):
    page = new_context(base_url=short_session_server.url).new_page()
    sign_in(page, "agent")
    page.goto("/profile")
    warning = page.get_by_role("alertdialog", name="You will be signed out soon")
    expect(warning).to_be_hidden()
    expect(warning).to_be_visible(timeout=20_000)
    expect(warning).to_be_focused()  # announced and reachable from the keyboard at once
    expect(warning).to_contain_text("second")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Stay signed in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(warning).to_be_hidden()
    left = page.request.get("/session/status", headers={"Accept": "application/json"}).json()["secondsLeft"]
    assert left >= 45  # the server's idle clock restarted, not just the page's
    # Nobody answers the next warning: the page goes to the sign-in page, which says why.
    expect(warning).to_be_visible(timeout=20_000)
    expect(page).to_have_url(re.compile(r"/login\?reason=idle"), timeout=90_000)
    expect(page.get_by_text("no activity for a while")).to_be_visible()
    page.goto("/profile")
    expect(page).to_have_url(re.compile(r"/login"))
