"""The one read-plan-write loop of the release catalogue, shared by the release, lifecycle, track and collaborator
services.

:meth:`Catalogue.mutate` reads the release's partition (one Query), lets a *plan* function check the caller's
``If-Match``, the lock rules and the guards and return the write (or None: nothing to write), sends that write as one
transaction and returns the release as written, without reading it back. When the write loses a race it reads and
plans again: at once after a version conflict (with ``If-Match`` the plan's version check then answers 412), after a
jittered exponential backoff when DynamoDB reported a transaction conflict or throttling.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.errors import ConflictError, NotFoundError, PreconditionFailedError
from chalicelib.models.catalogue import Collaborator, HistoryEntry, ProductionStatus, Release, ReleaseDetail, Track
from chalicelib.models.domain import Identity
from chalicelib.services.lifecycle import infer_release_type, running_order
from chalicelib.store.catalogue import CatalogueRepository, CatalogueWrite, ReleaseDeletion, VersionConflictError
from chalicelib.store.transactions import TransientTransactionError

log = logging.getLogger(__name__)

#: Read-plan-write attempts before a write that keeps losing races gives up (409 ``concurrent_modification``).
MAX_ATTEMPTS = 5

#: An ``If-Match`` precondition: the versions the caller accepts, or None for no precondition (absent or ``*``).
IfMatch = frozenset[int] | None
#: What a plan asks to write.
Change = CatalogueWrite | ReleaseDeletion
Plan = Callable[[ReleaseDetail], Change | None]


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def check_version(if_match: IfMatch, version: int, target: str) -> None:
    """Raise ``PreconditionFailedError`` (``version_mismatch``, 412) unless ``version`` is one ``if_match`` accepts."""
    if if_match is not None and version not in if_match:
        raise PreconditionFailedError(
            f"The {target} has changed: it is at version {version}.",
            code="version_mismatch",
            details={"target": target, "current_version": version},
        )


@dataclass(frozen=True)
class Backoff:
    """Full-jitter exponential backoff: before retry ``n`` (0-based) wait a uniform random time in
    ``[0, min(cap_s, base_s * 2**n))`` seconds (AWS Architecture Blog, *Exponential Backoff and Jitter*, 2015)."""

    base_s: float = 0.025
    cap_s: float = 1.0

    def delay(self, attempt: int, draw: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry ``attempt``; ``draw`` returns a uniform number in [0, 1)."""
        return float(draw() * min(self.cap_s, self.base_s * 2**attempt))


def not_found(release_id: str) -> NotFoundError:
    """404 ``release_not_found``: unknown, or another owner's."""
    return NotFoundError("No such release.", code="release_not_found", details={"release_id": release_id})


def gave_up() -> ConflictError:
    """409 ``concurrent_modification``: the release kept changing under ``MAX_ATTEMPTS`` attempts."""
    return ConflictError(
        "The release kept changing while this request was applied; try again.", code="concurrent_modification"
    )


class Catalogue:
    """Owner-scoped reads of a release's partition and the read-plan-write loop over them.

    ``now`` is the clock (UTC); ``sleep`` waits between retries (seconds; tests pass a recorder).
    """

    def __init__(
        self,
        repository: CatalogueRepository,
        *,
        now: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Backoff = Backoff(),
    ) -> None:
        self.repository = repository
        self.now = now
        self._sleep = sleep
        self._backoff = backoff

    def load(self, identity: Identity, release_id: str, *, admin_may_read: bool = False) -> ReleaseDetail:
        """The caller's release with its tracks and collaborators (admins may read any with ``admin_may_read``);
        ``NotFoundError`` (``release_not_found``) otherwise."""
        detail = self.repository.load(release_id)
        if detail is None:
            raise not_found(release_id)
        if detail.release.owner_id != identity.subject and not (admin_may_read and identity.is_admin):
            raise not_found(release_id)
        return detail

    def mutate(self, identity: Identity, release_id: str, plan: Plan, *, admin: bool = False) -> ReleaseDetail:
        """Read the release, let ``plan`` check the rules and return the write, send it; the release as written.

        ``plan`` raises the domain errors; None means nothing changes (the detail read is returned, nothing is
        written). Raises ``ConflictError`` (``concurrent_modification``) after ``MAX_ATTEMPTS`` lost races, and
        ``TransientTransactionError`` (503 ``throttled``) when DynamoDB kept throttling.
        """
        for attempt in range(MAX_ATTEMPTS):
            detail = self.load(identity, release_id, admin_may_read=admin)
            change = plan(detail)
            if change is None:
                return detail
            try:
                if isinstance(change, ReleaseDeletion):
                    left = self.repository.delete(change)
                    if left:
                        log.info("release %s deleted; the cleanup frees its ISRCs %s", release_id, left)
                    return detail
                self.repository.write(change)
                return applied(detail, change)
            except VersionConflictError:
                log.info("release %s changed during a write (attempt %d); reading again", release_id, attempt + 1)
            except TransientTransactionError as exc:
                if attempt == MAX_ATTEMPTS - 1:
                    if "TransactionConflict" in exc.reasons:
                        raise gave_up() from exc
                    raise
                delay = self._backoff.delay(attempt)
                log.info("release %s write cancelled (%s); retrying in %.3f s", release_id, exc.reasons, delay)
                self._sleep(delay)
        raise gave_up()

    def write(
        self,
        detail: ReleaseDetail,
        changes: Mapping[str, Any],
        *,
        tracks: list[Track] | None = None,
        history: list[HistoryEntry] | None = None,
        now: datetime | None = None,
        **children: Any,
    ) -> CatalogueWrite:
        """The transaction for ``changes`` to the release plus ``children`` writes (``CatalogueWrite`` fields);
        ``tracks`` is the track list after the change (for the summary fields and the inferred release type)."""
        after = detail.tracks if tracks is None else tracks
        release = detail.release.model_copy(
            update={
                **changes,
                "updated_at": now or self.now(),
                "track_count": len(after),
                "duration_ms": sum(t.duration_ms or 0 for t in after),
            }
        )
        inferred = infer_release_type(after)
        if release.release_type_source == "inferred":
            release = release.model_copy(update={"release_type": inferred})
        return CatalogueWrite(release=release, inferred_type=inferred, history=history or [], **children)


def _bumped[VersionedT: (Release, Track, Collaborator)](item: VersionedT) -> VersionedT:
    """``item`` as stored by a conditional put: one version past the one read (a new item, at 0, becomes 1)."""
    return item.model_copy(update={"version": item.version + 1})


def applied(before: ReleaseDetail, change: CatalogueWrite) -> ReleaseDetail:
    """The release, tracks and collaborators as ``change`` left them, in the order ``CatalogueRepository.load``
    returns them: what a read after the write would find, without the read."""
    tracks = {t.id: t for t in before.tracks}
    for track in change.delete_tracks:
        tracks.pop(track.id, None)
    tracks.update({t.id: _bumped(t) for t in change.put_tracks})
    collaborators = {c.id: c for c in before.collaborators}
    for collaborator in change.delete_collaborators:
        collaborators.pop(collaborator.id, None)
    collaborators.update({c.id: _bumped(c) for c in change.put_collaborators})
    return ReleaseDetail(
        release=_bumped(change.release),
        tracks=running_order(list(tracks.values())),
        collaborators=sorted(collaborators.values(), key=lambda c: (c.created_at, c.id)),
    )


def history_entry(
    release: Release,
    from_status: ProductionStatus | None,
    to_status: ProductionStatus,
    actor: str,
    now: datetime,
    reason: str | None,
    metadata: dict[str, Any],
) -> HistoryEntry:
    """A new history entry of ``release`` (a status change or an unlock) by ``actor`` at ``now``."""
    return HistoryEntry(
        id=uuid.uuid4().hex,
        release_id=release.id,
        from_status=from_status,
        to_status=to_status,
        changed_by=actor,
        changed_at=now,
        reason=reason,
        metadata=metadata,
    )


def find[ItemT: (Track, Collaborator)](items: list[ItemT], item_id: str, kind: str) -> ItemT:
    """The item with ``item_id``; ``NotFoundError`` (``{kind}_not_found``) otherwise."""
    for item in items:
        if item.id == item_id:
            return item
    raise NotFoundError(f"No such {kind}.", code=f"{kind}_not_found", details={f"{kind}_id": item_id})
