"""Collaborator routes of a release: credits with roles and royalty splits (``If-Match`` and ``ETag`` per item)."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.responses import etag, identity_of, if_match, json_response, parse_body, route
from chalicelib.container import get_release_service
from chalicelib.models.api import CreateCollaboratorRequest, UpdateCollaboratorRequest

bp = Blueprint(__name__)


@route(bp, "/releases/{release_id}/collaborators", methods=["POST"])
def add_collaborator(release_id: str) -> object:
    """201 with the collaborator; 422 ``split_exceeds_total`` past 100 % in its pool."""
    request = bp.current_request
    body = parse_body(request, CreateCollaboratorRequest)
    collaborator = get_release_service().collaborators.add(
        identity_of(request), release_id, body.model_dump(exclude_unset=True), if_match=if_match(request)
    )
    location = f"/releases/{release_id}/collaborators/{collaborator.id}"
    return json_response(collaborator, status=201, headers={**etag(collaborator.version), "Location": location})


@route(bp, "/releases/{release_id}/collaborators", methods=["GET"])
def list_collaborators(release_id: str) -> object:
    """``{"items": [...], "splits": {"master": {"total", "complete"}, "publishing": {...}}}``."""
    detail = get_release_service().detail(identity_of(bp.current_request), release_id)
    return json_response(
        {
            "items": [c.model_dump(mode="json") for c in detail.collaborators],
            "splits": {group: s.model_dump(mode="json") for group, s in detail.splits().items()},
        },
        headers=etag(detail.release.version),
    )


@route(bp, "/releases/{release_id}/collaborators/{collaborator_id}", methods=["GET"])
def get_collaborator(release_id: str, collaborator_id: str) -> object:
    """The collaborator, its version as ``ETag``."""
    collaborator = get_release_service().collaborators.get(identity_of(bp.current_request), release_id, collaborator_id)
    return json_response(collaborator, headers=etag(collaborator.version))


@route(bp, "/releases/{release_id}/collaborators/{collaborator_id}", methods=["PATCH"])
def update_collaborator(release_id: str, collaborator_id: str) -> object:
    """Change collaborator fields; ``If-Match`` (optional) is the collaborator's version."""
    request = bp.current_request
    body = parse_body(request, UpdateCollaboratorRequest)
    collaborator = get_release_service().collaborators.update(
        identity_of(request),
        release_id,
        collaborator_id,
        body.model_dump(exclude_unset=True),
        if_match=if_match(request),
    )
    return json_response(collaborator, headers=etag(collaborator.version))


@route(bp, "/releases/{release_id}/collaborators/{collaborator_id}", methods=["DELETE"])
def delete_collaborator(release_id: str, collaborator_id: str) -> object:
    """204."""
    request = bp.current_request
    get_release_service().collaborators.delete(
        identity_of(request), release_id, collaborator_id, if_match=if_match(request)
    )
    return Response(body="", status_code=204)
