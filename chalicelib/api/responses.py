"""The one mapping from AppError to HTTP, JSON bodies, request parsing and the route decorator that applies them."""

from __future__ import annotations

import json
import re
from typing import Any

from chalice.app import Response
from pydantic import BaseModel, ValidationError

from chalicelib.errors import AppError, InvalidError, UnprocessableError
from chalicelib.models.domain import Identity
from chalicelib.models.text import INVALID_CHARACTERS

JSON_HEADERS = {"Content-Type": "application/json"}
#: The deepest nesting of arrays and objects a body may have; request models need 3 levels.
MAX_JSON_DEPTH = 32
#: The ETags this API issues: a version number in double quotes (ASCII digits only; ``str.isdigit`` is wider).
_STRONG_ETAG = re.compile(r'"([0-9]{1,18})"')


def json_response(body: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response; pydantic models are dumped in JSON mode (ISO-8601 datetimes)."""
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json")
    return Response(body=json.dumps(body, default=str), status_code=status, headers={**JSON_HEADERS, **(headers or {})})


def error_response(error: AppError) -> Response:
    """``{"error": {"code", "message", "details"}}`` with the error's status; a 503 says when to retry
    (``Retry-After``, seconds: RFC 9110 §10.2.3)."""
    headers = {"Retry-After": str(error.retry_after_s)} if error.status == 503 else None
    return json_response(error.to_body(), status=error.status, headers=headers)


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar is 0), level by level without recursion;
    stops counting past ``MAX_JSON_DEPTH``. Holds one reference per container of a level, none per scalar."""
    depth, level = 0, [value] if isinstance(value, (dict, list)) else []
    while level and depth <= MAX_JSON_DEPTH:
        depth += 1
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, (dict, list))
        ]
    return depth


def parse_json_body(request: Any) -> Any:
    """The JSON value of the body (``{}`` when empty).

    Raises ``InvalidError`` (``invalid_json``, 400) for bytes that are not UTF-8 JSON, and for arrays or objects
    nested deeper than ``MAX_JSON_DEPTH``: Python's parser raises ``RecursionError`` near 1,000 levels (tens of
    thousands of ``[`` would otherwise answer 500), and no request model goes past 3.
    """
    raw = request.raw_body or b"{}"
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidError("The body is not valid JSON.", code="invalid_json") from exc
    if _depth(data) > MAX_JSON_DEPTH:
        raise InvalidError(
            f"The body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels.",
            code="invalid_json",
            details={"max_depth": MAX_JSON_DEPTH},
        )
    return data


def parse_body[ModelT: BaseModel](
    request: Any, model: type[ModelT], *, read_only: frozenset[str] = frozenset()
) -> ModelT:
    """The JSON body validated as ``model``.

    Raises ``InvalidError`` (``invalid_json``, 400) for a body that is not a JSON object or nests too deeply
    (``parse_json_body``), ``UnprocessableError`` (``read_only_fields``, 422) when it names one of ``read_only``,
    ``UnprocessableError`` (``invalid_characters``, 422) when a text field holds a control character or a
    bidirectional override (``chalicelib.models.text``), and ``UnprocessableError`` (``validation_error``, 422) when
    validation fails otherwise. Both 422 validation codes name each bad field in ``details.fields``.
    """
    data = parse_json_body(request)
    if not isinstance(data, dict):
        raise InvalidError("The body must be a JSON object.", code="invalid_json")
    refused = sorted(set(data) & read_only)
    if refused:
        raise UnprocessableError(
            "These fields are read-only.",
            code="read_only_fields",
            details={"fields": dict.fromkeys(refused, "read-only: set by the lifecycle endpoints")},
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        fields = {".".join(str(p) for p in e["loc"]) or "body": e["msg"] for e in errors}
        if any(e["type"] == INVALID_CHARACTERS for e in errors):
            raise UnprocessableError(
                "Text fields may not hold control characters or bidirectional formatting characters.",
                code=INVALID_CHARACTERS,
                details={"fields": fields},
            ) from exc
        raise UnprocessableError(
            "The request is not valid.", code="validation_error", details={"fields": fields}
        ) from exc


def if_match(request: Any) -> frozenset[int] | None:
    """The versions an ``If-Match`` header accepts: None when absent or ``*``.

    Our ETags are strong (``"3"``); RFC 9110 §13.1.1 compares If-Match strongly, so a weak tag (``W/"3"``) or one we
    never issued matches nothing and the write answers 412.
    """
    raw = (request.headers or {}).get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    versions: set[int] = set()
    for tag in raw.split(","):
        strong = _STRONG_ETAG.fullmatch(tag.strip())
        if strong:
            versions.add(int(strong.group(1)))
    return frozenset(versions)


def etag(version: int) -> dict[str, str]:
    """The ``ETag`` header of an item at ``version``."""
    return {"ETag": f'"{version}"'}


def identity_of(request: Any) -> Identity:
    """The caller's Identity, put on the request by the authentication middleware."""
    identity = request.context.get("sleeve_identity")
    assert isinstance(identity, Identity), "route reached without authentication"
    return identity
