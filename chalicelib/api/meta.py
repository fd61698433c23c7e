"""``GET /openapi.json``: the API's OpenAPI 3.1 document, generated from the route table (``chalicelib.openapi``)."""

from chalice.app import Blueprint

from chalicelib.api.contract import Answer, Reply, operation
from chalicelib.models.views import OpenApiDocument

bp = Blueprint(__name__)


@operation(bp, "GET", "/openapi.json", tag="meta", auth="none", answers=[Answer(200, OpenApiDocument)])
def openapi_json() -> Reply:
    """The OpenAPI 3.1 document.

    Every route with its parameters, auth, bodies, answers, headers and error codes; the same as `docs/openapi.json`.
    """
    from chalicelib.openapi import openapi_document

    return Reply(OpenApiDocument.model_validate(openapi_document()))
