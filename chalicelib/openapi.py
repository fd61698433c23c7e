"""The OpenAPI 3.1 document of the HTTP API, built from the route table (``chalicelib.api.contract.OPERATIONS``) and
the pydantic request, query and response models: nothing in it is written by hand but the prose.

Request bodies use each model's validation schema, responses its serialization schema made strict (every property
required, no other property allowed: the API dumps every field of a model and nothing else). Each error status of an
operation lists the codes it may answer as an enum on ``error.code``. OpenAPI links join each ``201`` that creates
an item to every operation its id (and the request's path) can address, for clients and for stateful fuzzing.
Sources: OpenAPI Specification 3.1.0 (https://spec.openapis.org/oas/v3.1.0), JSON Schema 2020-12, RFC 9110.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from chalicelib.api.contract import ERROR_CODES, HEADERS, OPERATIONS, Answer, Operation
from chalicelib.models.views import ErrorBody

OPENAPI_VERSION = "3.1.0"
#: The version of the API contract (info.version): the minor changes with additions, the major with breaking changes.
API_VERSION = "1.0.0"
_REF = "#/components/schemas/{model}"
_HEX_ID = {"type": "string", "pattern": "^[0-9a-f]{32}$"}
#: The path parameters of every route: their schema and meaning (ids are UUID4 hex, conflict ids 96 bits of a SHA-256
#: (``services/dsp_conflicts.conflict_id``), share tokens ``{token_id}.{secret}`` of ``secrets.token_urlsafe`` parts).
PATH_PARAMETERS: dict[str, tuple[dict[str, Any], str]] = {
    "release_id": (_HEX_ID, "The release's id."),
    "track_id": (_HEX_ID, "The track's id."),
    "collaborator_id": (_HEX_ID, "The collaborator's id."),
    "upload_id": (_HEX_ID, "The upload's id (the asset id)."),
    "job_id": (_HEX_ID, "The job's id."),
    "asset_id": (_HEX_ID, "The media asset's id."),
    "attachment_id": (_HEX_ID, "The attachment's id (from `POST /media/{asset_id}/attach` or a listing)."),
    "owner_type": (
        {"type": "string", "pattern": "^[a-z][a-z0-9_-]{1,31}$"},
        "The owner object's type: `release`, `track`, or a client's own (`scene`, `character`…).",
    ),
    "owner_id": (
        {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,128}$"},
        "The owner object's id: a release's id, `{release_id}.{track_id}` for a track, or a client's own.",
    ),
    "conflict_id": (
        {"type": "string", "pattern": "^[0-9a-f]{24}$"},
        "The DSP conflict's id (stable across re-syncs that find the same difference).",
    ),
    "token_id": ({"type": "string", "pattern": "^[A-Za-z0-9_-]{12}$"}, "The share link's id (the token's first part)."),
    "token": (
        {"type": "string", "pattern": "^[A-Za-z0-9_-]{12}\\.[A-Za-z0-9_-]{43}$"},
        "The share link's token, as in its URL.",
    ),
}
_HEADER_SCHEMAS: dict[str, dict[str, Any]] = {
    "ETag": {"type": "string", "pattern": '^"[0-9]+"$'},
    "Retry-After": {"type": "string", "pattern": "^[0-9]+$"},
}
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No content",
    302: "Found: the Location header",
    400: "Bad request",
    401: "Missing or invalid bearer token",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict with the item's state",
    412: "Precondition failed",
    413: "Too large",
    415: "Unsupported media type",
    422: "Unprocessable",
    500: "Internal error",
    503: "Unavailable for a moment",
}
_DESCRIPTION = """\
Sleeve manages musicians' releases and their artwork: a release catalogue with a production lifecycle, tracks with
ISRCs, collaborators with royalty splits, artwork uploaded straight to S3 with presigned POSTs, and public share
links.

* **Auth.** Every route but `/health`, `/openapi.json`, `/docs`, the public share-link routes `/s/…` and the
  provider webhook `/webhooks/replicate` (signed the Standard Webhooks way instead) takes
  `Authorization: Bearer <JWT>` (a Cognito user-pool token; `make token` locally). The token's subject owns what it
  creates; another owner's items answer the same 404 as unknown ones. `admin` group members may read any release and
  unlock it.
* **Errors.** Every 4xx and 5xx body is `{"error": {"code", "message", "details"}}`; each operation lists the codes
  it may answer per status.
* **Versions.** Releases, tracks and collaborators carry a version as a strong `ETag`; send it back in `If-Match`
  to make a write conditional (412 `version_mismatch` when stale).
* **Lists** are paged with the opaque `next_cursor` (null on the last page).
* Every `GET` also answers `HEAD`; an unknown path answers 404 `not_found` and a method a path does not serve 405
  `method_not_allowed` with `Allow`, in the same error shape. Every response carries `X-Request-Id`.
"""


def _strict(schema: Any) -> Any:
    """``schema`` with every object that lists properties made closed and all-required (a response schema)."""
    if isinstance(schema, dict):
        out = {key: _strict(value) for key, value in schema.items()}
        if "properties" in out and out.get("type") == "object":
            out.setdefault("additionalProperties", False)
            out["required"] = list(out["properties"])
        return out
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


def _allows_null(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type")
    if kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
        return True
    return any(_allows_null(option) for option in schema.get("anyOf", []) + schema.get("oneOf", []))


def _without_null_defaults(schema: Any) -> Any:
    """``schema`` without ``"default": null`` where null is not a valid value: a PATCH field that may be absent but
    never null (``UpdateTrackRequest.title``) keeps pydantic's None default only as "absent"."""
    if isinstance(schema, dict):
        out = {key: _without_null_defaults(value) for key, value in schema.items()}
        if "default" in out and out["default"] is None and "$ref" not in out and not _allows_null(out):
            del out["default"]
        return out
    if isinstance(schema, list):
        return [_without_null_defaults(item) for item in schema]
    return schema


def _schemas(operations: Iterable[Operation]) -> tuple[dict[tuple[type[BaseModel], str], str], dict[str, Any]]:
    """The ``$ref`` of every (model, mode) the operations use and the components' schemas."""
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(ErrorBody, "serialization"): None}
    for op in operations:
        for request_model in (op.body, op.raw_body):
            if request_model is not None:
                wanted[(request_model, "validation")] = None
        for answer in op.answers:
            if answer.model is not None:
                wanted[(answer.model, "serialization")] = None
    # Query models only contribute their definitions (named enums); their fields become parameters.
    queries: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {
        (op.query, "validation"): None for op in operations if op.query is not None
    }
    refs, top = models_json_schema([*wanted, *queries], ref_template=_REF)
    for model, _mode in queries:
        top.get("$defs", {}).pop(model.__name__, None)
        refs.pop((model, "validation"), None)
    components: dict[str, Any] = _without_null_defaults(top.get("$defs", {}))
    response_names = {ref["$ref"].rsplit("/", 1)[-1] for (_model, mode), ref in refs.items() if mode == "serialization"}
    request_names = {ref["$ref"].rsplit("/", 1)[-1] for (_model, mode), ref in refs.items() if mode == "validation"}
    # Response models and what only they reference are closed; request models keep pydantic's own schema.
    closed = _referenced(components, response_names) - _referenced(components, request_names)
    for name in closed:
        components[name] = _strict(components[name])
    ref_of: dict[tuple[type[BaseModel], str], str] = {}
    for (source, mode), ref in refs.items():
        if isinstance(source, type) and issubclass(source, BaseModel):
            ref_of[(source, mode)] = ref["$ref"]
    return ref_of, dict(sorted(components.items()))


def _referenced(components: dict[str, Any], roots: set[str]) -> set[str]:
    """``roots`` and every component they reference, transitively."""
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in seen or name not in components:
            continue
        seen.add(name)
        pending.extend(_refs_in(components[name]))
    return seen


def _refs_in(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        found = [schema["$ref"].rsplit("/", 1)[-1]] if isinstance(schema.get("$ref"), str) else []
        return found + [name for value in schema.values() for name in _refs_in(value)]
    if isinstance(schema, list):
        return [name for item in schema for name in _refs_in(item)]
    return []


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in op.path_parameters:
        schema, description = PATH_PARAMETERS[name]
        params.append({"name": name, "in": "path", "required": True, "description": description, "schema": schema})
    if op.query is not None:
        schema = op.query.model_json_schema(mode="validation", ref_template=_REF)
        schema.pop("$defs", None)  # the same definitions are in the components (``_schemas`` collects them)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            prop = _query_schema(prop)
            description = prop.pop("description", None)
            param: dict[str, Any] = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if name not in required:
                # ``contract.parse_query`` reads an empty value as absent (HTML forms send ``?format=``).
                param["allowEmptyValue"] = True
                description = f"{description or ''} An empty value is the same as leaving the parameter out.".strip()
            if description:
                param["description"] = description
            params.append(param)
    for header in op.headers:
        params.append(
            {
                "name": header.name,
                "in": "header",
                "required": header.required,
                "description": header.description,
                "schema": dict(header.schema),
            }
        )
    if op.if_match:
        params.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "description": "Write only if the item is still at this version (its `ETag`); `*` or absent: always.",
                "schema": {"type": "string"},
            }
        )
    return params


def _query_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without pydantic's ``X | None`` wrapping: a query string cannot hold null, only
    leave the parameter out."""
    schema = {key: value for key, value in schema.items() if key != "title"}
    options = schema.pop("anyOf", None)
    if options is not None:
        kept = [option for option in options if option != {"type": "null"}]
        if len(kept) == 1:
            schema = {**kept[0], **schema}
        else:
            schema["anyOf"] = kept
        if schema.get("default", 0) is None:
            del schema["default"]
    return schema


def _headers(names: Iterable[str]) -> dict[str, Any]:
    headers = {
        name: {"description": HEADERS[name], "required": True, "schema": _HEADER_SCHEMAS.get(name, {"type": "string"})}
        for name in names
    }
    headers["X-Request-Id"] = {"description": "The request's id, also in the logs.", "schema": {"type": "string"}}
    return headers


def _links(op: Operation, answer: Answer) -> dict[str, Any]:
    """Links from ``answer`` to every operation whose path parameters the answer's ``creates`` and ``op``'s own path
    parameters fill (one of them at least from the answer)."""
    if not answer.creates:
        return {}
    known = {name: f"$request.path.{name}" for name in op.path_parameters} | dict(answer.creates)
    links: dict[str, Any] = {}
    for target in OPERATIONS.values():
        params = target.path_parameters
        if target is op or not params or not set(params) <= known.keys() or not set(params) & answer.creates.keys():
            continue
        links[target.operation_id] = {
            "operationId": target.operation_id,
            "parameters": {name: known[name] for name in params},
        }
    return links


def _error_response(op: Operation, status: int, codes: list[str]) -> dict[str, Any]:
    listed = "".join(f"\n- `{code}`: {ERROR_CODES[code][1]}" for code in codes)
    schema = {
        "$ref": _REF.format(model="ErrorBody"),
        "properties": {"error": {"properties": {"code": {"enum": codes}}}},
    }
    # A 401 of a bearer route names its scheme; a signed webhook's (auth none) has no scheme to name.
    bearer_401 = status == 401 and op.auth != "none"
    text = "Unauthenticated" if status == 401 and not bearer_401 else _STATUS_TEXT.get(status, "Error")
    response: dict[str, Any] = {
        "description": f"{text}:\n{listed}",
        "content": {"application/json": {"schema": schema}},
    }
    header_names = ["Retry-After"] if status == 503 else ["WWW-Authenticate"] if bearer_401 else []
    response["headers"] = _headers(header_names)
    return response


def _operation(op: Operation, refs: dict[tuple[type[BaseModel], str], str]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "operationId": op.operation_id,
        "tags": [op.tag],
        "summary": op.summary,
        "description": op.description,
        "security": [] if op.auth == "none" else [{"bearerAuth": []}],
        "x-sleeve-auth": op.auth,
    }
    params = _parameters(op)
    if params:
        spec["parameters"] = params
    if op.body is not None:
        spec["requestBody"] = {
            # A body whose every field is optional may be left out ({} is assumed).
            "required": any(field.is_required() for field in op.body.model_fields.values()),
            "content": {"application/json": {"schema": {"$ref": refs[(op.body, "validation")]}}},
        }
    elif op.raw_body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": refs[(op.raw_body, "validation")]}}},
        }
    responses: dict[str, Any] = {}
    for answer in op.answers:
        response: dict[str, Any] = {
            "description": answer.description or _STATUS_TEXT.get(answer.status, ""),
            "headers": _headers(answer.headers),
        }
        if answer.media_type != "application/json":
            response["content"] = {answer.media_type: {"schema": {"type": "string"}}}
        elif answer.model is not None:
            response["content"] = {"application/json": {"schema": {"$ref": refs[(answer.model, "serialization")]}}}
        links = _links(op, answer)
        if links:
            response["links"] = links
        responses[str(answer.status)] = response
    for status, codes in op.statuses_of_errors().items():
        if str(status) in responses:
            raise ValueError(f"{op.operation_id}: {status} is both a success answer and an error")
        responses[str(status)] = _error_response(op, status, codes)
    spec["responses"] = dict(sorted(responses.items()))
    return spec


@functools.cache
def _document() -> dict[str, Any]:
    # Importing the app registers every operation.
    import app  # noqa: F401

    operations = list(OPERATIONS.values())
    refs, components = _schemas(operations)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Sleeve", "version": API_VERSION, "description": _DESCRIPTION},
        "servers": [{"url": ".", "description": "Where this document is served (the API's stage)."}],
        "tags": [{"name": tag} for tag in dict.fromkeys(op.tag for op in operations)],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Cognito user-pool access or ID token (locally: `make token USER=alice`).",
                }
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every operation of the app (a fresh deep copy; built once per process)."""
    return copy.deepcopy(_document())


def write_document(path: Path) -> None:
    """Write the document to ``path`` as indented JSON with a final newline (what ``make openapi`` commits)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    import sys

    write_document(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/openapi.json"))
