"""Moving a release along its lifecycle (``lifecycle.plan_transition``) and the administrators' unlock, each with its
history entry in the same transaction; releasing asks for a DSP sync once the transaction is committed."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import Any, Protocol

from chalicelib.errors import ConflictError, ForbiddenError
from chalicelib.models.catalogue import LockStatus, ProductionStatus, Release, ReleaseDetail
from chalicelib.models.domain import Identity
from chalicelib.services import metrics
from chalicelib.services.catalogue import Catalogue, IfMatch, check_version, history_entry
from chalicelib.services.lifecycle import plan_transition
from chalicelib.store.catalogue import CatalogueWrite
from chalicelib.store.queues import QueueSendError

log = logging.getLogger(__name__)

_LOCK_LEVEL: dict[LockStatus, int] = {"unlocked": 0, "partial_lock": 1, "locked": 2}
#: Counted when a released release's DSP-sync request could not be queued (it stays due in gsi3 for the schedule).
SYNC_ENQUEUE_FAILED = "DspSyncEnqueueFailed"


class MessageSink(Protocol):
    """Where a service's messages go (``chalicelib.store.queues.MessageQueue``)."""

    def send(self, message: Mapping[str, Any]) -> str:
        """Send one JSON message; returns its id. Raises ``QueueSendError``."""
        ...


class TransitionService:
    """Lifecycle steps on the caller's releases, and unlocks by administrators on anyone's."""

    def __init__(
        self,
        catalogue: Catalogue,
        sync_queue: MessageSink | None = None,
        count_metric: metrics.CountMetric = metrics.count,
    ) -> None:
        self._catalogue = catalogue
        self._sync_queue = sync_queue
        self._count_metric = count_metric

    def transition(
        self,
        identity: Identity,
        release_id: str,
        target: ProductionStatus,
        *,
        reason: str | None = None,
        scheduled_date: date | None = None,
        if_match: IfMatch = None,
    ) -> ReleaseDetail:
        """Move the release to ``target`` (see ``lifecycle.plan_transition`` for guards and side effects), writing
        the history entry in the same transaction; the release as written. Releasing also enqueues a DSP-sync
        request after the commit."""
        enqueue_sync = False

        def plan(detail: ReleaseDetail) -> CatalogueWrite:
            nonlocal enqueue_sync
            release = detail.release
            check_version(if_match, release.version, "release")
            now = self._catalogue.now()
            planned = plan_transition(
                release,
                target,
                track_count=len(detail.tracks),
                today=now.date(),
                now=now,
                scheduled_date=scheduled_date,
            )
            entry = history_entry(
                release, release.production_status, target, identity.subject, now, reason, planned.metadata
            )
            enqueue_sync = planned.enqueue_sync
            return self._catalogue.write(detail, planned.changes, history=[entry], now=now)

        written = self._catalogue.mutate(identity, release_id, plan)
        if enqueue_sync:
            self._request_sync(written.release, reason="released")
        return written

    def unlock(
        self,
        identity: Identity,
        release_id: str,
        *,
        reason: str,
        to: LockStatus = "unlocked",
        if_match: IfMatch = None,
    ) -> ReleaseDetail:
        """Administrators only (``ForbiddenError``, ``admin_only``, 403), on any owner's release: lower its lock.

        ``to`` is ``unlocked`` (everything editable) or ``partial_lock`` (metadata editable; the release can be locked
        again with ``lock``). A ``locked`` release returns to ``released``; ``locked_at`` and ``locked_by_sync`` are
        cleared. The history entry records the administrator, the reason and both lock statuses.
        ``ConflictError`` (``not_locked``, 409) unless ``to`` is below the current lock status.
        """
        if not identity.is_admin:
            raise ForbiddenError("Only administrators may unlock a release.", code="admin_only")

        def plan(detail: ReleaseDetail) -> CatalogueWrite:
            release = detail.release
            check_version(if_match, release.version, "release")
            if _LOCK_LEVEL[to] >= _LOCK_LEVEL[release.lock_status]:
                raise ConflictError(
                    f"The release is {release.lock_status}; unlocking can only lower that.",
                    code="not_locked",
                    details={"lock_status": release.lock_status, "requested": to},
                )
            now = self._catalogue.now()
            status: ProductionStatus = (
                "released" if release.production_status == "locked" else release.production_status
            )
            metadata = {
                "action": "unlock",
                "lock_status": {"from": release.lock_status, "to": to},
                "owner_id": release.owner_id,
            }
            entry = history_entry(release, release.production_status, status, identity.subject, now, reason, metadata)
            changes = {"production_status": status, "lock_status": to, "locked_at": None, "locked_by_sync": False}
            return self._catalogue.write(detail, changes, history=[entry], now=now)

        return self._catalogue.mutate(identity, release_id, plan, admin=True)

    def _request_sync(self, release: Release, *, reason: str) -> None:
        """Enqueue a DSP-sync request. A failed send is logged and counted (``DspSyncEnqueueFailed``), not raised:
        the release stays in the sparse due-for-sync index (``dsp_sync_due_at``), which the sync schedule reads."""
        if self._sync_queue is None:
            return
        message = {
            "type": "dsp_sync",
            "release_id": release.id,
            "owner_id": release.owner_id,
            "reason": reason,
            "requested_at": self._catalogue.now().isoformat(),
        }
        try:
            self._sync_queue.send(message)
        except QueueSendError as exc:
            log.warning(
                "could not enqueue the DSP sync of release %s (%s); it stays due in the index", release.id, exc.details
            )
            self._count_metric(SYNC_ENQUEUE_FAILED)
