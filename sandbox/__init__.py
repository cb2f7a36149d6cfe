"""An embedded fake of Capillary's request-workflow gateway, as its own small Flask app.

The product reaches it in-process through :mod:`sandbox.transport`; it also runs standalone
over a real socket with ``flask --app sandbox run --port 5001``. Nothing is built at import
time: :func:`create_app` makes a fresh app with its own :class:`~sandbox.state.SandboxState`
at ``app.extensions["sandbox"]``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from sandbox.errors import error_response
from sandbox.state import SandboxState

DEFAULTS: dict[str, bool | int | float | str] = {
    "SANDBOX_LATENCY_MS": 0,  # added to every gateway call
    "SANDBOX_AUTO_APPROVE": False,  # §6's auto-approval flag
    "SANDBOX_FORBID_SELF_APPROVAL": False,  # 403 when a maker decides their own request
    "SANDBOX_STALL_SECONDS": 30.0,  # how long the `timeout` fault stalls over a real socket
    # Gateway credentials the sandbox checks when set (sandbox/auth.py); none by default.
    "SANDBOX_GATEWAY_USERNAME": "",
    "SANDBOX_GATEWAY_PASSWORD": "",
    "SANDBOX_OAUTH_KEY": "",
    "SANDBOX_OAUTH_SECRET": "",
    "SANDBOX_OAUTH_TTL_SECONDS": 300,  # §7.3's example ttlSeconds
}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def create_app(config: dict | None = None) -> Flask:
    """Build a sandbox gateway app.

    :param config: overrides of :data:`DEFAULTS`. When None (standalone, e.g. ``flask run``)
        the same keys are read from environment variables instead, so an embedding app is
        never affected by the environment.
    """
    from sandbox import api, auth, control, customers  # imported here: nothing is built until an app is made

    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.update(_from_env(os.environ) if config is None else config)
    app.config["SANDBOX_STALL_SECONDS"] = float(app.config["SANDBOX_STALL_SECONDS"])
    # Flask types app.json as the JSONProvider base; its default provider has sort_keys.
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the documented field order
    app.extensions["sandbox"] = SandboxState(
        auto_approve=bool(app.config["SANDBOX_AUTO_APPROVE"]),
        forbid_self_approval=bool(app.config["SANDBOX_FORBID_SELF_APPROVAL"]),
        latency_ms=int(app.config["SANDBOX_LATENCY_MS"]),
    )
    app.register_blueprint(api.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(control.bp)
    app.register_blueprint(customers.bp)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _http_error(error: HTTPException) -> Response:
    # Routing errors (404, 405) too answer in the v2 error envelope, never HTML.
    headers = {name: value for name, value in error.get_headers() if name == "Allow"}
    return error_response(error.code or 500, error.description or error.name, headers=headers)


def _from_env(environ: Mapping[str, str]) -> dict:
    """Read the sandbox's settings from environment variables; raise ValueError on bad values."""
    found: dict = {}
    for name, default in DEFAULTS.items():
        if name not in environ:
            continue
        text = environ[name].strip()
        try:
            if isinstance(default, bool):
                if text.lower() not in _TRUE + _FALSE:
                    raise ValueError(text)
                found[name] = text.lower() in _TRUE
            elif isinstance(default, str):
                found[name] = text
            else:
                found[name] = type(default)(text)
        except ValueError:
            raise ValueError(f"{name}={text!r} is not a valid value") from None
    return found
