"""Deciding a DSP conflict (``POST /releases/{id}/conflicts/{conflict_id}/resolve``): the decision is recorded on the
conflict with a history entry by the caller; the decision that closes the last open conflict applies every decision
in the same transaction, with the ``released → locked`` move where due (a ``system`` history entry).

Resolving is the sync's own path: it works on a partially locked or locked release (no ``require_children_editable``).
"""

from __future__ import annotations

from typing import Any

from chalicelib.errors import ConflictError, NotFoundError, UnprocessableError
from chalicelib.models.catalogue import ReleaseDetail
from chalicelib.models.domain import Identity
from chalicelib.models.sync import ConflictResolution, ConflictValue, DspConflict
from chalicelib.models.views import ResolveOutcome
from chalicelib.services.catalogue import Catalogue, IfMatch, check_version, history_entry
from chalicelib.services.dsp_apply import SYSTEM, apply_changes, checked_value, open_count, plan_lock, release_decisions
from chalicelib.store.catalogue import CatalogueWrite


def _find(conflicts: list[DspConflict], conflict_id: str) -> DspConflict:
    for conflict in conflicts:
        if conflict.id == conflict_id:
            return conflict
    raise NotFoundError("No such conflict.", code="conflict_not_found", details={"conflict_id": conflict_id})


def _decided(conflict: DspConflict, resolution: ConflictResolution, value: ConflictValue) -> ConflictValue:
    """The merged value checked for the conflict's field (None unless ``merge``).

    Raises ``UnprocessableError``: ``resolution_not_allowed`` (``merge`` on a ``track`` conflict),
    ``merge_value_required``, ``invalid_conflict_value``.
    """
    if resolution != "merge":
        return None
    if conflict.field == "track":
        raise UnprocessableError(
            "A track with no counterpart is kept or taken, not merged.",
            code="resolution_not_allowed",
            details={"field": "track", "allowed": ["keep_local", "accept_dsp"]},
        )
    if value is None:
        raise UnprocessableError(
            "A merge needs a value.", code="merge_value_required", details={"field": conflict.field}
        )
    return checked_value(conflict.field, value)


def _require_isrc_free(catalogue: Catalogue, owner_id: str, release_id: str, isrc: ConflictValue) -> None:
    """409 ``isrc_in_use`` when another release of the owner holds ``isrc`` (one GetItem; a claim within this
    release may move between its tracks)."""
    if not isinstance(isrc, str):
        return
    holder = catalogue.repository.isrc_holder(owner_id, isrc)
    if holder is not None and holder[0] != release_id:
        raise ConflictError(
            "This ISRC is already used by another track of your catalogue.",
            code="isrc_in_use",
            details={"isrc": isrc, "release_id": holder[0], "track_id": holder[1]},
        )


def resolve_conflict(
    catalogue: Catalogue,
    identity: Identity,
    release_id: str,
    conflict_id: str,
    resolution: ConflictResolution,
    value: ConflictValue,
    if_match: IfMatch,
) -> tuple[ResolveOutcome, int]:
    """Decide conflict ``conflict_id`` of the caller's release: ``keep_local`` (the local value stays),
    ``accept_dsp`` (the DSP's value is taken; on a ``track`` conflict a DSP-only track is added, a local-only one
    removed) or ``merge`` (``value`` is taken, checked for the field by ``dsp_apply.checked_value``).

    The decision and a history entry (actor, conflict id, field, decision, value) are written; when no conflict is
    left open, every decision is applied in the same transaction, and a released, partially locked release that a
    service synced moves to ``locked`` (``locked_by_sync``). Returns the outcome and the release's new version.

    Raises ``NotFoundError`` (``release_not_found``, ``conflict_not_found``), ``ConflictError``
    (``conflict_already_resolved``, ``isrc_in_use``, ``track_number_taken``, ``concurrent_modification``),
    ``UnprocessableError`` (``merge_value_required``, ``invalid_conflict_value``, ``resolution_not_allowed``),
    ``PreconditionFailedError`` (``version_mismatch``, 412).
    """
    applied = False
    decided: DspConflict | None = None

    def plan(detail: ReleaseDetail) -> CatalogueWrite:
        nonlocal applied, decided
        release = detail.release
        check_version(if_match, release.version, "release")
        conflict = _find(release.dsp_conflicts, conflict_id)
        if conflict.status == "resolved":
            raise ConflictError(
                "This conflict is already resolved.",
                code="conflict_already_resolved",
                details={"conflict_id": conflict_id, "resolution": conflict.resolution},
            )
        merged_value = _decided(conflict, resolution, value)
        if conflict.field == "isrc" and resolution != "keep_local":
            target = merged_value if resolution == "merge" else conflict.dsp_value
            _require_isrc_free(catalogue, release.owner_id, release.id, target)
        now = catalogue.now()
        decided = conflict.model_copy(
            update={
                "status": "resolved",
                "resolution": resolution,
                "value": merged_value,
                "resolved_at": now,
                "resolved_by": identity.subject,
            }
        )
        conflicts = [decided if c.id == conflict_id else c for c in release.dsp_conflicts]
        metadata: dict[str, Any] = {
            "action": "resolve_conflict",
            "conflict_id": conflict_id,
            "field": conflict.field,
            "track_id": conflict.track_id,
            "decision": resolution,
            "value": merged_value
            if resolution == "merge"
            else (conflict.dsp_value if resolution == "accept_dsp" else None),
        }
        status = release.production_status
        history = [history_entry(release, status, status, identity.subject, now, None, metadata)]
        changes: dict[str, Any] = {"dsp_conflicts": conflicts}
        applied = open_count(conflicts) == 0
        if not applied:
            return catalogue.write(detail, changes, history=history, now=now)
        track_changes = apply_changes(release.id, detail.tracks, {}, conflicts, now)
        changes.update(release_decisions(conflicts))
        if release.dsp_ids:
            lock, _ = plan_lock(release, len(track_changes.tracks), now)
            if lock is not None:
                changes.update(lock.changes)
                lock_metadata = {**lock.metadata, "action": "resolve_conflict", "conflict_id": conflict_id}
                reason = "Every DSP conflict is resolved."
                history.append(
                    history_entry(release, release.production_status, "locked", SYSTEM, now, reason, lock_metadata)
                )
        return catalogue.write(
            detail,
            changes,
            tracks=track_changes.tracks,
            put_tracks=track_changes.put,
            delete_tracks=track_changes.delete,
            claim_isrcs=track_changes.claim,
            free_isrcs=track_changes.free,
            reassign_isrcs=track_changes.reassign,
            history=history,
            now=now,
        )

    written = catalogue.mutate(identity, release_id, plan)
    release = written.release
    assert decided is not None  # set by the plan that was written
    outcome = ResolveOutcome(
        conflict=decided,
        open=open_count(release.dsp_conflicts),
        applied=applied,
        production_status=release.production_status,
        lock_status=release.lock_status,
        locked_by_sync=release.locked_by_sync,
    )
    return outcome, release.version
