"""Build the app's gateway client from settings: the embedded sandbox or a real cluster.

The gateway credentials (``CAP_GATEWAY_AUTH``: Basic or OAuth, docs/CAPILLARY_API.md §7.2, §7.3)
are built once per app and go on every gateway call, in sandbox mode too: the embedded sandbox is
then given the same credentials and checks them as Capillary would.
"""

from __future__ import annotations

import logging

import requests
from flask import Flask, current_app
from requests.auth import AuthBase

from gateway.auth import GatewayBasicAuth, GatewayOAuth
from gateway.client import GatewayClient
from gateway.customers import CustomerCache, CustomerClient
from gateway.payload import intouch_basic_authorization

log = logging.getLogger(__name__)

OAUTH_TOKEN_PATH = "/v3/oauth/token/generate"  # noqa: S105 - a URL path (§7.3), not a secret


def init_app(app: Flask) -> None:
    """Create the gateway client (and, in sandbox mode, the embedded sandbox) for ``app``."""
    config = app.config
    timeout = (config["CAP_CONNECT_TIMEOUT"], config["CAP_READ_TIMEOUT"])
    if config["SANDBOX_MODE"]:
        # Imported here so a real deployment never loads the sandbox.
        from sandbox import create_app as create_sandbox_app
        from sandbox.transport import SANDBOX_BASE_URL, mount_sandbox

        sandbox_app = app.extensions.get("sandbox_app") or create_sandbox_app(
            {"SANDBOX_LATENCY_MS": config.get("SANDBOX_LATENCY_MS", 0), **_sandbox_credentials(config)}
        )
        app.extensions["sandbox_app"] = sandbox_app
        token_session = requests.Session()
        mount_sandbox(token_session, sandbox_app)
        auth = _gateway_auth(config, SANDBOX_BASE_URL + OAUTH_TOKEN_PATH, token_session)
        client = GatewayClient(
            SANDBOX_BASE_URL,
            config["CAP_ORG_ID"],
            timeout=timeout,
            deadline=config["CAP_CALL_DEADLINE"],
            auth=auth,
            mount=lambda session: mount_sandbox(session, sandbox_app),
        )
    else:
        token_url = config["CAP_OAUTH_TOKEN_URL"] or config["CAP_INTOUCH_HOST"] + OAUTH_TOKEN_PATH
        auth = _gateway_auth(config, token_url)
        client = GatewayClient(config["CAP_GATEWAY_URL"], config["CAP_ORG_ID"], timeout=timeout,
                               deadline=config["CAP_CALL_DEADLINE"], auth=auth)
    app.extensions["gateway_auth"] = auth
    app.extensions["gateway_client"] = client
    app.extensions["customer_client"] = _customer_client(app, timeout)


def _customer_client(app: Flask, timeout: tuple[float, float]) -> CustomerClient:
    """The customer look-up client (§10): the Intouch host with the till credentials, a short cache."""
    config = app.config
    till_authorization = config["CAP_INTOUCH_AUTHORIZATION"] or intouch_basic_authorization(
        config["CAP_INTOUCH_USERNAME"], config["CAP_INTOUCH_PASSWORD"])
    redis = None
    if config["REDIS_URL"]:
        from redis import Redis

        redis = Redis.from_url(config["REDIS_URL"], socket_timeout=1, socket_connect_timeout=1)
    cache = CustomerCache(config["CAP_CUSTOMER_CACHE_SECONDS"], redis, config["REDIS_KEY_PREFIX"])
    if config["SANDBOX_MODE"]:
        from sandbox.transport import SANDBOX_BASE_URL, mount_sandbox

        sandbox_app = app.extensions["sandbox_app"]
        return CustomerClient(SANDBOX_BASE_URL, lambda: till_authorization, timeout=timeout, cache=cache,
                              mount=lambda session: mount_sandbox(session, sandbox_app))
    base_url = config["CAP_CUSTOMER_API_URL"] or config["CAP_INTOUCH_HOST"]
    return CustomerClient(base_url, lambda: till_authorization, timeout=timeout, cache=cache)


def _gateway_auth(config, token_url: str, token_session: requests.Session | None = None) -> AuthBase | None:
    if config["CAP_GATEWAY_AUTH"] == "basic":
        return GatewayBasicAuth(config["CAP_GATEWAY_USERNAME"], config["CAP_GATEWAY_PASSWORD"])
    if config["CAP_GATEWAY_AUTH"] == "oauth":
        timeout = (config["CAP_CONNECT_TIMEOUT"], config["CAP_READ_TIMEOUT"])
        return GatewayOAuth(token_url, config["CAP_OAUTH_KEY"], config["CAP_OAUTH_SECRET"], timeout,
                            header_name=config["CAP_OAUTH_HEADER"], session=token_session,
                            deadline=config["CAP_CALL_DEADLINE"])
    return None


def _sandbox_credentials(config) -> dict:
    """The embedded sandbox checks the gateway credentials the app is configured to send."""
    if config["CAP_GATEWAY_AUTH"] == "basic":
        return {"SANDBOX_GATEWAY_USERNAME": config["CAP_GATEWAY_USERNAME"],
                "SANDBOX_GATEWAY_PASSWORD": config["CAP_GATEWAY_PASSWORD"]}
    if config["CAP_GATEWAY_AUTH"] == "oauth":
        return {"SANDBOX_OAUTH_KEY": config["CAP_OAUTH_KEY"], "SANDBOX_OAUTH_SECRET": config["CAP_OAUTH_SECRET"]}
    return {}


def gateway_auth_warning(config) -> str | None:
    """Say why the gateway credentials look wrong for a real cluster, or None when they look right."""
    if config["SANDBOX_MODE"] or config["CAP_GATEWAY_AUTH"] != "none":
        return None
    return ("CAP_GATEWAY_AUTH is none: Capillary documents Basic or OAuth as required on every "
            "request-workflow call. Set CAP_GATEWAY_USERNAME and CAP_GATEWAY_PASSWORD (Basic) or "
            "CAP_OAUTH_KEY and CAP_OAUTH_SECRET (OAuth).")


def log_start_up_warnings(app: Flask) -> None:
    """Log, once at start-up, what in the gateway settings looks wrong (no secret is named by value)."""
    warning = gateway_auth_warning(app.config)
    if warning:
        log.warning(warning)


def gateway_client() -> GatewayClient:
    """Return the current app's gateway client."""
    return current_app.extensions["gateway_client"]


def customer_client() -> CustomerClient:
    """Return the current app's customer look-up client."""
    return current_app.extensions["customer_client"]


def gateway_auth() -> AuthBase | None:
    """Return the current app's gateway credentials (for every Capillary client), or None."""
    return current_app.extensions.get("gateway_auth")


def sandbox_state():
    """Return the embedded sandbox's state, or None outside sandbox mode."""
    sandbox_app = current_app.extensions.get("sandbox_app")
    return sandbox_app.extensions["sandbox"] if sandbox_app is not None else None


def intouch_authorization() -> str:
    """Return the inner Intouch ``Authorization`` value (a secret: never render or log it)."""
    config = current_app.config
    if config["CAP_INTOUCH_AUTHORIZATION"]:
        return config["CAP_INTOUCH_AUTHORIZATION"]
    return intouch_basic_authorization(config["CAP_INTOUCH_USERNAME"], config["CAP_INTOUCH_PASSWORD"])
