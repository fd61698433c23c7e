"""The route table as data: every API operation declares its parameters, body, auth, success answers and error codes
here, and ``chalicelib.openapi`` builds the OpenAPI 3.1 document from the same declarations, so the document cannot
describe a route other than it behaves.

A view decorated with :func:`operation` receives its path parameters, the validated ``body`` (when the operation
declares a request model) and ``query`` (when it declares a query model), and returns a :class:`Reply`. The decorator
checks that the reply's status is one the operation declares and its body an instance of the declared model (a
``TypeError`` otherwise: the tests and the fuzz run see a 500), and turns an ``AppError`` into the one error shape.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib.api.responses import error_response, json_response, parse_body
from chalicelib.errors import AppError, InvalidError

AuthKind = Literal["none", "bearer", "admin"]

#: Every error code an HTTP route answers: code → (status, what it means). The README's error table and the document
#: are built from this; a code raised on a request path that is missing here fails ``tests/unit/test_openapi.py``.
ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_json": (400, "The body is not UTF-8 JSON, not an object, or nests deeper than 32 levels."),
    "invalid_query": (400, "A query parameter is malformed or out of range (`details` names it)."),
    "invalid_cursor": (400, "The cursor was not issued by this list for this caller."),
    "invalid_content_length": (400, "The declared upload size is not a positive number of bytes."),
    "invalid_expires_in": (400, "`expires_in` is outside the allowed range of seconds."),
    "invalid_size": (400, "`size` is not one of tiny, small, medium, large, original."),
    "invalid_format": (400, "`format` is not one of webp, png, jpeg."),
    "asset_required": (400, "A download through a collection link names the `asset` to download."),
    "invalid_owner": (400, "The path's `owner_type` or `owner_id` is malformed (`details.field` names it)."),
    "invalid_webhook_signature": (
        401,
        "The webhook is refused: its Standard Webhooks signature is missing, wrong or stale, or no signing secret is "
        "configured (`details.reason`).",
    ),
    "missing_token": (401, "No `Authorization: Bearer <token>` header."),
    "invalid_token": (401, "The bearer token is malformed, expired, badly signed or for another app."),
    "admin_only": (403, "Only members of the `admin` group may do this."),
    "not_found": (404, "No route matches this path."),
    "release_not_found": (404, "No such release, or another owner's."),
    "track_not_found": (404, "No such track on this release."),
    "collaborator_not_found": (404, "No such collaborator on this release."),
    "upload_not_found": (404, "No such upload on this release."),
    "share_link_not_found": (404, "Unknown, expired or revoked share link."),
    "artwork_not_ready": (404, "The shared release or asset has no ready image (or video) yet."),
    "enhancement_not_found": (404, "The artwork has no enhanced version (`?version=enhanced`)."),
    "job_not_found": (404, "No such job, or another owner's."),
    "media_not_found": (404, "No such media asset, or another owner's (or one a share link does not show)."),
    "attachment_not_found": (404, "No such attachment of this media asset."),
    "size_not_available": (404, "The artwork has no image of this size."),
    "format_not_available": (404, "This size is not offered in this format (`details.available` lists those it is)."),
    "conflict_not_found": (404, "No such DSP conflict on this release."),
    "method_not_allowed": (405, "The path does not serve this method (the `Allow` header lists those it does)."),
    "release_locked": (409, "The release is locked: nothing of it may change."),
    "fields_locked": (409, "These fields are frozen by the release's lock (`details.fields`)."),
    "invalid_transition": (409, "The lifecycle does not allow this step now (`details.allowed` lists the targets)."),
    "no_tracks": (409, "The step needs at least one track."),
    "scheduled_date_required": (409, "Scheduling needs a release date."),
    "scheduled_date_not_in_future": (409, "The release date must be after today (UTC)."),
    "not_partially_locked": (409, "Locking needs the partial lock set by scheduling or releasing."),
    "not_locked": (409, "The release is not locked: there is nothing to unlock."),
    "isrc_in_use": (409, "Another track of this owner holds the ISRC."),
    "track_number_taken": (409, "Another track of the disc has this track number."),
    "too_many_tracks": (409, "The release already holds the most tracks a release may hold."),
    "transaction_too_large": (409, "The change would write more items than one DynamoDB transaction takes."),
    "concurrent_modification": (409, "The release kept changing while the request was applied; try again."),
    "not_released": (409, "A DSP sync needs a released or locked release."),
    "conflict_already_resolved": (409, "The DSP conflict is already resolved."),
    "cover_not_ready": (409, "The release has no ready cover to enhance yet (none uploaded, or still processing)."),
    "not_needed": (409, "The cover is large enough already (short side at least 1400 px): nothing to enhance."),
    "ai_not_allowed": (409, "The owner's preferences refuse AI enhancement (`allow_ai_enhancement` is false)."),
    "enhancement_in_progress": (409, "An enhancement of this cover is already queued or running (`details.job_id`)."),
    "media_private": (409, "A private asset cannot be shared: make it `shared` or `public` first."),
    "job_finished": (409, "The job has already ended (`details.status`): it cannot be canceled."),
    "cover_taken": (409, "Another asset is the object's cover (`details` names it); `replace: true` replaces it."),
    "already_attached": (409, "The asset already fills this role of the object (`details.attachment_id`)."),
    "too_many_attachments": (409, "This role of the object holds the most attachments it may (`details.max`)."),
    "asset_not_ready": (409, "A release's cover must be a ready image; this asset is not ready (or holds no image)."),
    "name_already_assigned": (409, "The asset already has a generated name (`details.name`); names never change."),
    "version_mismatch": (412, "`If-Match` names a version that is no longer current."),
    "too_large": (413, "The declared size is above the upload limit (`details.max_bytes`)."),
    "unsupported_media_type": (415, "The declared or sent content type is not accepted."),
    "validation_error": (422, "The body breaks the request model (`details.fields` names each field)."),
    "invalid_characters": (422, "A text field holds a control character or a bidirectional override."),
    "read_only_fields": (422, "The body names fields set only by the lifecycle."),
    "split_exceeds_total": (422, "The royalty splits of a pool would pass 100 %."),
    "track_order_mismatch": (422, "`track_ids` is not every track of the release exactly once."),
    "merge_value_required": (422, "A `merge` resolution needs a `value`."),
    "invalid_conflict_value": (422, "The `value` does not suit the conflict's field (`details` says what it takes)."),
    "resolution_not_allowed": (422, "This resolution is not offered for this conflict (no `merge` of a whole track)."),
    "query_too_short": (422, "The search query has no letter or digit (punctuation and spaces only, or empty)."),
    "query_too_long": (422, "The search query has more distinct words than a search takes (`details.max_words`)."),
    "name_parts_incomplete": (422, "A name needs `layer`, `category` and `subcategory` together (`details.missing`)."),
    "bulk_value_required": (422, "This bulk action needs a `value` (the tag, or the visibility)."),
    "invalid_visibility": (422, "The visibility must be `private`, `shared` or `public` (`details.allowed`)."),
    "url_not_allowed": (
        422,
        "The URL may not be imported: not https, a user name or password in it, no such host, or a host that resolves "
        "to an address not on the public internet (`details.reason`: scheme, credentials, unresolvable, loopback, "
        "private, cgnat, link_local…).",
    ),
    "internal_error": (500, "An unexpected failure, logged with the request's `X-Request-Id`."),
    "throttled": (503, "DynamoDB kept cancelling the write; retry after `Retry-After` seconds."),
    "queue_unavailable": (503, "The work could not be queued; retry after `Retry-After` seconds."),
}
#: The response headers the document describes, by name.
HEADERS: dict[str, str] = {
    "ETag": 'The version of the item, a strong entity tag ("3"); send it back in `If-Match`.',
    "Location": "The path of the created item.",
    "Retry-After": "Seconds to wait before retrying.",
    "Allow": "The methods the path serves.",
    "Cache-Control": "Caching directives (`no-store` for share links).",
    "WWW-Authenticate": "The auth scheme (`Bearer`).",
}
#: Codes every operation of a kind may answer, added by :func:`operation` from what it declares (and every operation
#: may answer 500 ``internal_error``).
_AUTH_CODES = ("missing_token", "invalid_token")
_BODY_CODES = ("invalid_json", "validation_error", "invalid_characters", "unsupported_media_type")
_WRITE_CODES = ("throttled",)
_PATH_PARAM = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Answer:
    """A success answer of an operation: ``status``, the body ``model`` (None: no JSON body), the response ``headers``
    by name (``HEADERS``), the ``media_type`` of the body (``text/html`` bodies are strings), and ``creates``: the path
    parameters the answer gives a value for (name → OpenAPI runtime expression such as ``$response.body#/id``); the
    document links the answer to every operation whose path parameters it and the request's path then fill."""

    status: int
    model: type[BaseModel] | None = None
    headers: tuple[str, ...] = ()
    media_type: str = "application/json"
    description: str = ""
    creates: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestHeader:
    """A request header an operation reads (besides ``Authorization`` and ``If-Match``): its ``name``, what it
    carries, its JSON ``schema`` and whether it is ``required`` (a request without it is refused)."""

    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = True


@dataclass(frozen=True)
class Operation:
    """One route and method with everything the document says about it.

    ``auth``: ``none`` (public), ``bearer`` (any valid token; the caller sees only their own data), ``admin`` (a token
    of the ``admin`` group). ``errors``: every error code the operation may answer (``ERROR_CODES``), those implied by
    its auth, body and ``If-Match`` included.
    """

    operation_id: str
    method: str
    path: str
    tag: str
    summary: str
    description: str
    auth: AuthKind
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    if_match: bool
    answers: tuple[Answer, ...]
    errors: frozenset[str]
    raw_body: type[BaseModel] | None = None
    headers: tuple[RequestHeader, ...] = ()

    @property
    def path_parameters(self) -> list[str]:
        """The names of the path's ``{parameters}``, in order."""
        return _PATH_PARAM.findall(self.path)

    def answer(self, status: int) -> Answer | None:
        """The declared success answer with ``status``, if any."""
        return next((a for a in self.answers if a.status == status), None)

    def statuses_of_errors(self) -> dict[int, list[str]]:
        """The documented error codes grouped by HTTP status, each list sorted."""
        grouped: dict[int, list[str]] = {}
        for code in sorted(self.errors):
            grouped.setdefault(ERROR_CODES[code][0], []).append(code)
        return dict(sorted(grouped.items()))


#: Every operation, by (method, path), in registration order.
OPERATIONS: dict[tuple[str, str], Operation] = {}


@dataclass(frozen=True)
class Reply:
    """What a view returns: a ``body`` (a model for JSON answers, a string for ``text/html`` ones, None for none), the
    ``status`` and extra ``headers``."""

    body: BaseModel | str | None = None
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


class Query(BaseModel):
    """Base of query-parameter models: values arrive as strings and are validated in lax mode; unknown parameters are
    ignored."""


def parse_query[QueryT: BaseModel](request: Any, model: type[QueryT]) -> QueryT:
    """The query string validated as ``model``; empty values count as absent.

    Raises ``InvalidError`` (``invalid_query``, 400) naming each bad parameter in ``details.fields``.
    """
    params = {name: value for name, value in (request.query_params or {}).items() if value != ""}
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        fields = {".".join(str(p) for p in e["loc"]): e["msg"] for e in exc.errors()}
        raise InvalidError("A query parameter is not valid.", code="invalid_query", details={"fields": fields}) from exc


def operation(
    bp: Blueprint,
    method: str,
    path: str,
    *,
    tag: str,
    answers: Iterable[Answer],
    errors: Iterable[str] = (),
    auth: AuthKind = "bearer",
    body: type[BaseModel] | None = None,
    read_only: frozenset[str] = frozenset(),
    query: type[BaseModel] | None = None,
    if_match: bool = False,
    content_types: list[str] | None = None,
    raw_body: type[BaseModel] | None = None,
    headers: Iterable[RequestHeader] = (),
) -> Callable[[Callable[..., Reply]], Callable[..., Reply]]:
    """Register ``view`` on ``bp`` for ``method`` ``path`` and record its :class:`Operation` in ``OPERATIONS``.

    The view's docstring gives the summary (first line) and description. ``raw_body`` and ``headers`` are documented
    only (see :class:`Operation`); ``raw_body`` excludes ``body``. Raises ``ValueError`` for an error code missing from
    ``ERROR_CODES``, a second registration of the same method and path, or both ``body`` and ``raw_body``.
    """
    if body is not None and raw_body is not None:
        raise ValueError(f"{method} {path}: a body is either parsed (body) or read raw (raw_body), not both")
    answers = tuple(answers)
    implied: set[str] = {*errors, "internal_error"}
    if auth != "none":
        implied.update(_AUTH_CODES)
    if auth == "admin":
        implied.add("admin_only")
    if body is not None:
        implied.update(_BODY_CODES)
    if read_only:
        implied.add("read_only_fields")
    if query is not None:
        implied.add("invalid_query")
    if if_match:
        implied.add("version_mismatch")
    if method in {"POST", "PUT", "PATCH", "DELETE"} and auth != "none":
        implied.update(_WRITE_CODES)
    unknown = implied - ERROR_CODES.keys()
    if unknown:
        raise ValueError(f"{method} {path}: undocumented error codes {sorted(unknown)}")

    def decorate(view: Callable[..., Reply]) -> Callable[..., Reply]:
        doc = (view.__doc__ or "").strip()
        summary, _, description = doc.partition("\n")
        spec = Operation(
            operation_id=view.__name__,
            method=method,
            path=path,
            tag=tag,
            summary=summary.strip().rstrip("."),
            description=" ".join(description.split()).replace("``", "`"),
            auth=auth,
            body=body,
            query=query,
            if_match=if_match,
            answers=answers,
            errors=frozenset(implied),
            raw_body=raw_body,
            headers=tuple(headers),
        )
        if (method, path) in OPERATIONS:
            raise ValueError(f"{method} {path} is registered twice")
        OPERATIONS[(method, path)] = spec

        @functools.wraps(view)
        def handled(**params: str) -> Response:
            request = bp.current_request
            try:
                kwargs: dict[str, Any] = dict(params)
                if body is not None:
                    kwargs["body"] = parse_body(request, body, read_only=read_only)
                if query is not None:
                    kwargs["query"] = parse_query(request, query)
                reply = view(**kwargs)
            except AppError as error:
                return _error(spec, error)
            return _respond(spec, reply)

        bp.route(path, methods=[method], content_types=content_types or ["application/json"])(handled)
        return view

    return decorate


def _respond(spec: Operation, reply: Reply) -> Response:
    answer = spec.answer(reply.status)
    if answer is None:
        raise TypeError(f"{spec.operation_id} answered {reply.status}, which it does not declare")
    if answer.media_type != "application/json":
        if not isinstance(reply.body, str):
            raise TypeError(f"{spec.operation_id} answered {reply.status} without its {answer.media_type} text")
        return Response(
            body=reply.body, status_code=reply.status, headers={"Content-Type": answer.media_type, **reply.headers}
        )
    if answer.model is None:
        if reply.body is not None:
            raise TypeError(f"{spec.operation_id} answered {reply.status} with a body it does not declare")
        return Response(body="", status_code=reply.status, headers=dict(reply.headers))
    if type(reply.body) is not answer.model:
        raise TypeError(
            f"{spec.operation_id} answered {reply.status} with {type(reply.body).__name__}, "
            f"not its declared {answer.model.__name__}"
        )
    return json_response(reply.body, status=reply.status, headers=dict(reply.headers))


def _error(spec: Operation, error: AppError) -> Response:
    from chalicelib.logs import get_api_logger

    if error.status >= 500:
        get_api_logger().exception("request failed", extra={"code": error.code})
    elif error.code not in spec.errors:
        # Still answered as raised (a 4xx never turns into a 500); tests and the fuzz run fail on it.
        get_api_logger().error("undocumented error code", extra={"code": error.code, "operation": spec.operation_id})
    return error_response(error)
