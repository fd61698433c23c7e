"""``GET /health``: liveness, no token, no I/O."""

from chalice.app import Blueprint

from chalicelib.api.responses import json_response, route

bp = Blueprint(__name__)


@route(bp, "/health", methods=["GET"])
def health() -> object:
    """200 ``{"status": "ok"}``."""
    return json_response({"status": "ok"})
