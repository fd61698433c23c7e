"""Track routes of a release: add, read, change, remove and reorder (``If-Match`` and ``ETag`` per track)."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.api.responses import etag, identity_of, if_match, json_response, parse_body, route
from chalicelib.container import get_release_service
from chalicelib.models.api import CreateTrackRequest, TrackOrderRequest, UpdateTrackRequest

bp = Blueprint(__name__)


@route(bp, "/releases/{release_id}/tracks", methods=["POST"])
def add_track(release_id: str) -> object:
    """201 with the track; ``If-Match`` (optional) is the release's version."""
    request = bp.current_request
    body = parse_body(request, CreateTrackRequest)
    track = get_release_service().tracks.add(
        identity_of(request), release_id, body.model_dump(exclude_unset=True), if_match=if_match(request)
    )
    location = f"/releases/{release_id}/tracks/{track.id}"
    return json_response(track, status=201, headers={**etag(track.version), "Location": location})


@route(bp, "/releases/{release_id}/tracks", methods=["GET"])
def list_tracks(release_id: str) -> object:
    """``{"items": [...]}`` in running order (disc, then track number)."""
    detail = get_release_service().detail(identity_of(bp.current_request), release_id)
    return json_response(
        {"items": [t.model_dump(mode="json") for t in detail.tracks]}, headers=etag(detail.release.version)
    )


@route(bp, "/releases/{release_id}/tracks/order", methods=["PUT"])
def reorder_tracks(release_id: str) -> object:
    """Renumber the tracks in the order of ``track_ids``; ``{"items": [...]}`` in the new order, the release's ETag."""
    request = bp.current_request
    body = parse_body(request, TrackOrderRequest)
    detail = get_release_service().tracks.reorder(
        identity_of(request), release_id, body.track_ids, if_match=if_match(request)
    )
    return json_response(
        {"items": [t.model_dump(mode="json") for t in detail.tracks]}, headers=etag(detail.release.version)
    )


@route(bp, "/releases/{release_id}/tracks/{track_id}", methods=["GET"])
def get_track(release_id: str, track_id: str) -> object:
    """The track, its version as ``ETag``."""
    track = get_release_service().tracks.get(identity_of(bp.current_request), release_id, track_id)
    return json_response(track, headers=etag(track.version))


@route(bp, "/releases/{release_id}/tracks/{track_id}", methods=["PATCH"])
def update_track(release_id: str, track_id: str) -> object:
    """Change track fields; ``If-Match`` (optional) is the track's version."""
    request = bp.current_request
    body = parse_body(request, UpdateTrackRequest)
    track = get_release_service().tracks.update(
        identity_of(request), release_id, track_id, body.model_dump(exclude_unset=True), if_match=if_match(request)
    )
    return json_response(track, headers=etag(track.version))


@route(bp, "/releases/{release_id}/tracks/{track_id}", methods=["DELETE"])
def delete_track(release_id: str, track_id: str) -> object:
    """204; the ISRC is freed and the disc renumbered."""
    request = bp.current_request
    get_release_service().tracks.delete(identity_of(request), release_id, track_id, if_match=if_match(request))
    return Response(body="", status_code=204)
