"""Release routes: the catalogue (create, list, read, change, delete), the lifecycle, history and editable fields."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from chalice.app import Blueprint
from pydantic import Field

from chalicelib.api.contract import Answer, Query, Reply, operation
from chalicelib.api.responses import etag, identity_of, if_match
from chalicelib.container import get_release_service
from chalicelib.models.api import (
    CreateReleaseRequest,
    ReasonRequest,
    ScheduleRequest,
    TransitionRequest,
    UnlockRequest,
    UpdateReleaseRequest,
)
from chalicelib.models.catalogue import ProductionStatus, ReleaseDetail
from chalicelib.models.views import EditableFields, HistoryPage, ReleasePage, ReleaseView
from chalicelib.services.lifecycle import READ_ONLY_FIELDS

bp = Blueprint(__name__)

Limit = Annotated[int, Field(ge=1, le=100, description="Items per page.")]
Cursor = Annotated[str, Field(min_length=1, max_length=2048, description="`next_cursor` of the previous page.")]

#: The answer of every route that returns the whole release; its 201 links to every route taking ``release_id``.
RELEASE = Answer(200, ReleaseView, headers=("ETag",))
CREATED_RELEASE = Answer(201, ReleaseView, headers=("ETag", "Location"), creates={"release_id": "$response.body#/id"})
#: What every change of a release may answer besides the validation codes.
_CHANGE = ("release_not_found", "release_locked", "concurrent_modification")
_LIFECYCLE = (
    *_CHANGE,
    "invalid_transition",
    "no_tracks",
    "scheduled_date_required",
    "scheduled_date_not_in_future",
    "not_partially_locked",
)


class ListReleasesQuery(Query):
    """``GET /releases``: an optional production ``status`` filter, ``limit`` (1..100, default 20) and ``cursor``."""

    status: ProductionStatus | None = None
    limit: Limit = 20
    cursor: Cursor | None = None


class HistoryQuery(Query):
    """``GET /releases/{id}/history``: ``limit`` (1..100, default 50) and ``cursor``."""

    limit: Limit = 50
    cursor: Cursor | None = None


def _release(detail: ReleaseDetail, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(ReleaseView.of(detail), status=status, headers={**etag(detail.release.version), **(headers or {})})


@operation(
    bp,
    "POST",
    "/releases",
    tag="releases",
    body=CreateReleaseRequest,
    read_only=READ_ONLY_FIELDS,
    answers=[CREATED_RELEASE],
    errors=["isrc_in_use"],
)
def create_release(body: CreateReleaseRequest) -> Reply:
    """Create a release.

    A new ``draft``, ``unlocked`` release owned by the caller, with its ``ETag`` and ``Location``.
    """
    detail = get_release_service().create(identity_of(bp.current_request), body.model_dump(exclude_unset=True))
    return _release(detail, status=201, headers={"Location": f"/releases/{detail.release.id}"})


@operation(
    bp,
    "GET",
    "/releases",
    tag="releases",
    query=ListReleasesQuery,
    answers=[Answer(200, ReleasePage)],
    errors=["invalid_cursor"],
)
def list_releases(query: ListReleasesQuery) -> Reply:
    """List the caller's releases.

    Newest first, optionally only those in one production ``status``; follow ``next_cursor`` for the next page.
    """
    page = get_release_service().list_releases(
        identity_of(bp.current_request), limit=query.limit, cursor=query.cursor, status=query.status
    )
    return Reply(ReleasePage(items=page.items, next_cursor=page.next_cursor))


@operation(bp, "GET", "/releases/{release_id}", tag="releases", answers=[RELEASE], errors=["release_not_found"])
def get_release(release_id: str) -> Reply:
    """Read a release.

    With its tracks in running order, collaborators and split totals; its version as ``ETag``. Administrators may
    read any owner's release.
    """
    return _release(get_release_service().detail(identity_of(bp.current_request), release_id))


@operation(
    bp,
    "PATCH",
    "/releases/{release_id}",
    tag="releases",
    body=UpdateReleaseRequest,
    read_only=READ_ONLY_FIELDS,
    if_match=True,
    answers=[RELEASE],
    errors=[*_CHANGE, "fields_locked"],
)
def update_release(release_id: str, body: UpdateReleaseRequest) -> Reply:
    """Change release fields.

    Any subset of the owner-editable fields; ``null`` clears an optional one. Fields frozen by the lock answer 409
    ``fields_locked``; a stale ``If-Match`` answers 412.
    """
    request = bp.current_request
    detail = get_release_service().update(
        identity_of(request), release_id, body.model_dump(exclude_unset=True), if_match=if_match(request)
    )
    return _release(detail)


@operation(
    bp,
    "DELETE",
    "/releases/{release_id}",
    tag="releases",
    if_match=True,
    answers=[Answer(204)],
    errors=["release_not_found", "release_locked", "transaction_too_large", "concurrent_modification"],
)
def delete_release(release_id: str) -> Reply:
    """Delete a release.

    Only an unlocked release. Its tracks, collaborators, history, artwork, uploads and share links go with it (the
    stored objects are removed by the cleanup worker right after).
    """
    request = bp.current_request
    get_release_service().delete(identity_of(request), release_id, if_match=if_match(request))
    return Reply(status=204)


@operation(
    bp,
    "POST",
    "/releases/{release_id}/transition",
    tag="lifecycle",
    body=TransitionRequest,
    if_match=True,
    answers=[RELEASE],
    errors=_LIFECYCLE,
)
def transition_release(release_id: str, body: TransitionRequest) -> Reply:
    """Move a release along its lifecycle.

    To ``to`` (draft → recording → mixed → mastered → scheduled → released → locked, or back where allowed);
    ``invalid_transition`` lists the targets allowed now.
    """
    return _transition(release_id, body.to, body.reason, scheduled_date=body.date)


@operation(
    bp,
    "POST",
    "/releases/{release_id}/schedule",
    tag="lifecycle",
    body=ScheduleRequest,
    if_match=True,
    answers=[RELEASE],
    errors=_LIFECYCLE,
)
def schedule_release(release_id: str, body: ScheduleRequest) -> Reply:
    """Schedule a mastered release.

    mastered → scheduled on ``date`` (after today, UTC; default the stored ``scheduled_release_date``); sets the
    partial lock.
    """
    return _transition(release_id, "scheduled", body.reason, scheduled_date=body.date)


@operation(
    bp,
    "POST",
    "/releases/{release_id}/release-now",
    tag="lifecycle",
    body=ReasonRequest,
    if_match=True,
    answers=[RELEASE],
    errors=_LIFECYCLE,
)
def release_now(release_id: str, body: ReasonRequest) -> Reply:
    """Release now.

    scheduled | mastered → released today; sets the partial lock and requests a DSP sync.
    """
    return _transition(release_id, "released", body.reason)


@operation(
    bp,
    "POST",
    "/releases/{release_id}/lock",
    tag="lifecycle",
    body=ReasonRequest,
    if_match=True,
    answers=[RELEASE],
    errors=_LIFECYCLE,
)
def lock_release(release_id: str, body: ReasonRequest) -> Reply:
    """Lock a released release.

    released → locked (needs the partial lock): nothing of the release may change afterwards.
    """
    return _transition(release_id, "locked", body.reason)


def _transition(
    release_id: str, target: ProductionStatus, reason: str | None, *, scheduled_date: date | None = None
) -> Reply:
    """The release after the lifecycle moved it to ``target`` (the caller's ``If-Match`` applies)."""
    request = bp.current_request
    detail = get_release_service().lifecycle.transition(
        identity_of(request),
        release_id,
        target,
        reason=reason,
        scheduled_date=scheduled_date,
        if_match=if_match(request),
    )
    return _release(detail)


@operation(
    bp,
    "POST",
    "/releases/{release_id}/unlock",
    tag="lifecycle",
    auth="admin",
    body=UnlockRequest,
    if_match=True,
    answers=[RELEASE],
    errors=["release_not_found", "not_locked", "concurrent_modification"],
)
def unlock_release(release_id: str, body: UnlockRequest) -> Reply:
    """Unlock a release (administrators).

    Any owner's release: lower the lock to ``to`` (``unlocked`` by default, or ``partial_lock``), with a history
    entry carrying the ``reason``.
    """
    request = bp.current_request
    detail = get_release_service().lifecycle.unlock(
        identity_of(request), release_id, reason=body.reason, to=body.to, if_match=if_match(request)
    )
    return _release(detail)


@operation(
    bp,
    "GET",
    "/releases/{release_id}/history",
    tag="lifecycle",
    query=HistoryQuery,
    answers=[Answer(200, HistoryPage)],
    errors=["release_not_found", "invalid_cursor"],
)
def release_history(release_id: str, query: HistoryQuery) -> Reply:
    """Read a release's history.

    Status changes, unlocks and cover changes, newest first, with who made them and why.
    """
    page = get_release_service().history(
        identity_of(bp.current_request), release_id, limit=query.limit, cursor=query.cursor
    )
    return Reply(HistoryPage(items=page.items, next_cursor=page.next_cursor))


@operation(
    bp,
    "GET",
    "/releases/{release_id}/editable-fields",
    tag="releases",
    answers=[Answer(200, EditableFields, headers=("ETag",))],
    errors=["release_not_found"],
)
def editable_fields(release_id: str) -> Reply:
    """What the caller may change now.

    The fields a PATCH may set and those frozen, whether tracks, collaborators, artwork and delete are allowed, the
    lifecycle transitions whose guards pass, and whether the caller may unlock.
    """
    view = get_release_service().editable(identity_of(bp.current_request), release_id)
    return Reply(view.editable, headers=etag(view.version))
