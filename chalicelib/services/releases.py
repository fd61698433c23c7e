"""The release catalogue: releases themselves, and the services of their lifecycle, tracks and collaborators.

Every write is a read-plan-write of the release's partition through ``Catalogue.mutate`` (one Query, the rules, one
transaction conditioned on the versions read): a concurrent writer makes the transaction fail; without ``If-Match``
the service reads again and re-applies the change (nothing is lost), with one it answers 412. ``ReleaseService``
answers for releases and holds the other services: ``lifecycle`` (transitions, unlock), ``tracks``, ``collaborators``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.errors import ConflictError, UnprocessableError
from chalicelib.models.catalogue import ProductionStatus, Release, ReleaseDetail
from chalicelib.models.domain import Identity, Page
from chalicelib.models.views import EditableFields
from chalicelib.services import metrics
from chalicelib.services.catalogue import Catalogue, IfMatch, check_version, history_entry, not_found, utcnow
from chalicelib.services.collaborators import CollaboratorService
from chalicelib.services.lifecycle import (
    RELEASE_FIELDS,
    allowed_targets,
    artwork_editable,
    children_editable,
    editable_fields,
    plan_transition,
    require_fields_editable,
)
from chalicelib.services.tracks import TrackService
from chalicelib.services.transitions import MessageSink, TransitionService
from chalicelib.store.catalogue import CatalogueRepository, CatalogueWrite, ReleaseDeletion
from chalicelib.store.queues import QueueSendError

log = logging.getLogger(__name__)

#: Counted when a deleted release's cleanup request could not be queued (its marker stays; a schedule re-sends it).
CLEANUP_ENQUEUE_FAILED = "ReleaseCleanupEnqueueFailed"


@dataclass(frozen=True)
class EditableView:
    """What a caller may change on a release right now (``GET /releases/{id}/editable-fields``) and the ``version``
    of the release it was read from (its ``ETag``)."""

    editable: EditableFields
    version: int


class ReleaseService:
    """Owner-scoped catalogue operations. Another owner's release answers the same 404 as an unknown one; members of
    the ``admin`` group may read any release and unlock it, but change nothing else of another owner's.

    ``now`` is the clock (UTC; "today" is its UTC date), ``sleep`` waits between retries of a cancelled transaction.
    ``sync_queue`` receives DSP-sync requests, ``cleanup_queue`` the cleanup requests of deleted releases;
    ``count_metric`` counts failed sends.
    """

    def __init__(
        self,
        repository: CatalogueRepository,
        sync_queue: MessageSink | None = None,
        now: Callable[[], datetime] = utcnow,
        *,
        cleanup_queue: MessageSink | None = None,
        sleep: Callable[[float], None] = time.sleep,
        count_metric: metrics.CountMetric = metrics.count,
    ) -> None:
        self._catalogue = Catalogue(repository, now=now, sleep=sleep)
        self._repository = repository
        self._cleanup_queue = cleanup_queue
        self._count_metric = count_metric
        self.lifecycle = TransitionService(self._catalogue, sync_queue, count_metric)
        self.tracks = TrackService(self._catalogue)
        self.collaborators = CollaboratorService(self._catalogue)

    # -- reads ------------------------------------------------------------------------------------------------------

    def get(self, identity: Identity, release_id: str) -> Release:
        """The caller's release; ``NotFoundError`` (``release_not_found``) if unknown or another owner's."""
        release = self._repository.get(release_id)
        if release is None or release.owner_id != identity.subject:
            raise not_found(release_id)
        return release

    def get_any(self, release_id: str) -> Release | None:
        """A release whatever its owner (share links, workers); None if unknown."""
        return self._repository.get(release_id)

    def detail(self, identity: Identity, release_id: str) -> ReleaseDetail:
        """The release with its tracks and collaborators (one Query); admins may read any owner's."""
        return self._catalogue.load(identity, release_id, admin_may_read=True)

    def list_releases(
        self, identity: Identity, *, limit: int, cursor: str | None, status: ProductionStatus | None = None
    ) -> Page:
        """The caller's releases newest first, only those in ``status`` if given; ``InvalidError`` for a bad cursor."""
        if status is None:
            return self._repository.list_by_owner(identity.subject, limit=limit, cursor=cursor)
        return self._repository.list_by_status(identity.subject, status, limit=limit, cursor=cursor)

    def history(self, identity: Identity, release_id: str, *, limit: int, cursor: str | None) -> Page:
        """The release's history entries, newest first; admins may read any owner's."""
        release = self._repository.get(release_id)
        if release is None or (release.owner_id != identity.subject and not identity.is_admin):
            raise not_found(release_id)
        return self._repository.history(release.id, limit=limit, cursor=cursor)

    def editable(self, identity: Identity, release_id: str) -> EditableView:
        """What the caller may change on the release now, given its lock status and the caller's role.

        ``transitions`` lists the targets whose guards pass right now (mixing needs a track, scheduling a future
        date, locking a partial lock), so a client can offer exactly the steps that will succeed.
        """
        detail = self._catalogue.load(identity, release_id, admin_may_read=True)
        release = detail.release
        owner = release.owner_id == identity.subject
        fields = sorted(editable_fields(release.lock_status)) if owner else []
        return EditableView(
            version=release.version,
            editable=EditableFields(
                release_id=release.id,
                production_status=release.production_status,
                lock_status=release.lock_status,
                fields=fields,
                frozen_fields=sorted(RELEASE_FIELDS - set(fields)),
                tracks=owner and children_editable(release.lock_status),
                collaborators=owner and children_editable(release.lock_status),
                artwork=owner and artwork_editable(release.lock_status),
                delete=owner and release.lock_status == "unlocked",
                transitions=self._passing_transitions(detail) if owner else [],
                unlock=identity.is_admin and release.lock_status != "unlocked",
            ),
        )

    def _passing_transitions(self, detail: ReleaseDetail) -> list[ProductionStatus]:
        now = self._catalogue.now()
        passing: list[ProductionStatus] = []
        for target in allowed_targets(detail.release.production_status):
            try:
                plan_transition(detail.release, target, track_count=len(detail.tracks), today=now.date(), now=now)
            except ConflictError:
                continue
            passing.append(target)
        return passing

    # -- writes -----------------------------------------------------------------------------------------------------

    def create(self, identity: Identity, fields: Mapping[str, Any]) -> ReleaseDetail:
        """A new ``draft``, ``unlocked`` release of the caller with ``fields`` (``RELEASE_FIELDS``), and its first
        history entry (``None`` → ``draft``), written together."""
        now = self._catalogue.now()
        release = Release(
            id=uuid.uuid4().hex,
            owner_id=identity.subject,
            created_at=now,
            updated_at=now,
            **_release_fields(fields),
        )
        entry = history_entry(release, None, "draft", identity.subject, now, None, {"action": "create"})
        self._repository.write(CatalogueWrite(release=release, inferred_type=None, history=[entry]))
        return ReleaseDetail(release=release.model_copy(update={"version": 1}), tracks=[], collaborators=[])

    def update(
        self, identity: Identity, release_id: str, changes: Mapping[str, Any], *, if_match: IfMatch = None
    ) -> ReleaseDetail:
        """Change release fields; the release as written. Fields whose value would change must be editable under the
        lock status, else ``ConflictError`` (``fields_locked``, 409, ``details.fields``) and nothing changes. 412 on
        a stale If-Match. A change that changes nothing writes nothing (the version, and every ETag, stays)."""

        def plan(detail: ReleaseDetail) -> CatalogueWrite | None:
            release = detail.release
            check_version(if_match, release.version, "release")
            updates = _release_fields(changes)
            changed = {n for n, value in updates.items() if n != "release_type" and getattr(release, n) != value}
            if "release_type" in updates:
                current = release.release_type if release.release_type_source == "set" else None
                if updates["release_type"] != current:
                    changed.add("release_type")
                updates["release_type_source"] = "set" if updates["release_type"] else "inferred"
            require_fields_editable(release, changed)
            if not changed:
                return None
            return self._catalogue.write(detail, updates)

        return self._catalogue.mutate(identity, release_id, plan)

    def delete(self, identity: Identity, release_id: str, *, if_match: IfMatch = None) -> None:
        """Delete an unlocked release; ``ConflictError`` (``release_locked``) otherwise, 412 on a stale If-Match.

        One transaction deletes the release item and its ISRC claims and leaves a pending-cleanup marker; then a
        ``release_cleanup`` message asks the cleanup worker to remove the rest (tracks, collaborators, history,
        attachments, assets and their objects). A failed send is logged and counted (``ReleaseCleanupEnqueueFailed``):
        the marker stays and the cleanup schedule sends it again.
        """
        requested_at = self._catalogue.now()

        def plan(detail: ReleaseDetail) -> ReleaseDeletion:
            release = detail.release
            check_version(if_match, release.version, "release")
            if release.lock_status != "unlocked":
                raise ConflictError(
                    "Only an unlocked release can be deleted.",
                    code="release_locked",
                    details={"lock_status": release.lock_status},
                )
            isrcs = [t.isrc for t in detail.tracks if t.isrc]
            return ReleaseDeletion(release=release, isrcs=isrcs, requested_at=requested_at)

        deleted = self._catalogue.mutate(identity, release_id, plan).release
        self._request_cleanup(deleted, requested_at)

    def _request_cleanup(self, release: Release, requested_at: datetime) -> None:
        if self._cleanup_queue is None:
            return
        message = {
            "type": "release_cleanup",
            "release_id": release.id,
            "owner_id": release.owner_id,
            "requested_at": requested_at.isoformat(),
        }
        try:
            self._cleanup_queue.send(message)
        except QueueSendError as exc:
            log.warning("could not enqueue the cleanup of release %s (%s); its marker stays", release.id, exc.details)
            self._count_metric(CLEANUP_ENQUEUE_FAILED)


def _release_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - RELEASE_FIELDS
    if unknown:
        raise UnprocessableError(
            "Unknown release fields.", code="validation_error", details={"fields": sorted(unknown)}
        )
    return dict(fields)
