"""A refused form says which check failed: the log names Flask-WTF's reason with the request id,
and the page tells "this form expired" apart from "this address doesn't match the server's"
(with the proxy hint for administrators, plain words for everyone else)."""

from __future__ import annotations

import logging
import re
import uuid

import pytest

from tests.helpers import VALID_FORM, make_app, sign_in

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
HTTPS = "https://localhost"


@pytest.fixture
def csrf_app(tmp_path):
    return make_app(tmp_path, WTF_CSRF_ENABLED=True)


def signed_in(app, username: str):
    client = app.test_client()
    sign_in(client, username)
    return client


def post_form(client, *, referrer: str | None, token: bool = True, page: str = "/profile",
              action: str = "/profile/password", data: dict | None = None):
    """Post a form over HTTPS, as from a page whose address is ``referrer``."""
    html = client.get(page, base_url=HTTPS).get_data(as_text=True)
    data = dict(data or {"current": "x", "new": "y", "confirm": "y"})
    if token:
        data["csrf_token"] = TOKEN.search(html).group(1)
    headers = {"Referer": referrer} if referrer else {}
    return client.post(action, data=data, base_url=HTTPS, headers=headers,
                       environ_base={"HTTP_X_REQUEST_ID": "csrf-test-request-0001"})


def refusals(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("form refused by the CSRF check")]


def test_an_administrator_is_told_to_check_the_proxys_host_header(csrf_app, caplog):
    client = signed_in(csrf_app, "admin")
    with caplog.at_level(logging.WARNING):
        response = post_form(client, referrer="https://localhost:8443/profile")  # the Host lost its port
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "This address doesn&#39;t match the server&#39;s" in html
    assert "https://localhost:8443" in html and "https://localhost." in html
    assert "proxy_set_header Host $http_host" in html
    assert "csrf-test-request-0001" in html
    assert "This form expired" not in html
    [line] = refusals(caplog)
    assert "referrer does not match the host" in line and "request id csrf-test-request-0001" in line
    assert "the form came from https://localhost:8443, the app sees itself as https://localhost" in line


def test_everyone_else_gets_plain_words_and_a_reference(csrf_app, caplog):
    client = signed_in(csrf_app, "agent")
    with caplog.at_level(logging.WARNING):
        response = post_form(client, referrer="https://localhost:8443/profile")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "could not confirm that this form came from its own page" in html
    assert "csrf-test-request-0001" in html
    assert "proxy_set_header" not in html and "8443" not in html
    assert refusals(caplog)


def test_a_form_without_a_referrer_over_https_says_so(csrf_app, caplog):
    client = signed_in(csrf_app, "admin")
    with caplog.at_level(logging.WARNING):
        response = post_form(client, referrer=None)
    assert response.status_code == 400
    assert "The app could not tell which page this form came from" in response.get_data(as_text=True)
    assert "referrer missing" in refusals(caplog)[0]


def test_an_expired_form_still_says_expired_and_keeps_what_was_typed(csrf_app, caplog):
    client = signed_in(csrf_app, "agent")
    with caplog.at_level(logging.WARNING):
        response = post_form(client, referrer=HTTPS + "/requests/new", token=False, page="/requests/new",
                             action="/requests/new", data={**VALID_FORM, "submission_key": uuid.uuid4().hex})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "This form expired" in html
    assert "Suspected fraud at till 3" in html
    assert "doesn&#39;t match" not in html
    [line] = refusals(caplog)
    assert "token missing" in line and "request id csrf-test-request-0001" in line
