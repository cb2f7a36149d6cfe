"""The status page's section for Capillary's support, in Chromium: the downstream request ID is copied."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_the_downstream_request_id_is_copied_with_one_click(open_state):
    page = open_state("status-approved")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    shown = page.locator("#downstream-request-id").inner_text()
    assert len(shown) == 36  # the sandbox's X-CAP-REQUEST-ID, a UUID
    page.get_by_role("button", name="Copy the ID").click()
    expect(page.locator("[data-copy-status]")).to_have_text("Copied the downstream request ID.")
    assert page.evaluate("navigator.clipboard.readText()") == shown


def test_without_javascript_there_is_no_copy_button_but_the_id_is_there(open_state):
    page = open_state("status-approved", java_script_enabled=False)
    expect(page.locator("#downstream-request-id")).to_be_visible()
    expect(page.get_by_role("button", name="Copy the ID")).to_be_hidden()
