"""Release routes: ``POST /releases``, ``GET /releases``, ``GET /releases/{release_id}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice.app import Blueprint

from chalicelib.api.responses import identity_of, json_response, parse_body, query_int, route
from chalicelib.container import get_release_service
from chalicelib.models.api import CreateReleaseRequest
from chalicelib.models.domain import Release

bp = Blueprint(__name__)


def release_body(release: Release) -> dict[str, Any]:
    """The public JSON of a release (``owner_id`` omitted: it is the caller)."""
    return release.model_dump(mode="json", exclude={"owner_id"})


def _etag(release: Release) -> dict[str, str]:
    return {"ETag": f'"{release.version}"'}


@route(bp, "/releases", methods=["POST"])
def create_release() -> object:
    """201 with the new release."""
    request = bp.current_request
    body = parse_body(request, CreateReleaseRequest)
    release = get_release_service().create(
        identity_of(request),
        title=body.title,
        artist=body.artist,
        artwork_url=str(body.artwork_url) if body.artwork_url else None,
    )
    return json_response(
        release_body(release), status=201, headers={**_etag(release), "Location": f"/releases/{release.id}"}
    )


@route(bp, "/releases", methods=["GET"])
def list_releases() -> object:
    """The caller's releases newest first: ``{"items": [...], "next_cursor"}``; ``?limit=1..100&cursor=``."""
    request = bp.current_request
    limit = query_int(request, "limit", default=20, minimum=1, maximum=100)
    params: Mapping[str, str] = request.query_params or {}
    cursor = params.get("cursor")
    page = get_release_service().list(identity_of(request), limit=limit, cursor=cursor)
    return json_response({"items": [release_body(r) for r in page.items], "next_cursor": page.next_cursor})


@route(bp, "/releases/{release_id}", methods=["GET"])
def get_release(release_id: str) -> object:
    """The release, with its version as ``ETag``."""
    release = get_release_service().get(identity_of(bp.current_request), release_id)
    return json_response(release_body(release), headers=_etag(release))
