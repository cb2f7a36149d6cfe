"""Through nginx over HTTPS with the shipped site file (deploy/nginx), as README's Production
section sets it up: gunicorn with gunicorn.conf.py, real mode against the standalone sandbox
gateway, ``CAP_PROXY_FIX=1``, a self-signed certificate, nginx on a free high port.

The port matters: a site passing ``Host $host`` drops it, the app's HTTPS referrer check then
refuses every form, and signing in fails. This flow signs in, submits, approves and sends a
bulk file through the proxy, so that break cannot come back unnoticed.
"""

from __future__ import annotations

import re
import socket
import ssl

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import REAL_MODE_PEOPLE, _app_environment
from tests.browser.kit import bulk_csv, sign_in, submit_request, watch_server_errors
from tests.deploy_servers import GunicornProcess, NginxProcess

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def proxied(server_dir, _gateway_process):
    """gunicorn behind nginx, both started as a deployment would run them; yields the nginx process."""
    env = _app_environment(
        server_dir, "behind-nginx",
        CAP_GATEWAY_URL=_gateway_process.url, CAP_ORG_ID="100",
        CAP_UI_AUTH_TOKEN="nginx-maker-token", CAP_CHECKER_UI_AUTH_TOKEN="nginx-checker-token",
        CAP_INTOUCH_HOST="https://intouch.example.invalid",
        CAP_INTOUCH_USERNAME="nginx.till", CAP_INTOUCH_PASSWORD="nginx-till-password",
        CAP_PROXY_FIX="1", CAP_SYNC_INTERVAL_SECONDS="0",
    )
    app = GunicornProcess("gunicorn-behind-nginx", env, server_dir, workers=1, threads=4)
    app.flask("db", "upgrade")
    for username, (role, password) in REAL_MODE_PEOPLE.items():
        app.flask("users", "create", username, "--role", role, "--password-stdin", stdin=password + "\n")
    app.start()
    nginx = NginxProcess(server_dir / "nginx", upstream=app.url)
    try:
        checked = nginx.test_config()
        assert checked.returncode == 0, checked.stderr
        nginx.start()
        yield nginx
    finally:
        nginx.stop()
        app.stop()


def test_sign_in_submit_approve_and_a_bulk_file_through_nginx_over_https(new_context, proxied, gateway):
    # `gateway`: the standalone sandbox reset for this test (no auto-approval left by an earlier one).
    agent_page = new_context(base_url=proxied.url, ignore_https_errors=True).new_page()
    errors = watch_server_errors(agent_page)
    sign_in(agent_page, "agent", REAL_MODE_PEOPLE["agent"][1])  # the POST the Host-header break refused
    number = submit_request(agent_page, {"Reason": "Through the proxy"})
    expect(agent_page.locator("#state-heading .badge")).to_have_text("Waiting for approval")

    checker = new_context(base_url=proxied.url, ignore_https_errors=True).new_page()
    sign_in(checker, "checker", REAL_MODE_PEOPLE["checker"][1])
    checker.goto("/approvals")
    row = checker.get_by_role("row").filter(has=checker.get_by_role("link", name=str(number), exact=True))
    row.get_by_role("link", name=re.compile(rf"^Approve request {number}\b")).click()
    checker.get_by_label("Message").fill("Approved through nginx.")
    checker.get_by_role("button", name="Continue").click()
    checker.get_by_role("button", name="Yes, approve it").click()
    expect(checker.locator(".flashes")).to_contain_text(f"Request {number}: Approved.")  # on to the next one
    checker.goto(f"/requests/{number}")
    expect(checker.locator("#state-heading .badge")).to_have_text("Approved")

    agent_page.goto("/bulk")
    entity = ["50682289", "50682288", "50682286", "50678331"]
    agent_page.get_by_label("CSV file").set_input_files(bulk_csv([
        [*entity, "mobile", "9780375601", "Suspended", "Bulk through the proxy"],
        [*entity, "mobile", "9780375602", "Suspended", "Bulk through the proxy"],
    ]))
    agent_page.get_by_role("button", name="Check the file").click()
    agent_page.get_by_role("button", name="Send 2 requests").click()
    expect(agent_page.locator("[data-field=created]")).to_have_text("2", timeout=30_000)
    expect(agent_page.locator("[data-field=timeLeft]")).to_have_text("Nothing left to send")
    assert errors == []


def test_the_site_speaks_tls_1_3_redirects_port_80_and_hides_its_version(proxied):
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    with socket.create_connection(("127.0.0.1", proxied.https_port), timeout=5) as raw, \
            context.wrap_socket(raw) as tls:
        assert tls.version() == "TLSv1.3"

    answer = requests.get(proxied.url + "/healthz", verify=proxied.certificate, timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Server"] == "nginx"  # no version number
    # nginx's request id reaches the app, which logs it and sends it back.
    assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-ID"])

    plain = requests.get(f"http://127.0.0.1:{proxied.http_port}/requests?page=2", allow_redirects=False, timeout=5)
    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://127.0.0.1/requests?page=2"
    assert requests.get(proxied.url + "/metrics", verify=proxied.certificate, timeout=5).status_code == 404
