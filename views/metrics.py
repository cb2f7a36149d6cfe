"""``/metrics``: Prometheus's scrape endpoint (metrics.py), for listed addresses or a bearer token.

Open without sign-in, like the probes, but only to the addresses in ``CAP_METRICS_ALLOW``
(default: this machine) or to a request carrying ``Authorization: Bearer <CAP_METRICS_TOKEN>``.
Behind a proxy the address is the client's only with ``CAP_PROXY_FIX`` set, so the shipped
nginx site refuses ``/metrics`` from outside altogether (deploy/nginx).
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST

import metrics as app_metrics

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    """The metrics in Prometheus's text format, or 403 for anyone not allowed."""
    if not allowed():
        return Response("Forbidden: /metrics answers the addresses in CAP_METRICS_ALLOW and requests "
                        "with the bearer token CAP_METRICS_TOKEN.\n", status=403, mimetype="text/plain")
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # typed as Flask, is a proxy
    return Response(app_metrics.exposition(app), mimetype=CONTENT_TYPE_LATEST)


def allowed() -> bool:
    """Whether this request may read the metrics."""
    token = current_app.config["CAP_METRICS_TOKEN"]
    supplied = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(supplied.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in current_app.config["CAP_METRICS_ALLOW"])
