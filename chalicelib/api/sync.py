"""DSP sync routes: request a sync of a released release, read where it stands, list its conflicts and resolve them.

The work happens in ``services/dsp_sync.py`` (``DspSyncService``) and, for the sync itself, in the sync worker
(``workers/dsp_sync.py``); these views parse, call the service and serialise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice.app import Blueprint

from chalicelib.api.contract import Answer, Reply, operation
from chalicelib.api.responses import etag, identity_of, if_match
from chalicelib.models.api import ResolveConflictRequest
from chalicelib.models.sync import ConflictList, SyncAccepted, SyncStatus
from chalicelib.models.views import ResolveOutcome

if TYPE_CHECKING:
    from chalicelib.services.dsp_sync import DspSyncService

bp = Blueprint(__name__)

TAG = "sync"


def _service() -> DspSyncService:
    """The container's DSP sync service, looked up per call (tests swap the container's factory)."""
    from chalicelib import container

    return container.get_dsp_sync_service()


@operation(
    bp,
    "POST",
    "/releases/{release_id}/sync",
    tag=TAG,
    answers=[Answer(202, SyncAccepted, description="The sync is queued; `GET …/sync/status` follows it.")],
    errors=["release_not_found", "not_released", "queue_unavailable"],
)
def request_sync(release_id: str) -> Reply:
    """Sync a release with the DSPs.

    Queues a sync of a ``released`` or ``locked`` release (409 ``not_released`` otherwise) with Spotify, Apple Music
    and MusicBrainz; the sync worker pulls their data, matches it to the tracks and opens a conflict for each
    difference. ``GET /releases/{release_id}/sync/status`` follows it.
    """
    _service().request_sync(identity_of(bp.current_request), release_id)
    return Reply(SyncAccepted(), status=202)


@operation(
    bp,
    "GET",
    "/releases/{release_id}/sync/status",
    tag=TAG,
    answers=[Answer(200, SyncStatus)],
    errors=["release_not_found"],
)
def sync_status(release_id: str) -> Reply:
    """Read where a release's DSP sync stands.

    ``state`` (``never``, ``queued``, ``running``, ``synced``, ``conflicts``, ``failed`` with ``error``), each
    service's outcome with its external id, the track matches (by ISRC or by score) and the tracks left unmatched on
    either side. Administrators may read any owner's.
    """
    return Reply(_service().status(identity_of(bp.current_request), release_id))


@operation(
    bp,
    "GET",
    "/releases/{release_id}/conflicts",
    tag=TAG,
    answers=[Answer(200, ConflictList)],
    errors=["release_not_found"],
)
def list_conflicts(release_id: str) -> Reply:
    """List a release's DSP conflicts.

    Every difference between the local data and the DSPs' (and between the DSPs), open ones first, with the local
    value, each service's value and, once resolved, the decision. Administrators may read any owner's.
    """
    return Reply(_service().conflicts(identity_of(bp.current_request), release_id))


@operation(
    bp,
    "POST",
    "/releases/{release_id}/conflicts/{conflict_id}/resolve",
    tag=TAG,
    body=ResolveConflictRequest,
    if_match=True,
    answers=[Answer(200, ResolveOutcome, headers=("ETag",))],
    errors=[
        "release_not_found",
        "conflict_not_found",
        "conflict_already_resolved",
        "merge_value_required",
        "invalid_conflict_value",
        "resolution_not_allowed",
        "isrc_in_use",
        "track_number_taken",
        "transaction_too_large",
        "concurrent_modification",
    ],
)
def resolve_conflict(release_id: str, conflict_id: str, body: ResolveConflictRequest) -> Reply:
    """Resolve a DSP conflict.

    ``keep_local``, ``accept_dsp`` or ``merge`` with a ``value``; the decision is recorded with a history entry. When
    it was the last open conflict, every decision and the DSP data are applied together and the release is locked
    (``locked_by_sync``). The release's new version comes back as ``ETag``.
    """
    request = bp.current_request
    outcome, version = _service().resolve(
        identity_of(request),
        release_id,
        conflict_id,
        body.resolution,
        body.value,
        if_match=if_match(request),
    )
    return Reply(outcome, headers=etag(version))
