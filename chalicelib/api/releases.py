"""Release routes: the catalogue (create, list, read, change, delete), the lifecycle, history and editable fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.api.responses import (
    etag,
    identity_of,
    if_match,
    json_response,
    parse_body,
    query_int,
    route,
)
from chalicelib.container import get_release_service
from chalicelib.errors import InvalidError
from chalicelib.models.api import (
    CreateReleaseRequest,
    ReasonRequest,
    ScheduleRequest,
    TransitionRequest,
    UnlockRequest,
    UpdateReleaseRequest,
)
from chalicelib.models.catalogue import PRODUCTION_STATUSES, ProductionStatus, Release, ReleaseDetail
from chalicelib.services.lifecycle import READ_ONLY_FIELDS

bp = Blueprint(__name__)


def release_summary(release: Release) -> dict[str, Any]:
    """The JSON of a release without its tracks and collaborators (listings)."""
    return release.model_dump(mode="json")


def release_body(detail: ReleaseDetail) -> dict[str, Any]:
    """The JSON of a release with its ``tracks`` (running order), ``collaborators`` and ``splits`` per pool."""
    return {
        **release_summary(detail.release),
        "tracks": [t.model_dump(mode="json") for t in detail.tracks],
        "collaborators": [c.model_dump(mode="json") for c in detail.collaborators],
        "splits": {group: s.model_dump(mode="json") for group, s in detail.splits().items()},
    }


def _detail_response(detail: ReleaseDetail, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return json_response(
        release_body(detail), status=status, headers={**etag(detail.release.version), **(headers or {})}
    )


@route(bp, "/releases", methods=["POST"])
def create_release() -> object:
    """201 with the new ``draft`` release, its ``ETag`` and ``Location``."""
    request = bp.current_request
    body = parse_body(request, CreateReleaseRequest, read_only=READ_ONLY_FIELDS)
    detail = get_release_service().create(identity_of(request), body.model_dump(exclude_unset=True))
    return _detail_response(detail, status=201, headers={"Location": f"/releases/{detail.release.id}"})


@route(bp, "/releases", methods=["GET"])
def list_releases() -> object:
    """The caller's releases newest first: ``{"items": [...], "next_cursor"}``; ``?status=&limit=1..100&cursor=``."""
    request = bp.current_request
    params: Mapping[str, str] = request.query_params or {}
    limit = query_int(request, "limit", default=20, minimum=1, maximum=100)
    status = params.get("status") or None
    if status is not None and status not in PRODUCTION_STATUSES:
        raise InvalidError(
            "status must be a production status.",
            code="invalid_query",
            details={"status": status, "allowed": list(PRODUCTION_STATUSES)},
        )
    page = get_release_service().list_releases(
        identity_of(request),
        limit=limit,
        cursor=params.get("cursor"),
        status=status,
    )
    return json_response({"items": [release_summary(r) for r in page.items], "next_cursor": page.next_cursor})


@route(bp, "/releases/{release_id}", methods=["GET"])
def get_release(release_id: str) -> object:
    """The release with its tracks, collaborators and splits; its version as ``ETag``."""
    return _detail_response(get_release_service().detail(identity_of(bp.current_request), release_id))


@route(bp, "/releases/{release_id}", methods=["PATCH"])
def update_release(release_id: str) -> object:
    """Change release fields (``If-Match`` optional; 412 when stale, 409 ``fields_locked`` for frozen fields)."""
    request = bp.current_request
    body = parse_body(request, UpdateReleaseRequest, read_only=READ_ONLY_FIELDS)
    detail = get_release_service().update(
        identity_of(request), release_id, body.model_dump(exclude_unset=True), if_match=if_match(request)
    )
    return _detail_response(detail)


@route(bp, "/releases/{release_id}", methods=["DELETE"])
def delete_release(release_id: str) -> object:
    """204; only an unlocked release (409 ``release_locked`` otherwise)."""
    request = bp.current_request
    get_release_service().delete(identity_of(request), release_id, if_match=if_match(request))
    return Response(body="", status_code=204)


@route(bp, "/releases/{release_id}/transition", methods=["POST"])
def transition_release(release_id: str) -> object:
    """Move to ``to`` along the lifecycle; 409 ``invalid_transition`` lists the allowed targets."""
    request = bp.current_request
    body = parse_body(request, TransitionRequest)
    detail = get_release_service().lifecycle.transition(
        identity_of(request),
        release_id,
        body.to,
        reason=body.reason,
        scheduled_date=body.date,
        if_match=if_match(request),
    )
    return _detail_response(detail)


@route(bp, "/releases/{release_id}/schedule", methods=["POST"])
def schedule_release(release_id: str) -> object:
    """mastered → scheduled on ``date`` (future); sets ``partial_lock``."""
    request = bp.current_request
    body = parse_body(request, ScheduleRequest)
    detail = get_release_service().lifecycle.transition(
        identity_of(request),
        release_id,
        "scheduled",
        reason=body.reason,
        scheduled_date=body.date,
        if_match=if_match(request),
    )
    return _detail_response(detail)


@route(bp, "/releases/{release_id}/release-now", methods=["POST"])
def release_now(release_id: str) -> object:
    """scheduled | mastered → released today; sets ``partial_lock`` and requests a DSP sync."""
    return _named_transition(release_id, "released")


@route(bp, "/releases/{release_id}/lock", methods=["POST"])
def lock_release(release_id: str) -> object:
    """released → locked (needs ``partial_lock``)."""
    return _named_transition(release_id, "locked")


def _named_transition(release_id: str, target: ProductionStatus) -> Response:
    request = bp.current_request
    body = parse_body(request, ReasonRequest)
    detail = get_release_service().lifecycle.transition(
        identity_of(request), release_id, target, reason=body.reason, if_match=if_match(request)
    )
    return _detail_response(detail)


@route(bp, "/releases/{release_id}/unlock", methods=["POST"])
def unlock_release(release_id: str) -> object:
    """Administrators only (403 ``admin_only``), any owner's release: lower the lock to ``to`` (``unlocked`` by
    default, or ``partial_lock``) with a history entry."""
    request = bp.current_request
    body = parse_body(request, UnlockRequest)
    detail = get_release_service().lifecycle.unlock(
        identity_of(request), release_id, reason=body.reason, to=body.to, if_match=if_match(request)
    )
    return _detail_response(detail)


@route(bp, "/releases/{release_id}/history", methods=["GET"])
def release_history(release_id: str) -> object:
    """The history entries newest first: ``{"items": [...], "next_cursor"}``; ``?limit=1..100&cursor=``."""
    request = bp.current_request
    limit = query_int(request, "limit", default=50, minimum=1, maximum=100)
    params: Mapping[str, str] = request.query_params or {}
    page = get_release_service().history(identity_of(request), release_id, limit=limit, cursor=params.get("cursor"))
    return json_response({"items": [e.model_dump(mode="json") for e in page.items], "next_cursor": page.next_cursor})


@route(bp, "/releases/{release_id}/editable-fields", methods=["GET"])
def editable_fields(release_id: str) -> object:
    """What the caller may change now: ``fields``, ``frozen_fields``, and whether tracks, collaborators, artwork,
    delete and unlock are allowed, plus the ``transitions`` available."""
    view = get_release_service().editable(identity_of(bp.current_request), release_id)
    release = view.release
    return json_response(
        {
            "release_id": release.id,
            "production_status": release.production_status,
            "lock_status": release.lock_status,
            "fields": view.fields,
            "frozen_fields": view.frozen_fields,
            "tracks": view.tracks,
            "collaborators": view.collaborators,
            "artwork": view.artwork,
            "delete": view.delete,
            "transitions": view.transitions,
            "unlock": view.unlock,
        },
        headers=etag(release.version),
    )
