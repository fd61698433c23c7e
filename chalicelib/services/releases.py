"""The release catalogue: releases, their production lifecycle and locks, tracks, collaborators and the audit history.

Every write is a read-modify-write of the release's partition: read the release with its tracks and collaborators
(one Query), check the caller's ``If-Match``, the lock rules and the guards, then write the release (conditioned on the
version read) with everything the change touches in one transaction. A concurrent writer makes the transaction fail;
without ``If-Match`` the service reads again and re-applies the change (nothing is lost), with one it answers 412.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from chalicelib.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PreconditionFailedError,
    UnprocessableError,
)
from chalicelib.models.catalogue import (
    FULL_SPLIT_BP,
    Collaborator,
    HistoryEntry,
    LockStatus,
    ProductionStatus,
    Release,
    ReleaseDetail,
    Track,
    bp_to_percent,
    percent_to_bp,
    split_totals_bp,
)
from chalicelib.models.domain import Identity, Page
from chalicelib.services.lifecycle import (
    RELEASE_FIELDS,
    allowed_targets,
    artwork_editable,
    children_editable,
    editable_fields,
    infer_release_type,
    plan_transition,
    require_children_editable,
    require_fields_editable,
    running_order,
)
from chalicelib.store.catalogue import CatalogueRepository, CatalogueWrite, VersionConflictError

log = logging.getLogger(__name__)

#: Tracks per release: one transaction must hold the release and every track (reordering, deleting a release with its
#: ISRC claims) and DynamoDB allows 100 items; 99 is also the Red Book limit of tracks on a CD.
MAX_TRACKS = 99
#: Read-modify-write attempts before a write that keeps losing races gives up (409 ``concurrent_modification``).
MAX_ATTEMPTS = 5


class SyncQueue(Protocol):
    """Where DSP-sync requests go (the ``sleeve-dsp-sync`` SQS queue)."""

    def send(self, message: Mapping[str, Any]) -> str:
        """Send one JSON message; returns its id."""
        ...


_LOCK_LEVEL: dict[LockStatus, int] = {"unlocked": 0, "partial_lock": 1, "locked": 2}

#: An ``If-Match`` precondition: the versions the caller accepts, or None for no precondition (absent or ``*``).
IfMatch = frozenset[int] | None


def check_version(if_match: IfMatch, version: int, target: str) -> None:
    """Raise ``PreconditionFailedError`` (``version_mismatch``, 412) unless ``version`` is one ``if_match`` accepts."""
    if if_match is not None and version not in if_match:
        raise PreconditionFailedError(
            f"The {target} has changed: it is at version {version}.",
            code="version_mismatch",
            details={"target": target, "current_version": version},
        )


@dataclass(frozen=True)
class EditableView:
    """What a caller may change on a release right now (``GET /releases/{id}/editable-fields``)."""

    release: Release
    fields: list[str]
    frozen_fields: list[str]
    tracks: bool
    collaborators: bool
    artwork: bool
    delete: bool
    transitions: list[ProductionStatus]
    unlock: bool


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ReleaseService:
    """Owner-scoped catalogue operations. Another owner's release answers the same 404 as an unknown one; members of
    the ``admin`` group may read any release and unlock it, but change nothing else of another owner's.

    ``now`` is the clock (UTC); "today" is its UTC date.
    """

    def __init__(
        self,
        repository: CatalogueRepository,
        sync_queue: SyncQueue | None = None,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._repository = repository
        self._sync_queue = sync_queue
        self._now = now

    # -- reads ------------------------------------------------------------------------------------------------------

    def get(self, identity: Identity, release_id: str) -> Release:
        """The caller's release; ``NotFoundError`` (``release_not_found``) if unknown or another owner's."""
        release = self._repository.get(release_id)
        if release is None or release.owner_id != identity.subject:
            raise _not_found(release_id)
        return release

    def get_any(self, release_id: str) -> Release | None:
        """A release whatever its owner (share links, workers); None if unknown."""
        return self._repository.get(release_id)

    def detail(self, identity: Identity, release_id: str) -> ReleaseDetail:
        """The release with its tracks and collaborators (one Query); admins may read any owner's."""
        return self._load(identity, release_id, admin_may_read=True)

    def list_releases(
        self, identity: Identity, *, limit: int, cursor: str | None, status: ProductionStatus | None = None
    ) -> Page:
        """The caller's releases newest first, only those in ``status`` if given; ``InvalidError`` for a bad cursor."""
        if status is None:
            return self._repository.list_by_owner(identity.subject, limit=limit, cursor=cursor)
        return self._repository.list_by_status(identity.subject, status, limit=limit, cursor=cursor)

    def history(self, identity: Identity, release_id: str, *, limit: int, cursor: str | None) -> Page:
        """The release's history entries, newest first."""
        release = self._read(identity, release_id)
        return self._repository.history(release.id, limit=limit, cursor=cursor)

    def editable(self, identity: Identity, release_id: str) -> EditableView:
        """What the caller may change on the release now, given its lock status and the caller's role.

        ``transitions`` lists the targets whose guards pass right now (mixing needs a track, scheduling a future
        date, locking a partial lock), so a client can offer exactly the steps that will succeed.
        """
        detail = self._load(identity, release_id, admin_may_read=True)
        release = detail.release
        owner = release.owner_id == identity.subject
        fields = sorted(editable_fields(release.lock_status)) if owner else []
        return EditableView(
            release=release,
            fields=fields,
            frozen_fields=sorted(RELEASE_FIELDS - set(fields)),
            tracks=owner and children_editable(release.lock_status),
            collaborators=owner and children_editable(release.lock_status),
            artwork=owner and artwork_editable(release.lock_status),
            delete=owner and release.lock_status == "unlocked",
            transitions=self._passing_transitions(detail) if owner else [],
            unlock=identity.is_admin and release.lock_status != "unlocked",
        )

    def _passing_transitions(self, detail: ReleaseDetail) -> list[ProductionStatus]:
        now = self._now()
        passing: list[ProductionStatus] = []
        for target in allowed_targets(detail.release.production_status):
            try:
                plan_transition(detail.release, target, track_count=len(detail.tracks), today=now.date(), now=now)
            except ConflictError:
                continue
            passing.append(target)
        return passing

    # -- releases ---------------------------------------------------------------------------------------------------

    def create(self, identity: Identity, fields: Mapping[str, Any]) -> ReleaseDetail:
        """A new ``draft``, ``unlocked`` release of the caller with ``fields`` (``RELEASE_FIELDS``), and its first
        history entry (``None`` → ``draft``), written together."""
        now = self._now()
        release = Release(
            id=uuid.uuid4().hex,
            owner_id=identity.subject,
            created_at=now,
            updated_at=now,
            **_release_fields(fields),
        )
        entry = _history_entry(release, None, "draft", identity.subject, now, None, {"action": "create"})
        self._repository.write(CatalogueWrite(release=release, inferred_type=None, history=[entry]))
        return ReleaseDetail(release=release.model_copy(update={"version": 1}), tracks=[], collaborators=[])

    def update(
        self, identity: Identity, release_id: str, changes: Mapping[str, Any], *, if_match: IfMatch = None
    ) -> ReleaseDetail:
        """Change release fields. Fields whose value would change must be editable under the lock status, else
        ``ConflictError`` (``fields_locked``, 409, ``details.fields``) and nothing changes. 412 on a stale If-Match."""

        def apply(detail: ReleaseDetail) -> CatalogueWrite | None:
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
                return None  # nothing changes: no write, so the version (and every client's If-Match) stays
            return self._write(detail, updates)

        self._mutate(identity, release_id, apply)
        return self._load(identity, release_id)

    def delete(self, identity: Identity, release_id: str, *, if_match: IfMatch = None) -> None:
        """Delete an unlocked release with everything it owns; ``ConflictError`` (``release_locked``) otherwise."""
        for attempt in range(MAX_ATTEMPTS):
            detail = self._load(identity, release_id)
            check_version(if_match, detail.release.version, "release")
            if detail.release.lock_status != "unlocked":
                raise ConflictError(
                    "Only an unlocked release can be deleted.",
                    code="release_locked",
                    details={"lock_status": detail.release.lock_status},
                )
            try:
                self._repository.delete(detail)
                return
            except VersionConflictError:
                if attempt == MAX_ATTEMPTS - 1:
                    raise _gave_up() from None

    # -- lifecycle --------------------------------------------------------------------------------------------------

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
        the history entry in the same transaction. Releasing also enqueues a DSP-sync request after the commit."""
        enqueue: list[Release] = []

        def apply(detail: ReleaseDetail) -> CatalogueWrite:
            release = detail.release
            check_version(if_match, release.version, "release")
            now = self._now()
            plan = plan_transition(
                release,
                target,
                track_count=len(detail.tracks),
                today=now.date(),
                now=now,
                scheduled_date=scheduled_date,
            )
            entry = _history_entry(
                release, release.production_status, target, identity.subject, now, reason, plan.metadata
            )
            enqueue[:] = [release] if plan.enqueue_sync else []
            return self._write(detail, plan.changes, history=[entry], now=now)

        self._mutate(identity, release_id, apply)
        if enqueue:
            self._request_sync(enqueue[0], reason="released")
        return self._load(identity, release_id)

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

        def apply(detail: ReleaseDetail) -> CatalogueWrite:
            release = detail.release
            check_version(if_match, release.version, "release")
            if _LOCK_LEVEL[to] >= _LOCK_LEVEL[release.lock_status]:
                raise ConflictError(
                    f"The release is {release.lock_status}; unlocking can only lower that.",
                    code="not_locked",
                    details={"lock_status": release.lock_status, "requested": to},
                )
            now = self._now()
            status: ProductionStatus = (
                "released" if release.production_status == "locked" else release.production_status
            )
            metadata = {
                "action": "unlock",
                "lock_status": {"from": release.lock_status, "to": to},
                "owner_id": release.owner_id,
            }
            entry = _history_entry(release, release.production_status, status, identity.subject, now, reason, metadata)
            changes = {"production_status": status, "lock_status": to, "locked_at": None, "locked_by_sync": False}
            return self._write(detail, changes, history=[entry], now=now)

        self._mutate(identity, release_id, apply, admin=True)
        return self._load(identity, release_id, admin_may_read=True)

    # -- tracks -----------------------------------------------------------------------------------------------------

    def get_track(self, identity: Identity, release_id: str, track_id: str) -> Track:
        """One track of the caller's release; ``NotFoundError`` (``track_not_found``) otherwise."""
        return _find(self._load(identity, release_id, admin_may_read=True).tracks, track_id, "track")

    def add_track(
        self, identity: Identity, release_id: str, fields: Mapping[str, Any], *, if_match: IfMatch = None
    ) -> Track:
        """Add a track (``If-Match`` is the release's version). Without ``track_number`` it goes last on its disc.

        Raises ``ConflictError``: ``release_locked``, ``too_many_tracks`` (``MAX_TRACKS``), ``track_number_taken``,
        ``isrc_in_use`` (another track of the owner's catalogue has the ISRC).
        """
        created: list[Track] = []

        def apply(detail: ReleaseDetail) -> CatalogueWrite:
            release = detail.release
            check_version(if_match, release.version, "release")
            require_children_editable(release, "Tracks")
            if len(detail.tracks) >= MAX_TRACKS:
                raise ConflictError(f"A release holds at most {MAX_TRACKS} tracks.", code="too_many_tracks")
            now = self._now()
            disc = int(fields.get("disc_number") or 1)
            number = fields.get("track_number") or _next_number(detail.tracks, disc)
            track = Track(
                id=uuid.uuid4().hex,
                release_id=release.id,
                created_at=now,
                updated_at=now,
                **{**fields, "disc_number": disc, "track_number": number},
            )
            _require_free_number(detail.tracks, track)
            created[:] = [track]
            claims = [(track.isrc, track.id)] if track.isrc else []
            return self._write(detail, {}, tracks=[*detail.tracks, track], put_tracks=[track], claim_isrcs=claims)

        self._mutate(identity, release_id, apply)
        return created[0].model_copy(update={"version": 1})

    def update_track(
        self,
        identity: Identity,
        release_id: str,
        track_id: str,
        changes: Mapping[str, Any],
        *,
        if_match: IfMatch = None,
    ) -> Track:
        """Change a track (``If-Match`` is the track's version); same errors as ``add_track``."""
        updated: list[Track] = []

        def apply(detail: ReleaseDetail) -> CatalogueWrite:
            current = _find(detail.tracks, track_id, "track")
            check_version(if_match, current.version, "track")
            require_children_editable(detail.release, "Tracks")
            now = self._now()
            update = {**changes, "updated_at": now}
            others = [t for t in detail.tracks if t.id != track_id]
            moved = "disc_number" in changes and changes["disc_number"] != current.disc_number
            if moved and "track_number" not in changes:
                update["track_number"] = _next_number(others, changes["disc_number"])
            track = Track.model_validate(current.model_copy(update=update).model_dump())
            _require_free_number(others, track)
            # A track leaving its disc leaves a gap there, closed like a deletion.
            renumbered = _close_gap(others, current.disc_number, now) if moved else []
            claims, freed = [], []
            if track.isrc != current.isrc:
                claims = [(track.isrc, track.id)] if track.isrc else []
                freed = [current.isrc] if current.isrc else []
            updated[:] = [track]
            return self._write(
                detail,
                {},
                tracks=[*_merge(others, renumbered), track],
                put_tracks=[track, *renumbered],
                claim_isrcs=claims,
                free_isrcs=freed,
            )

        self._mutate(identity, release_id, apply)
        return updated[0].model_copy(update={"version": updated[0].version + 1})

    def delete_track(self, identity: Identity, release_id: str, track_id: str, *, if_match: IfMatch = None) -> None:
        """Remove a track, free its ISRC and close the gap in its disc's numbering."""

        def apply(detail: ReleaseDetail) -> CatalogueWrite:
            track = _find(detail.tracks, track_id, "track")
            check_version(if_match, track.version, "track")
            require_children_editable(detail.release, "Tracks")
            remaining = [t for t in detail.tracks if t.id != track_id]
            renumbered = _close_gap(remaining, track.disc_number, self._now())
            return self._write(
                detail,
                {},
                tracks=_merge(remaining, renumbered),
                put_tracks=renumbered,
                delete_tracks=[track],
                free_isrcs=[track.isrc] if track.isrc else [],
            )

        self._mutate(identity, release_id, apply)

    def reorder_tracks(
        self, identity: Identity, release_id: str, track_ids: list[str], *, if_match: IfMatch = None
    ) -> ReleaseDetail:
        """Renumber the tracks in the order of ``track_ids`` (every track once; each keeps its disc, numbered from 1
        per disc). ``UnprocessableError`` (``track_order_mismatch``, 422) when the ids are not exactly the tracks."""

        def apply(detail: ReleaseDetail) -> CatalogueWrite:
            check_version(if_match, detail.release.version, "release")
            require_children_editable(detail.release, "Tracks")
            known = {t.id for t in detail.tracks}
            if len(track_ids) != len(set(track_ids)) or set(track_ids) != known:
                raise UnprocessableError(
                    "track_ids must list every track of the release exactly once.",
                    code="track_order_mismatch",
                    details={
                        "missing": sorted(known - set(track_ids)),
                        "unknown": sorted(set(track_ids) - known),
                    },
                )
            renumbered = _renumber(detail.tracks, track_ids, self._now())
            return self._write(detail, {}, tracks=_merge(detail.tracks, renumbered), put_tracks=renumbered)

        self._mutate(identity, release_id, apply)
        return self._load(identity, release_id)

    # -- collaborators ----------------------------------------------------------------------------------------------

    def get_collaborator(self, identity: Identity, release_id: str, collaborator_id: str) -> Collaborator:
        """One collaborator of the caller's release; ``NotFoundError`` (``collaborator_not_found``) otherwise."""
        return _find(
            self._load(identity, release_id, admin_may_read=True).collaborators, collaborator_id, "collaborator"
        )

    def add_collaborator(
        self, identity: Identity, release_id: str, fields: Mapping[str, Any], *, if_match: IfMatch = None
    ) -> Collaborator:
        """Credit a collaborator (``If-Match`` is the release's version).

        Raises ``ConflictError`` (``release_locked``) and ``UnprocessableError`` (``split_exceeds_total``, 422) when
        the split would push its royalty pool past 100 %.
        """
        created: list[Collaborator] = []

        def apply(detail: ReleaseDetail) -> CatalogueWrite:
            check_version(if_match, detail.release.version, "release")
            require_children_editable(detail.release, "Collaborators")
            now = self._now()
            collaborator = Collaborator(
                id=uuid.uuid4().hex, release_id=detail.release.id, created_at=now, updated_at=now, **fields
            )
            _require_split_room([*detail.collaborators, collaborator], collaborator)
            created[:] = [collaborator]
            return self._write(detail, {}, put_collaborators=[collaborator])

        self._mutate(identity, release_id, apply)
        return created[0].model_copy(update={"version": 1})

    def update_collaborator(
        self,
        identity: Identity,
        release_id: str,
        collaborator_id: str,
        changes: Mapping[str, Any],
        *,
        if_match: IfMatch = None,
    ) -> Collaborator:
        """Change a collaborator (``If-Match`` is the collaborator's version); same errors as ``add_collaborator``."""
        updated: list[Collaborator] = []

        def apply(detail: ReleaseDetail) -> CatalogueWrite:
            current = _find(detail.collaborators, collaborator_id, "collaborator")
            check_version(if_match, current.version, "collaborator")
            require_children_editable(detail.release, "Collaborators")
            collaborator = Collaborator.model_validate(
                current.model_copy(update={**changes, "updated_at": self._now()}).model_dump()
            )
            others = [c for c in detail.collaborators if c.id != collaborator_id]
            _require_split_room([*others, collaborator], collaborator)
            updated[:] = [collaborator]
            return self._write(detail, {}, put_collaborators=[collaborator])

        self._mutate(identity, release_id, apply)
        return updated[0].model_copy(update={"version": updated[0].version + 1})

    def delete_collaborator(
        self, identity: Identity, release_id: str, collaborator_id: str, *, if_match: IfMatch = None
    ) -> None:
        """Remove a collaborator and their split."""

        def apply(detail: ReleaseDetail) -> CatalogueWrite:
            collaborator = _find(detail.collaborators, collaborator_id, "collaborator")
            check_version(if_match, collaborator.version, "collaborator")
            require_children_editable(detail.release, "Collaborators")
            return self._write(detail, {}, delete_collaborators=[collaborator])

        self._mutate(identity, release_id, apply)

    # -- internals ----------------------------------------------------------------------------------------------------

    def _read(self, identity: Identity, release_id: str) -> Release:
        release = self._repository.get(release_id)
        if release is None or (release.owner_id != identity.subject and not identity.is_admin):
            raise _not_found(release_id)
        return release

    def _load(self, identity: Identity, release_id: str, *, admin_may_read: bool = False) -> ReleaseDetail:
        detail = self._repository.load(release_id)
        if detail is None:
            raise _not_found(release_id)
        if detail.release.owner_id != identity.subject and not (admin_may_read and identity.is_admin):
            raise _not_found(release_id)
        return detail

    def _mutate(
        self,
        identity: Identity,
        release_id: str,
        apply: Callable[[ReleaseDetail], CatalogueWrite | None],
        *,
        admin: bool = False,
    ) -> None:
        """Read the release, let ``apply`` check the rules and plan the write (None: nothing to write), write it;
        read and apply again when another writer got there first."""
        for attempt in range(MAX_ATTEMPTS):
            detail = self._load(identity, release_id, admin_may_read=admin)
            change = apply(detail)
            if change is None:
                return
            try:
                self._repository.write(change)
                return
            except VersionConflictError:
                log.info("release %s changed during a write (attempt %d); retrying", release_id, attempt + 1)
        raise _gave_up()

    def _write(
        self,
        detail: ReleaseDetail,
        changes: Mapping[str, Any],
        *,
        tracks: list[Track] | None = None,
        history: list[HistoryEntry] | None = None,
        now: datetime | None = None,
        **children: Any,
    ) -> CatalogueWrite:
        """The transaction for ``changes`` to the release plus ``children`` writes; ``tracks`` is the track list
        after the change (for the summary fields and the inferred release type)."""
        after = detail.tracks if tracks is None else tracks
        release = detail.release.model_copy(
            update={
                **changes,
                "updated_at": now or self._now(),
                "track_count": len(after),
                "duration_ms": sum(t.duration_ms or 0 for t in after),
            }
        )
        inferred = infer_release_type(after)
        if release.release_type_source == "inferred":
            release = release.model_copy(update={"release_type": inferred})
        return CatalogueWrite(release=release, inferred_type=inferred, history=history or [], **children)

    def _request_sync(self, release: Release, *, reason: str) -> None:
        """Enqueue a DSP-sync request. A failure is logged, not raised: the release stays in the sparse due-for-sync
        index (``dsp_sync_due_at``), which the sync schedule reads."""
        if self._sync_queue is None:
            return
        message = {
            "type": "dsp_sync",
            "release_id": release.id,
            "owner_id": release.owner_id,
            "reason": reason,
            "requested_at": self._now().isoformat(),
        }
        try:
            self._sync_queue.send(message)
        except Exception:
            log.exception("could not enqueue the DSP sync of release %s; it stays due in the index", release.id)


def _not_found(release_id: str) -> NotFoundError:
    return NotFoundError("No such release.", code="release_not_found", details={"release_id": release_id})


def _gave_up() -> ConflictError:
    return ConflictError(
        "The release kept changing while this request was applied; try again.", code="concurrent_modification"
    )


def _release_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - RELEASE_FIELDS
    if unknown:
        raise UnprocessableError(
            "Unknown release fields.", code="validation_error", details={"fields": sorted(unknown)}
        )
    return dict(fields)


def _history_entry(
    release: Release,
    from_status: ProductionStatus | None,
    to_status: ProductionStatus,
    actor: str,
    now: datetime,
    reason: str | None,
    metadata: dict[str, Any],
) -> HistoryEntry:
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


ItemT = TypeVar("ItemT", Track, Collaborator)


def _find(items: list[ItemT], item_id: str, kind: str) -> ItemT:
    for item in items:
        if item.id == item_id:
            return item
    raise NotFoundError(f"No such {kind}.", code=f"{kind}_not_found", details={f"{kind}_id": item_id})


def _require_free_number(others: list[Track], track: Track) -> None:
    for other in others:
        if other.id != track.id and (other.disc_number, other.track_number) == (track.disc_number, track.track_number):
            raise ConflictError(
                f"Disc {track.disc_number} already has a track {track.track_number}.",
                code="track_number_taken",
                details={"disc_number": track.disc_number, "track_number": track.track_number, "track_id": other.id},
            )


def _renumber(tracks: list[Track], order: list[str], now: datetime) -> list[Track]:
    """The tracks whose number changes when each disc is numbered 1.. in ``order``."""
    by_id = {t.id: t for t in tracks}
    next_number: dict[int, int] = {}
    changed: list[Track] = []
    for track_id in order:
        track = by_id[track_id]
        number = next_number.get(track.disc_number, 1)
        next_number[track.disc_number] = number + 1
        if track.track_number != number:
            changed.append(track.model_copy(update={"track_number": number, "updated_at": now}))
    return changed


def _next_number(tracks: list[Track], disc: int) -> int:
    """The number after the last track of ``disc``."""
    return 1 + max((t.track_number for t in tracks if t.disc_number == disc), default=0)


def _close_gap(tracks: list[Track], disc: int, now: datetime) -> list[Track]:
    """The tracks of ``disc`` whose number changes when that disc is numbered 1.. in running order."""
    on_disc = [t for t in running_order(tracks) if t.disc_number == disc]
    return _renumber(on_disc, [t.id for t in on_disc], now)


def _merge(tracks: list[Track], changed: list[Track]) -> list[Track]:
    replaced = {t.id: t for t in changed}
    return [replaced.get(t.id, t) for t in tracks]


def _require_split_room(collaborators: list[Collaborator], changed: Collaborator) -> None:
    group = changed.group
    total = split_totals_bp(collaborators)[group]
    if total > FULL_SPLIT_BP:
        raise UnprocessableError(
            f"The {group} splits would add up to {bp_to_percent(total)} %, over 100 %.",
            code="split_exceeds_total",
            details={
                "group": group,
                "total": float(bp_to_percent(total)),
                "available": float(bp_to_percent(FULL_SPLIT_BP - (total - _bp(changed.split)))),
            },
        )


def _bp(split: Decimal | None) -> int:
    return percent_to_bp(split) if split is not None else 0
