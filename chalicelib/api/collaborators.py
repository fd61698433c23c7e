"""Collaborator routes of a release: credits with roles and royalty splits (``If-Match`` and ``ETag`` per item)."""

from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.contract import Answer, Reply, operation
from chalicelib.api.responses import etag, identity_of, if_match
from chalicelib.container import get_release_service
from chalicelib.models.api import CreateCollaboratorRequest, UpdateCollaboratorRequest
from chalicelib.models.catalogue import Collaborator
from chalicelib.models.views import CollaboratorList

bp = Blueprint(__name__)

COLLABORATOR = Answer(200, Collaborator, headers=("ETag",))
#: What a change of the release's collaborators may answer besides the validation codes.
_CHANGE = ("release_not_found", "release_locked", "fields_locked", "concurrent_modification")


@operation(
    bp,
    "POST",
    "/releases/{release_id}/collaborators",
    tag="collaborators",
    body=CreateCollaboratorRequest,
    if_match=True,
    answers=[
        Answer(201, Collaborator, headers=("ETag", "Location"), creates={"collaborator_id": "$response.body#/id"})
    ],
    errors=[*_CHANGE, "split_exceeds_total"],
)
def add_collaborator(release_id: str, body: CreateCollaboratorRequest) -> Reply:
    """Credit a collaborator.

    With a ``role`` and an optional royalty ``split`` in percent; 422 ``split_exceeds_total`` past 100 % in the
    role's pool (master or publishing).
    """
    request = bp.current_request
    collaborator = get_release_service().collaborators.add(
        identity_of(request), release_id, body.model_dump(exclude_unset=True), if_match=if_match(request)
    )
    location = f"/releases/{release_id}/collaborators/{collaborator.id}"
    return Reply(collaborator, status=201, headers={**etag(collaborator.version), "Location": location})


@operation(
    bp,
    "GET",
    "/releases/{release_id}/collaborators",
    tag="collaborators",
    answers=[Answer(200, CollaboratorList, headers=("ETag",))],
    errors=["release_not_found"],
)
def list_collaborators(release_id: str) -> Reply:
    """List a release's collaborators.

    With the split totals per royalty pool and whether each reaches 100 %; the release's version as ``ETag``.
    """
    detail = get_release_service().detail(identity_of(bp.current_request), release_id)
    body = CollaboratorList(items=detail.collaborators, splits=detail.splits())  # type: ignore[arg-type]
    return Reply(body, headers=etag(detail.release.version))


@operation(
    bp,
    "GET",
    "/releases/{release_id}/collaborators/{collaborator_id}",
    tag="collaborators",
    answers=[COLLABORATOR],
    errors=["release_not_found", "collaborator_not_found"],
)
def get_collaborator(release_id: str, collaborator_id: str) -> Reply:
    """Read a collaborator.

    Its version as ``ETag``.
    """
    collaborator = get_release_service().collaborators.get(identity_of(bp.current_request), release_id, collaborator_id)
    return Reply(collaborator, headers=etag(collaborator.version))


@operation(
    bp,
    "PATCH",
    "/releases/{release_id}/collaborators/{collaborator_id}",
    tag="collaborators",
    body=UpdateCollaboratorRequest,
    if_match=True,
    answers=[COLLABORATOR],
    errors=[*_CHANGE, "collaborator_not_found", "split_exceeds_total"],
)
def update_collaborator(release_id: str, collaborator_id: str, body: UpdateCollaboratorRequest) -> Reply:
    """Change collaborator fields.

    Any subset of the collaborator fields; ``If-Match`` is the collaborator's version.
    """
    request = bp.current_request
    collaborator = get_release_service().collaborators.update(
        identity_of(request),
        release_id,
        collaborator_id,
        body.model_dump(exclude_unset=True),
        if_match=if_match(request),
    )
    return Reply(collaborator, headers=etag(collaborator.version))


@operation(
    bp,
    "DELETE",
    "/releases/{release_id}/collaborators/{collaborator_id}",
    tag="collaborators",
    if_match=True,
    answers=[Answer(204)],
    errors=[*_CHANGE, "collaborator_not_found"],
)
def delete_collaborator(release_id: str, collaborator_id: str) -> Reply:
    """Remove a collaborator.

    ``If-Match`` is the collaborator's version.
    """
    request = bp.current_request
    get_release_service().collaborators.delete(
        identity_of(request), release_id, collaborator_id, if_match=if_match(request)
    )
    return Reply(status=204)
