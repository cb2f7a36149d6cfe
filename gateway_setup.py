"""Build the app's gateway client from settings: the embedded sandbox or a real cluster."""

from __future__ import annotations

from flask import Flask, current_app
from requests.auth import AuthBase

from gateway.auth import GatewayBasicAuth, GatewayOAuth
from gateway.client import GatewayClient
from gateway.payload import intouch_basic_authorization


def init_app(app: Flask) -> None:
    """Create the gateway client (and, in sandbox mode, the embedded sandbox) for ``app``."""
    config = app.config
    timeout = (config["CAP_CONNECT_TIMEOUT"], config["CAP_READ_TIMEOUT"])
    if config["SANDBOX_MODE"]:
        # Imported here so a real deployment never loads the sandbox.
        from sandbox import create_app as create_sandbox_app
        from sandbox.transport import SANDBOX_BASE_URL, mount_sandbox

        sandbox_app = app.extensions.get("sandbox_app") or create_sandbox_app(
            {"SANDBOX_LATENCY_MS": config.get("SANDBOX_LATENCY_MS", 0)}
        )
        app.extensions["sandbox_app"] = sandbox_app
        client = GatewayClient(
            SANDBOX_BASE_URL,
            config["CAP_ORG_ID"],
            timeout=timeout,
            mount=lambda session: mount_sandbox(session, sandbox_app),
        )
    else:
        client = GatewayClient(
            config["CAP_GATEWAY_URL"], config["CAP_ORG_ID"], timeout=timeout, auth=_gateway_auth(config)
        )
    app.extensions["gateway_client"] = client


def _gateway_auth(config) -> AuthBase | None:
    if config["CAP_GATEWAY_AUTH"] == "basic":
        return GatewayBasicAuth(config["CAP_GATEWAY_USERNAME"], config["CAP_GATEWAY_PASSWORD"])
    if config["CAP_GATEWAY_AUTH"] == "oauth":
        token_url = config["CAP_OAUTH_TOKEN_URL"] or config["CAP_INTOUCH_HOST"] + "/v3/oauth/token/generate"
        timeout = (config["CAP_CONNECT_TIMEOUT"], config["CAP_READ_TIMEOUT"])
        return GatewayOAuth(token_url, config["CAP_OAUTH_KEY"], config["CAP_OAUTH_SECRET"], timeout)
    return None


def gateway_client() -> GatewayClient:
    """Return the current app's gateway client."""
    return current_app.extensions["gateway_client"]


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
