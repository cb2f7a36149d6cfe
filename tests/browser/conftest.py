"""Fixtures for the browser suite: real server processes, one Chromium, a context per test.

- ``app_server``: the app in sandbox mode (embedded gateway) on its own SQLite file, CSRF on.
- ``gateway``: the standalone sandbox gateway (``flask --app sandbox run``), controllable over
  its ``/_sandbox/`` JSON endpoints, and stoppable to play "the gateway is down".
- ``real_app_server``: a second app process in real mode, pointed at ``gateway``.
- ``new_context`` / ``page``: browser contexts with tracing; on failure the trace and a
  screenshot of every open page go to ``artifacts/failures/<test>/``.
"""

from __future__ import annotations

import re
import secrets
import shutil
from types import SimpleNamespace

import pytest
import requests
from cryptography.fernet import Fernet
from playwright.sync_api import expect, sync_playwright

from tests.browser.kit import ARTIFACTS, SIGNED_IN, launch_chromium, sign_in
from tests.browser.servers import ROOT, ServerProcess, base_environment

# Machines running this are shared and busy: wait longer than Playwright's 5 s for a page to
# reach the expected state (an assertion still fails when it never does).
expect.set_options(timeout=10_000)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def server_dir(tmp_path_factory):
    """Where the servers keep their databases and logs for this run."""
    return tmp_path_factory.mktemp("browser-servers")


def _app_environment(server_dir, name: str, **settings: str) -> dict[str, str]:
    # The shared servers submit the same customer test after test, so the review page's duplicate
    # check would ask for a tick every time: the customer look-up is on only where a test says so
    # (tests/browser/test_browser_customer.py runs a server of its own with it on).
    settings.setdefault("CAP_CUSTOMER_LOOKUP", "off")
    return base_environment(
        DATABASE_URL=f"sqlite:///{server_dir / (name + '.sqlite3')}",
        SECRET_KEY=secrets.token_urlsafe(32),
        CAP_TOKEN_KEY=Fernet.generate_key().decode(),
        # Every test signs in through the form: the anti-automation limit would stop the suite.
        CAP_LOGIN_RATE_LIMIT="10000 per minute",
        CAP_LOGIN_ACCOUNT_RATE_LIMIT="10000 per minute",
        # Status pages poll every second and may ask the gateway each time, so a decision made
        # in another browser shows within a moment (the defaults are 10 s and 5 s).
        CAP_STATUS_POLL_SECONDS="1",
        CAP_STATUS_MIN_REFRESH_SECONDS="0",
        **settings,
    )


def _start_app(server: ServerProcess, *setup: tuple[tuple[str, ...], str | None]) -> ServerProcess:
    """Migrate the app's database, start it, then run ``setup`` CLI commands ``(args, stdin)``.

    If anything fails after the start, the server is stopped before the error goes up.
    """
    if (ROOT / "migrations").is_dir():
        server.flask("db", "upgrade")  # a migrated schema, as a deployment has
    server.start()
    try:
        for args, stdin in setup:
            server.flask(*args, stdin=stdin)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def app_server(server_dir):
    """The app in sandbox mode, served by its own process."""
    server = ServerProcess(
        "app-sandbox-mode", "app", _app_environment(server_dir, "sandbox-mode", CAP_GATEWAY_URL="sandbox"), server_dir
    )
    _start_app(server)
    yield server
    server.stop()


class Gateway(ServerProcess):
    """The standalone sandbox gateway with helpers for its JSON controls."""

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        """Call a ``/_sandbox/`` control endpoint and return its JSON answer."""
        response = requests.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=5)
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def _gateway_process(server_dir):
    gateway = Gateway("gateway", "sandbox", base_environment(SANDBOX_STALL_SECONDS="3"), server_dir,
                      ready_path="/_sandbox/state")
    gateway.start()
    yield gateway
    gateway.stop()


@pytest.fixture
def gateway(_gateway_process):
    """The standalone sandbox, running and reset (no faults, no auto-approval) for this test."""
    if _gateway_process.process is None:  # an earlier test stopped it
        _gateway_process.start()
    _gateway_process.control("POST", "reset")
    yield _gateway_process
    if _gateway_process.process is None:
        _gateway_process.start()


# The people made with ``flask users create`` in the real-mode app: username -> (role, password).
REAL_MODE_PEOPLE = {"agent": ("agent", "long walk to the till"), "checker": ("checker", "second look at the ledger")}


@pytest.fixture(scope="session")
def real_app_server(server_dir, _gateway_process):
    """The app in real mode, talking HTTP to the standalone sandbox like to a Capillary cluster."""
    env = _app_environment(
        server_dir, "real-mode",
        CAP_GATEWAY_URL=_gateway_process.url,
        CAP_ORG_ID="100",
        CAP_UI_AUTH_TOKEN="browser-maker-token",
        CAP_CHECKER_UI_AUTH_TOKEN="browser-checker-token",
        CAP_INTOUCH_HOST="https://intouch.example.invalid",
        CAP_INTOUCH_USERNAME="browser.till",
        CAP_INTOUCH_PASSWORD="browser-till-password",
        CAP_CONNECT_TIMEOUT="2",
        CAP_READ_TIMEOUT="3",
    )
    server = ServerProcess("app-real-mode", "app", env, server_dir)
    _start_app(server, *(  # real mode seeds nobody
        (("users", "create", username, "--role", role, "--password-stdin"), password + "\n")
        for username, (role, password) in REAL_MODE_PEOPLE.items()
    ))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """One headless Debian Chromium for the whole run."""
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid.split("::", 1)[-1])[:120]


@pytest.fixture
def new_context(request, browser, app_server):
    """Make browser contexts (separate cookie jars: separate people) for this test.

    ``new_context(base_url=None, **options)`` defaults to the sandbox-mode app and a
    1280×800 window. Every context is traced; the trace is kept only when the test fails.
    """
    contexts = []

    def make(base_url: str | None = None, **options):
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(base_url=base_url or app_server.url, **options)
        context.set_default_timeout(10_000)
        context.tracing.start(snapshots=True)
        contexts.append(context)
        return context

    yield make

    failed = any(getattr(request.node, f"rep_{when}", None) and getattr(request.node, f"rep_{when}").failed
                 for when in ("setup", "call"))
    folder = ARTIFACTS / "failures" / _artifact_name(request.node.nodeid)
    if failed:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
    for number, context in enumerate(contexts, 1):
        if not context.browser or context not in context.browser.contexts:
            continue  # the test closed it itself
        if failed:
            for page_number, page in enumerate(context.pages, 1):
                try:
                    page.screenshot(path=folder / f"context{number}-page{page_number}.png", full_page=True)
                except Exception:  # noqa: BLE001, S110 - a crashed page must not hide the real failure
                    pass
            context.tracing.stop(path=folder / f"context{number}-trace.zip")
        else:
            context.tracing.stop()
        context.close()


@pytest.fixture
def new_page(request, new_context, app_server):
    """Open pages for people: ``new_page(user="agent", server="sandbox", **context_options)``.

    Each call is a new context (its own cookies: another person) with one page, signed in as
    ``user`` (None: not signed in) on the sandbox-mode app or, with ``server="real"``, on the
    real-mode app against the standalone sandbox. The first page for a person signs in through
    the form; later ones start from that signed-in state.
    """

    def make(user: str | None = "agent", server: str = "sandbox", **context_options):
        base_url, password = app_server.url, None
        if server == "real":
            base_url = request.getfixturevalue("real_app_server").url
            password = REAL_MODE_PEOPLE[user][1] if user else None
        remembered = SIGNED_IN.get((base_url, user)) if user else None
        if remembered:
            page = new_context(base_url=base_url, storage_state=remembered, **context_options).new_page()
            page.goto("/")  # where signing in leaves a person: their first page
            return page
        page = new_context(base_url=base_url, **context_options).new_page()
        if user:
            sign_in(page, user, password)
            SIGNED_IN[(base_url, user)] = page.context.storage_state()
        return page

    return make


@pytest.fixture
def page(new_page):
    """A fresh page in a fresh context on the sandbox-mode app, signed in as the demo support agent."""
    return new_page()


@pytest.fixture
def open_state(request, new_page):
    """Open a page state from :mod:`tests.browser.pages` for its person; return the page."""
    from tests.browser.pages import STATES

    def open_page(name: str, **context_options):
        state = STATES[name]
        env = SimpleNamespace(
            gateway=request.getfixturevalue("gateway") if state.server == "real" else None,
            person=lambda user: new_page(user, state.server),
        )
        page = new_page(state.user, state.server, **context_options)
        state.open(page, env)
        return page

    return open_page
