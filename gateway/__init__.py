"""Capillary request-workflow gateway: payload builder, HTTP client, typed errors."""

from gateway.client import GatewayClient
from gateway.errors import GatewayError
from gateway.payload import StatusChange, build_payload, mask_secrets
from gateway.types import TERMINAL_STATES, RequestInfo, RequestPage

__all__ = [
    "GatewayClient",
    "GatewayError",
    "RequestInfo",
    "RequestPage",
    "StatusChange",
    "TERMINAL_STATES",
    "build_payload",
    "mask_secrets",
]
