"""WCAG 2.1 A/AA in the browser: axe-core (bundled, no network) on every page in every state."""

from __future__ import annotations

import pytest

from tests.browser.kit import assert_accessible
from tests.browser.pages import STATES

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("state", list(STATES))
def test_no_wcag_violations(open_state, state):
    # At 1280x800; test_browser_layout checks the main pages again at phone and tablet sizes.
    page = open_state(state)
    assert_accessible(page, f"{state} ({page.url})")


def test_the_axe_check_itself_catches_violations(page):
    # Guards against a silently idle checker: break the real form and axe must say so.
    page.goto("/requests/new")
    page.evaluate("""() => {
        document.querySelector("label[for=tillId]").remove();
        document.querySelector(".lead").style.color = "#cccccc";
    }""")
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page, "the broken form")
    assert "label" in str(failure.value)
    assert "color-contrast" in str(failure.value)
