"""Track routes of a release: add, read, change, remove and reorder (``If-Match`` and ``ETag`` per track)."""

from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.contract import Answer, Reply, operation
from chalicelib.api.responses import etag, identity_of, if_match
from chalicelib.container import get_release_service
from chalicelib.models.api import CreateTrackRequest, TrackOrderRequest, UpdateTrackRequest
from chalicelib.models.catalogue import Track
from chalicelib.models.views import TrackList

bp = Blueprint(__name__)

TRACK = Answer(200, Track, headers=("ETag",))
#: What a change of the release's tracks may answer besides the validation codes.
_CHANGE = ("release_not_found", "release_locked", "fields_locked", "concurrent_modification")


@operation(
    bp,
    "POST",
    "/releases/{release_id}/tracks",
    tag="tracks",
    body=CreateTrackRequest,
    if_match=True,
    answers=[Answer(201, Track, headers=("ETag", "Location"), creates={"track_id": "$response.body#/id"})],
    errors=[*_CHANGE, "isrc_in_use", "track_number_taken", "too_many_tracks", "transaction_too_large"],
)
def add_track(release_id: str, body: CreateTrackRequest) -> Reply:
    """Add a track.

    At ``track_number`` (default: last on its disc); the tracks after it move down. ``If-Match`` is the release's
    version; the track's own version is its ``ETag``.
    """
    request = bp.current_request
    track = get_release_service().tracks.add(
        identity_of(request), release_id, body.model_dump(exclude_unset=True), if_match=if_match(request)
    )
    location = f"/releases/{release_id}/tracks/{track.id}"
    return Reply(track, status=201, headers={**etag(track.version), "Location": location})


@operation(
    bp,
    "GET",
    "/releases/{release_id}/tracks",
    tag="tracks",
    answers=[Answer(200, TrackList, headers=("ETag",))],
    errors=["release_not_found"],
)
def list_tracks(release_id: str) -> Reply:
    """List a release's tracks.

    In running order (disc, then track number); the release's version as ``ETag``.
    """
    detail = get_release_service().detail(identity_of(bp.current_request), release_id)
    return Reply(TrackList(items=detail.tracks), headers=etag(detail.release.version))


@operation(
    bp,
    "PUT",
    "/releases/{release_id}/tracks/order",
    tag="tracks",
    body=TrackOrderRequest,
    if_match=True,
    answers=[Answer(200, TrackList, headers=("ETag",))],
    errors=[*_CHANGE, "track_order_mismatch", "transaction_too_large"],
)
def reorder_tracks(release_id: str, body: TrackOrderRequest) -> Reply:
    """Reorder a release's tracks.

    Renumber the tracks in the order of ``track_ids`` (every track id of the release once); answers the tracks in the
    new order and the release's ``ETag``.
    """
    request = bp.current_request
    detail = get_release_service().tracks.reorder(
        identity_of(request), release_id, body.track_ids, if_match=if_match(request)
    )
    return Reply(TrackList(items=detail.tracks), headers=etag(detail.release.version))


@operation(
    bp,
    "GET",
    "/releases/{release_id}/tracks/{track_id}",
    tag="tracks",
    answers=[TRACK],
    errors=["release_not_found", "track_not_found"],
)
def get_track(release_id: str, track_id: str) -> Reply:
    """Read a track.

    Its version as ``ETag``.
    """
    track = get_release_service().tracks.get(identity_of(bp.current_request), release_id, track_id)
    return Reply(track, headers=etag(track.version))


@operation(
    bp,
    "PATCH",
    "/releases/{release_id}/tracks/{track_id}",
    tag="tracks",
    body=UpdateTrackRequest,
    if_match=True,
    answers=[TRACK],
    errors=[*_CHANGE, "track_not_found", "isrc_in_use", "track_number_taken", "transaction_too_large"],
)
def update_track(release_id: str, track_id: str, body: UpdateTrackRequest) -> Reply:
    """Change track fields.

    Any subset of the track fields; ``null`` clears an optional one. ``If-Match`` is the track's version.
    """
    request = bp.current_request
    track = get_release_service().tracks.update(
        identity_of(request), release_id, track_id, body.model_dump(exclude_unset=True), if_match=if_match(request)
    )
    return Reply(track, headers=etag(track.version))


@operation(
    bp,
    "DELETE",
    "/releases/{release_id}/tracks/{track_id}",
    tag="tracks",
    if_match=True,
    answers=[Answer(204)],
    errors=[*_CHANGE, "track_not_found", "transaction_too_large"],
)
def delete_track(release_id: str, track_id: str) -> Reply:
    """Remove a track.

    Its ISRC is freed and its disc renumbered. ``If-Match`` is the track's version.
    """
    request = bp.current_request
    get_release_service().tracks.delete(identity_of(request), release_id, track_id, if_match=if_match(request))
    return Reply(status=204)
