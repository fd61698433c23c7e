"""The contract observer: every response a test gets from ``chalice.test.Client`` is checked against the OpenAPI
document (``chalicelib.openapi``) with openapi-core, so the whole integration suite doubles as a conformance test.

A documented operation's response must have a documented status, its headers and its body must match the schema
(error codes included: each status lists the codes it may answer). A request no operation documents (``HEAD``, a
405, an unknown path, the CORS preflight) must still answer errors in the one error shape. A mismatch fails the test
that made the request, naming the operation, the status and what did not match.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.deserializing.media_types.util import plain_loads
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound, ServerNotFound
from pydantic import ValidationError
from werkzeug.datastructures import Headers, ImmutableMultiDict

from chalicelib.models.views import ErrorBody
from chalicelib.openapi import openapi_document

HOST = "http://localhost"


@dataclass
class _Request:
    """openapi-core's request protocol for one ``chalice.test`` call."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    host_url: str = HOST
    parameters: RequestParameters = field(init=False)

    def __post_init__(self) -> None:
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(self.query, keep_blank_values=True)),
            header=Headers(dict(self.headers)),
        )

    @property
    def content_type(self) -> str:
        return {k.lower(): v for k, v in self.headers.items()}.get("content-type", "application/json")


@dataclass
class _Response:
    """openapi-core's response protocol."""

    status_code: int
    headers: Headers
    data: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@functools.cache
def _openapi() -> OpenAPI:
    document = openapi_document()
    # The document's server is relative ("."); openapi-core matches requests against an absolute one.
    document["servers"] = [{"url": HOST}]
    # openapi-core reads only text/html and text/plain bodies as strings; the reference page's assets are text too.
    text = dict.fromkeys(("text/css", "text/javascript"), plain_loads)
    return OpenAPI.from_dict(document, config=Config(extra_media_type_deserializers=text))


class ContractViolation(AssertionError):
    """A response the document does not describe."""


def check_response(
    method: str, path: str, request_headers: Mapping[str, str], status: int, headers: Mapping[str, Any], body: bytes
) -> None:
    """Raise ``ContractViolation`` unless the response to ``method`` ``path`` is one the document describes."""
    if status == 405:
        # A method the path does not serve: openapi-core would match the request to a templated path that serves it
        # (DELETE /releases/r1/tracks/order → delete_track), where API Gateway and Chalice prefer the literal path.
        _check_undocumented(method, path, status, body)
        return
    parts = urlsplit(path)
    request = _Request(method.lower(), parts.path, parts.query, request_headers, b"")
    response = _Response(status, Headers({k: str(v) for k, v in headers.items()}), body or b"")
    try:
        _openapi().validate_response(request, response)  # type: ignore[arg-type]
    except (PathNotFound, OperationNotFound, ServerNotFound):
        _check_undocumented(method, path, status, body)
    except Exception as exc:  # openapi-core raises a tree of its own; every one of them is a violation here
        detail = "; ".join(str(e) for e in getattr(exc, "schema_errors", [])) or repr(exc)
        raise ContractViolation(
            f"{method} {path} answered {status} {body[:300]!r}, which the OpenAPI document does not describe: {detail}"
        ) from exc


def _check_undocumented(method: str, path: str, status: int, body: bytes) -> None:
    if status < 400 or method.upper() == "HEAD":
        return
    try:
        ErrorBody.model_validate(json.loads(body))
    except (ValueError, ValidationError) as exc:
        raise ContractViolation(f"{method} {path} answered {status} outside the error shape: {body[:300]!r}") from exc
