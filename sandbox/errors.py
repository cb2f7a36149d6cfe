"""The v2 error envelope every sandbox error uses, and the exception that carries one.

Capillary's v2 APIs answer errors as ``{"errors": [{"status": false, "code": ..., "message": ...}]}``
(docs/CAPILLARY_API.md §5). The request-workflow "Error codes" page lists codes 2001–2030 with no
HTTP status and no body (§1.5). Sandbox's choices: a documented code goes in this envelope with
HTTP 400 (the only error status the OpenAPI declares), except refused credentials (2013 with 401)
and an unknown request (2007 with 404); an error with no documented code carries its HTTP status
as ``code``.
"""

from __future__ import annotations

from flask import Response, jsonify

# Capillary's request-workflow error codes (§1.5), with the message the sandbox answers for each
# (Capillary's own wording is not published: these paraphrase the "Error codes" page).
CODES = {
    2001: "The user does not have the permissions. Contact the access team",
    2002: "The workflow is already completed by a user",
    2005: "Org ID header is missing or invalid",
    2007: "Incorrect request ID or action name",
    2008: "Invalid payload",
    2009: "Request type not supported",
    2011: "sortBy field is not sortable",
    2012: "Invalid sort order",
    2013: "Verification failed: invalid credentials or identity service failure. Contact support",
    2014: "Earning entity ID is missing or invalid",
    2015: "Invalid goodwill points",
    2018: "Invalid max goodwill points property. Contact support",
    2019: "Invalid auto-approved property. Contact support",
    2020: "Workflow configuration not supported. Contact support",
    2021: "Workflow for the ID does not exist or is inactive. Contact support",
    2022: "Unable to build the URI from the request payload",
    2023: "Unable to parse the headers of the HTTP action payload. Contact support",
    2024: "Unable to build or deploy the workflow. Contact support",
    2026: "Org header is missing. Contact support",
    2027: "Hostname is missing in the workflow's extension properties. Contact support",
    2028: "Pathname is missing in the workflow's extension properties. Contact support",
    2029: "Method is missing in the workflow's extension properties. Contact support",
    2030: "File upload to the file service failed. Contact support",
    # The customer API's codes (docs/CAPILLARY_API.md §10), as documented.
    8013: "Lookup, Invalid identifier passed",
    8015: "Customer not found for the given identifiers",
}


class GatewayError(Exception):
    """An error answer: HTTP ``status``, one or more human messages, and Capillary's ``code`` when documented."""

    def __init__(self, status: int, *messages: str, headers: dict[str, str] | None = None,
                 code: int | None = None):
        super().__init__("; ".join(messages))
        self.status = status
        self.messages = list(messages) or ["Error"]
        self.headers = headers or {}
        self.code = code


def coded(code: int, *details: str, status: int = 400) -> GatewayError:
    """The error for documented ``code``: one envelope entry per detail (else the code's own message)."""
    return GatewayError(status, *(details or (CODES[code],)), code=code)


def envelope(code: int | str, message: str) -> dict:
    """Return one entry of the ``errors`` list."""
    return {"status": False, "code": code, "message": message}


def error_response(status: int, *messages: str, headers: dict[str, str] | None = None,
                   code: int | None = None) -> Response:
    """Return a JSON error response in the v2 envelope, one entry per message (``code``: the status)."""
    body = {"errors": [envelope(code or status, message) for message in messages or ("Error",)]}
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def handle_gateway_error(error: GatewayError) -> Response:
    """Flask error handler turning a raised :class:`GatewayError` into its response."""
    return error_response(error.status, *error.messages, headers=error.headers, code=error.code)
