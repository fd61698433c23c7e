"""HTTP middleware: bearer-token authentication, and Chalice's own error bodies rewritten to Sleeve's shape."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalice.app import Response

from chalicelib.api.responses import error_response, json_response
from chalicelib.auth import bearer_token
from chalicelib.errors import AppError

#: Routes anyone may call: the health check and the public share-link routes.
PUBLIC_PREFIXES = ("/s/",)
PUBLIC_PATHS = ("/health",)

# Chalice's own failures (unknown method, bad JSON, unhandled exception) and the codes they become.
_CHALICE_CODES = {
    400: "invalid_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    415: "unsupported_media_type",
    500: "internal_error",
}


def is_public(resource_path: str) -> bool:
    """Whether a route pattern (``/s/{token}/download``) needs no token."""
    return resource_path in PUBLIC_PATHS or resource_path.startswith(PUBLIC_PREFIXES)


def authenticate(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """Verify ``Authorization: Bearer`` on every non-public route and put the Identity on the request (401 if not)."""
    from chalicelib.container import get_token_verifier

    resource_path = request.context.get("resourcePath", request.path)
    if not is_public(resource_path) and request.method != "OPTIONS":
        try:
            identity = get_token_verifier().verify(bearer_token(request.headers.get("authorization")))
        except AppError as error:
            response = error_response(error)
            response.headers["WWW-Authenticate"] = 'Bearer realm="sleeve"'
            return response
        request.context["sleeve_identity"] = identity
    return get_response(request)


def normalise_errors(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """Rewrite Chalice's ``{"Code", "Message"}`` error bodies into ``{"error": {"code", "message", "details"}}``."""
    response = get_response(request)
    if response.status_code < 400:
        return response
    body = response.body
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body)
        except ValueError:
            return response
    if isinstance(body, dict) and "Code" in body and "Message" in body:
        code = _CHALICE_CODES.get(response.status_code, "error")
        return json_response(
            {"error": {"code": code, "message": str(body["Message"]), "details": {}}},
            status=response.status_code,
            headers={k: str(v) for k, v in response.headers.items() if k.lower() != "content-type"},
        )
    return response
