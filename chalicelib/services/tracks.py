"""Tracks of a release: add, change (move between discs, change ISRC), remove, reorder; one transaction each.

Numbers are per disc, from 1, without gaps: a track leaving a disc (deleted or moved) closes the gap behind it, on its
own disc only. An ISRC is claimed in the owner's catalogue in the same transaction that gives it to a track.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.errors import ConflictError, UnprocessableError
from chalicelib.models.catalogue import ReleaseDetail, Track
from chalicelib.models.domain import Identity
from chalicelib.services.catalogue import Catalogue, IfMatch, check_version, find
from chalicelib.services.lifecycle import require_children_editable, running_order
from chalicelib.store.catalogue import CatalogueWrite

#: Tracks per release: the Red Book limit of tracks on a CD. A release with all of them fits one transaction for a
#: reorder (99 tracks + the release); a change that needs more items is refused ``transaction_too_large``.
MAX_TRACKS = 99


class TrackService:
    """Tracks of the caller's releases; admins may read any owner's. ``If-Match`` is the release's version for adding
    and reordering, the track's for changing and removing."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue

    def get(self, identity: Identity, release_id: str, track_id: str) -> Track:
        """One track of the caller's release; ``NotFoundError`` (``track_not_found``) otherwise."""
        return find(self._catalogue.load(identity, release_id, admin_may_read=True).tracks, track_id, "track")

    def add(self, identity: Identity, release_id: str, fields: Mapping[str, Any], *, if_match: IfMatch = None) -> Track:
        """Add a track. Without ``track_number`` it goes last on its disc.

        Raises ``ConflictError``: ``release_locked``, ``too_many_tracks`` (``MAX_TRACKS``), ``track_number_taken``,
        ``isrc_in_use`` (another track of the owner's catalogue has the ISRC).
        """
        track_id = uuid.uuid4().hex

        def plan(detail: ReleaseDetail) -> CatalogueWrite:
            release = detail.release
            check_version(if_match, release.version, "release")
            require_children_editable(release, "Tracks")
            if len(detail.tracks) >= MAX_TRACKS:
                raise ConflictError(f"A release holds at most {MAX_TRACKS} tracks.", code="too_many_tracks")
            now = self._catalogue.now()
            disc = int(fields.get("disc_number") or 1)
            number = fields.get("track_number") or _next_number(detail.tracks, disc)
            track = Track(
                id=track_id,
                release_id=release.id,
                created_at=now,
                updated_at=now,
                **{**fields, "disc_number": disc, "track_number": number},
            )
            _require_free_number(detail.tracks, track)
            claims = [(track.isrc, track.id)] if track.isrc else []
            return self._catalogue.write(
                detail, {}, tracks=[*detail.tracks, track], put_tracks=[track], claim_isrcs=claims, now=now
            )

        return find(self._catalogue.mutate(identity, release_id, plan).tracks, track_id, "track")

    def update(
        self,
        identity: Identity,
        release_id: str,
        track_id: str,
        changes: Mapping[str, Any],
        *,
        if_match: IfMatch = None,
    ) -> Track:
        """Change a track; same errors as ``add``. A new ``disc_number`` without ``track_number`` puts it last on
        that disc and closes the gap on the disc it left; more than 100 items to write answers
        ``transaction_too_large``."""

        def plan(detail: ReleaseDetail) -> CatalogueWrite:
            current = find(detail.tracks, track_id, "track")
            check_version(if_match, current.version, "track")
            require_children_editable(detail.release, "Tracks")
            now = self._catalogue.now()
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
            return self._catalogue.write(
                detail,
                {},
                tracks=[*_merge(others, renumbered), track],
                put_tracks=[track, *renumbered],
                claim_isrcs=claims,
                free_isrcs=freed,
                now=now,
            )

        return find(self._catalogue.mutate(identity, release_id, plan).tracks, track_id, "track")

    def delete(self, identity: Identity, release_id: str, track_id: str, *, if_match: IfMatch = None) -> None:
        """Remove a track, free its ISRC and close the gap in its disc's numbering."""

        def plan(detail: ReleaseDetail) -> CatalogueWrite:
            track = find(detail.tracks, track_id, "track")
            check_version(if_match, track.version, "track")
            require_children_editable(detail.release, "Tracks")
            now = self._catalogue.now()
            remaining = [t for t in detail.tracks if t.id != track_id]
            renumbered = _close_gap(remaining, track.disc_number, now)
            return self._catalogue.write(
                detail,
                {},
                tracks=_merge(remaining, renumbered),
                put_tracks=renumbered,
                delete_tracks=[track],
                free_isrcs=[track.isrc] if track.isrc else [],
                now=now,
            )

        self._catalogue.mutate(identity, release_id, plan)

    def reorder(
        self, identity: Identity, release_id: str, track_ids: list[str], *, if_match: IfMatch = None
    ) -> ReleaseDetail:
        """Renumber the tracks in the order of ``track_ids`` (every track once; each keeps its disc, numbered from 1
        per disc); the release as written. ``UnprocessableError`` (``track_order_mismatch``, 422) when the ids are
        not exactly the tracks."""

        def plan(detail: ReleaseDetail) -> CatalogueWrite:
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
            now = self._catalogue.now()
            renumbered = _renumber(detail.tracks, track_ids, now)
            return self._catalogue.write(
                detail, {}, tracks=_merge(detail.tracks, renumbered), put_tracks=renumbered, now=now
            )

        return self._catalogue.mutate(identity, release_id, plan)


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
