"""The write of one DSP sync: plan the release's new state from the fetched DSP data (again on every read-plan-write
attempt, so a concurrent edit is taken into account without asking the services again) and write it in one
transaction, or, when it does not fit in one, the idempotent track fills first in chunks and the rest last.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from chalicelib.errors import ConflictError
from chalicelib.models.catalogue import ReleaseDetail
from chalicelib.models.domain import Identity
from chalicelib.models.sync import DspConflict, ErrorInfo, ServiceSync
from chalicelib.providers.base import DSP_SERVICES
from chalicelib.services.catalogue import Catalogue, history_entry
from chalicelib.services.dsp_apply import (
    SYSTEM,
    apply_changes,
    fill_tracks,
    open_count,
    plan_lock,
    release_decisions,
    served,
)
from chalicelib.services.dsp_conflicts import carry_decisions, find_differences
from chalicelib.services.dsp_matching import match_tracks
from chalicelib.services.dsp_merge import Disagreement, MergedRelease
from chalicelib.store.catalogue import CatalogueWrite
from chalicelib.store.sync_state import StoredSyncState, SyncReport
from chalicelib.store.transactions import MAX_TRANSACTION_ITEMS, TransactionTooLargeError

log = logging.getLogger(__name__)


class SyncPlanner:
    """Plans and writes one sync of one release from the DSP data fetched once (``merged``, ``disagreements``,
    each service's ``services`` outcome); ``running`` is the state the sync was marked running with, ``requested_at``
    the message's request time and ``started`` when the services were first asked."""

    def __init__(
        self,
        catalogue: Catalogue,
        merged: MergedRelease,
        disagreements: Sequence[Disagreement],
        services: list[ServiceSync],
        running: StoredSyncState,
        requested_at: datetime,
        started: datetime,
    ) -> None:
        self._catalogue = catalogue
        self._merged = merged
        self._disagreements = disagreements
        self._services = services
        self._running = running
        self._requested_at = requested_at
        self._started = started
        #: ISRC → (release id, track id) of ISRCs another track of the owner holds, learnt from refused claims.
        self.held: dict[str, tuple[str, str]] = {}
        self.outcome: Literal["synced", "conflicts", "duplicate", "not_released"] = "synced"
        self.partial = False
        self.chunks = 0

    def write(
        self, identity: Identity, resync: timedelta
    ) -> Literal["synced", "conflicts", "duplicate", "not_released"]:
        """Write the sync (``Catalogue.mutate``); the outcome. An ISRC to fill that another track of the owner holds
        (``isrc_in_use`` from the write) becomes a conflict and the write is planned again; a write too large for one
        transaction is preceded by chunks of fills. Raises what ``mutate`` raises otherwise."""
        release_id = self._running.release_id
        for _ in range(MAX_TRANSACTION_ITEMS * 3):
            self.partial = False
            try:
                self._catalogue.mutate(identity, release_id, lambda detail: self.plan(detail, resync))
            except ConflictError as exc:
                isrc = exc.details.get("isrc")
                if exc.code != "isrc_in_use" or not isinstance(isrc, str) or isrc in self.held:
                    raise
                holder = (str(exc.details.get("release_id", "")), str(exc.details.get("track_id", "")))
                log.info("ISRC %s of release %s is held by %s: a conflict, not a fill", isrc, release_id, holder)
                self.held[isrc] = holder
                continue
            if not self.partial:
                return self.outcome
            self.chunks += 1
        raise ConflictError("The sync could not be written.", code="concurrent_modification")

    def plan(self, detail: ReleaseDetail, resync: timedelta) -> CatalogueWrite | None:
        """The write for ``detail`` as read now (None: a duplicate, or no longer syncable)."""
        release = detail.release
        if served(release, self._requested_at):
            self.outcome = "duplicate"
            return None
        if release.production_status not in ("released", "locked"):
            self.outcome = "not_released"
            return None
        now = self._catalogue.now()
        merged = self._merged
        match = match_tracks(detail.tracks, merged.tracks)
        found = find_differences(release, detail.tracks, merged, match, self._disagreements, now, held=self.held)
        conflicts = self._reopen_held(carry_decisions(release.dsp_conflicts, found.conflicts))
        filled = fill_tracks(detail.tracks, found.fills, found.track_ids, now)
        fills_only = apply_changes(release.id, detail.tracks, filled, [], now)
        release_ids = {s: merged.external_ids[s] for s in DSP_SERVICES if s in merged.external_ids}
        changes: dict[str, Any] = {
            "dsp_conflicts": conflicts,
            "dsp_ids": release_ids,
            "last_dsp_sync_at": self._started,
            "dsp_sync_due_at": now + resync,
        }
        track_changes, note, entry = fills_only, None, None
        open_now = open_count(conflicts)
        if open_now == 0:
            try:
                track_changes = apply_changes(release.id, detail.tracks, filled, conflicts, now)
                changes.update(release_decisions(conflicts))
                lock, note = plan_lock(release, len(track_changes.tracks), now)
            except ConflictError as exc:
                track_changes, lock = fills_only, None
                note = ErrorInfo(code=exc.code, message=f"The decisions were not applied: {exc.message}")
            if lock is not None:
                changes.update(lock.changes)
                metadata = {**lock.metadata, "action": "dsp_sync", "services": merged.services}
                reason = "Synced with the DSPs: no open conflict."
                entry = history_entry(release, release.production_status, "locked", SYSTEM, now, reason, metadata)
        self.outcome = "conflicts" if open_now else "synced"
        if entry is None and (track_changes.put or track_changes.delete or _changed(release.dsp_conflicts, conflicts)):
            metadata = {"action": "dsp_sync", "services": merged.services, "open_conflicts": open_now}
            status = release.production_status
            entry = history_entry(release, status, status, SYSTEM, now, None, metadata)
        state = self._running.model_copy(
            update={
                "state": self.outcome,
                "requested_at": self._requested_at,
                "served_at": self._started,
                "last_synced_at": now,
                "error": note,
                "report": SyncReport(services=self._services, matches=found.matches, unmatched=found.unmatched),
                "updated_at": now,
            }
        )
        full = self._catalogue.write(
            detail,
            changes,
            tracks=track_changes.tracks,
            put_tracks=track_changes.put,
            delete_tracks=track_changes.delete,
            claim_isrcs=track_changes.claim,
            free_isrcs=track_changes.free,
            reassign_isrcs=track_changes.reassign,
            history=[entry] if entry else [],
            sync_state=state,
            now=now,
        )
        if full.item_count() <= MAX_TRANSACTION_ITEMS:
            return full
        return self._chunk(detail, fills_only.put, fills_only.claim, now, full.item_count())

    def _chunk(
        self,
        detail: ReleaseDetail,
        puts: Sequence[Any],
        claims: Sequence[tuple[str, str]],
        now: datetime,
        needed: int,
    ) -> CatalogueWrite:
        """As many idempotent fills as one transaction holds beside the release item (a track with its new ISRC's
        claim counts two). Raises ``TransactionTooLargeError`` when there is no fill left to write ahead."""
        claim_of = {track_id: isrc for isrc, track_id in claims}
        room = MAX_TRANSACTION_ITEMS - 1
        chunk, chunk_claims = [], []
        for track in puts:
            cost = 2 if track.id in claim_of else 1
            if cost > room:
                break
            room -= cost
            chunk.append(track)
            if track.id in claim_of:
                chunk_claims.append((claim_of[track.id], track.id))
        if not chunk:
            raise TransactionTooLargeError(needed)
        self.partial = True
        replaced = {track.id: track for track in chunk}
        tracks = [replaced.get(track.id, track) for track in detail.tracks]
        return self._catalogue.write(detail, {}, tracks=tracks, put_tracks=chunk, claim_isrcs=chunk_claims, now=now)

    def _reopen_held(self, conflicts: list[DspConflict]) -> list[DspConflict]:
        """Decisions that take an ISRC another track of the owner holds are reopened (they cannot be applied)."""
        reopened = []
        for conflict in conflicts:
            decided = conflict.value if conflict.resolution == "merge" else conflict.dsp_value
            taking = conflict.status == "resolved" and conflict.resolution != "keep_local"
            if conflict.field == "isrc" and taking and decided in self.held:
                conflict = conflict.model_copy(
                    update={"status": "open", "resolution": None, "value": None, "resolved_at": None}
                )
            reopened.append(conflict)
        return reopened


def _changed(before: Sequence[DspConflict], after: Sequence[DspConflict]) -> bool:
    """Whether the conflicts differ in anything but their refreshed values (ids, status or decision)."""
    key = [(c.id, c.status, c.resolution) for c in before]
    return key != [(c.id, c.status, c.resolution) for c in after]
