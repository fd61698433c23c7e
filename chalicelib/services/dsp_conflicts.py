"""The DSP sync's conflict rules, as pure functions: what the merged DSP data fills in silently, what it contradicts
(a conflict the artist decides on), and how earlier decisions carry over a re-sync.

Rules (issue 9, *Conflicts, applying, locking*):

- Release fields ``upc`` and ``actual_release_date``, and per matched track ``isrc``, ``duration_ms`` (only beyond
  ``DURATION_TOLERANCE_MS``), ``title`` (only when ``dsp_matching.titles_equal`` says they differ after
  normalisation), ``track_number``, ``disc_number`` and ``explicit`` (only when the DSP rates the track): a *set* local
  value that differs from the merged DSP value is a ``local_vs_dsp`` conflict.
- An empty local ISRC or duration is *filled* from the DSP without a conflict, unless the ISRC is already used by
  another track (of this release, or of the owner's catalogue: ``held``), which makes it a conflict instead.
- Merged services that disagree with each other (``dsp_merge.Disagreement``) are ``dsp_disagreement`` conflicts; one
  replaces the ``local_vs_dsp`` conflict of the same field and track.
- A local track without a DSP match (``unmatched_local``), a DSP track without a local one (``unmatched_dsp``) and an
  ambiguous match (``ambiguous``: not applied) are conflicts on the field ``track``.

A conflict's id is a hash of its kind, field and anchor (the local track id, the DSP position, or the release), so a
re-sync that finds the same difference finds the same id: a decision made on it survives when the DSP value is the
same (``carry_decisions``); conflicts no longer found disappear.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from chalicelib.models.catalogue import Release, Track
from chalicelib.models.sync import (
    ConflictField,
    ConflictKind,
    ConflictValue,
    DspConflict,
    DspTrackSummary,
    TrackMatch,
    Unmatched,
)
from chalicelib.providers.base import DspService, same_gtin
from chalicelib.services.dsp_matching import MatchResult, titles_equal
from chalicelib.services.dsp_merge import Disagreement, MergedRelease, MergedTrack

#: Durations within this many ms of each other are the same (issue 9: "duration beyond 2 s").
DURATION_TOLERANCE_MS = 2000
#: The track fields compared on matched tracks, in the order conflicts are listed.
TRACK_FIELDS: tuple[str, ...] = ("isrc", "duration_ms", "title", "track_number", "disc_number", "explicit")
#: The release fields compared.
RELEASE_FIELDS: tuple[str, ...] = ("upc", "actual_release_date")


def conflict_id(kind: ConflictKind, field_name: ConflictField, anchor: str) -> str:
    """The stable id of a conflict: the first 24 hex digits of SHA-256 over kind, field and anchor (a local track
    id, ``dsp:{disc}:{track}`` for a DSP position, or ``release``)."""
    return hashlib.sha256(f"{kind}\x1f{field_name}\x1f{anchor}".encode()).hexdigest()[:24]


def differs(field_name: str, local: Any, dsp: Any) -> bool:
    """Whether a set local value and a DSP value disagree on ``field_name`` (either None: no)."""
    if local is None or dsp is None:
        return False
    if field_name == "duration_ms":
        return bool(abs(int(local) - int(dsp)) > DURATION_TOLERANCE_MS)
    if field_name == "title":
        return not titles_equal(str(local), str(dsp))
    if field_name == "upc":
        return not same_gtin(str(local), str(dsp))
    return bool(local != dsp)


def _plain(value: Any) -> ConflictValue:
    """A value as a conflict stores it (a date as ``YYYY-MM-DD``)."""
    if isinstance(value, date):
        return value.isoformat()
    return value  # type: ignore[no-any-return]


def local_summary(track: Track) -> dict[str, str | int | bool | None]:
    """A local track in a ``track`` conflict: title, position, ISRC, duration (ms), explicit."""
    return {
        "title": track.title,
        "disc_number": track.disc_number,
        "track_number": track.track_number,
        "isrc": track.isrc,
        "duration_ms": track.duration_ms,
        "explicit": track.explicit,
    }


def dsp_summary(track: MergedTrack) -> dict[str, str | int | bool | None]:
    """A merged DSP track in a ``track`` conflict: the local summary's keys plus ``{service}_id`` per service."""
    summary: dict[str, str | int | bool | None] = {
        "title": track.title,
        "disc_number": track.disc_number,
        "track_number": track.track_number,
        "isrc": track.isrc,
        "duration_ms": track.duration_ms,
        "explicit": track.explicit,
    }
    for service, dsp_track in track.tracks.items():
        summary[f"{service}_id"] = dsp_track.external_id
    return summary


def track_dsp_ids(track: MergedTrack) -> dict[DspService, str]:
    """Each service's id of a merged track (Spotify track id, Apple Music song id, recording MBID)."""
    return {service: dsp_track.external_id for service, dsp_track in track.tracks.items()}


def _source(track: MergedTrack, field_name: str, value: Any, services: Sequence[DspService]) -> DspService:
    """The highest-priority service whose own track states ``value`` for ``field_name`` (the reference otherwise)."""
    for service in services:
        own = track.tracks.get(service)
        if own is not None and getattr(own, field_name) == value:
            return service
    return services[0]


@dataclass
class Findings:
    """What one sync found. ``conflicts`` all open and freshly detected; ``fills`` track id → the empty fields to fill
    (``isrc``, ``duration_ms``); ``track_ids`` track id → its DSP ids; ``matches`` one per (track, service);
    ``unmatched`` the tracks left alone on either side."""

    conflicts: list[DspConflict] = field(default_factory=list)
    fills: dict[str, dict[str, Any]] = field(default_factory=dict)
    track_ids: dict[str, dict[DspService, str]] = field(default_factory=dict)
    matches: list[TrackMatch] = field(default_factory=list)
    unmatched: Unmatched = field(default_factory=Unmatched)


class _Builder:
    """Collects the conflicts of one sync (``now`` their ``detected_at``)."""

    def __init__(self, services: Sequence[DspService], now: datetime) -> None:
        self.services = services
        self.now = now
        self.conflicts: dict[tuple[str | None, str, str], DspConflict] = {}

    def add(
        self,
        kind: ConflictKind,
        field_name: ConflictField,
        anchor: str,
        *,
        track_id: str | None,
        position: tuple[int, int] | None,
        local: ConflictValue,
        dsp: ConflictValue,
        service: DspService,
        dsp_values: Mapping[DspService, ConflictValue],
    ) -> None:
        key = (track_id or anchor, field_name, kind if field_name == "track" else "value")
        self.conflicts[key] = DspConflict(
            id=conflict_id(kind, field_name, anchor),
            kind=kind,
            field=field_name,
            track_id=track_id,
            disc_number=position[0] if position else None,
            track_number=position[1] if position else None,
            local_value=local,
            dsp_value=dsp,
            service=service,
            dsp_values=dict(dsp_values),
            status="open",
            resolution=None,
            value=None,
            detected_at=self.now,
            resolved_at=None,
            resolved_by=None,
        )


def find_differences(
    release: Release,
    tracks: Sequence[Track],
    merged: MergedRelease,
    match: MatchResult,
    disagreements: Sequence[Disagreement],
    now: datetime,
    *,
    held: Mapping[str, tuple[str, str]] | None = None,
) -> Findings:
    """Compare the local ``release`` and ``tracks`` with the ``merged`` DSP release as matched by ``match``.

    ``held``: ISRC → ``(release_id, track_id)`` of ISRCs another track of the owner holds (learnt from a refused
    claim); an empty local ISRC is not filled with one, a conflict is opened instead. Returns the ``Findings``.
    """
    services = merged.services
    build = _Builder(services, now)
    found = Findings()
    by_id = {track.id: track for track in tracks}
    local_isrcs = {track.isrc: track.id for track in tracks if track.isrc}
    held = held or {}

    for name, dsp_value in (("upc", merged.gtin), ("actual_release_date", merged.release_date)):
        local_value = getattr(release, name)
        if differs(name, local_value, dsp_value):
            per_service = merged.gtins if name == "upc" else merged.release_dates
            source = next((s for s in services if per_service.get(s) == dsp_value), services[0])
            build.add(
                "local_vs_dsp",
                name,  # type: ignore[arg-type]
                "release",
                track_id=None,
                position=None,
                local=_plain(local_value),
                dsp=_plain(dsp_value),
                service=source,
                dsp_values={s: _plain(v) for s, v in per_service.items()},
            )

    matched_at: dict[int, str] = {}
    for pair in match.matches:
        local = by_id[pair.track_id]
        dsp = merged.tracks[pair.dsp_index]
        matched_at[pair.dsp_index] = local.id
        found.track_ids[local.id] = track_dsp_ids(dsp)
        for service, own in dsp.tracks.items():
            found.matches.append(
                TrackMatch(
                    track_id=local.id,
                    service=service,
                    external_id=own.external_id,
                    isrc=own.isrc,
                    method=pair.method,
                    score=round(pair.score, 4),
                )
            )
        position = (dsp.disc_number, dsp.track_number)
        for name in TRACK_FIELDS:
            local_value, dsp_value = getattr(local, name), getattr(dsp, name)
            values = {s: getattr(t, name) for s, t in dsp.tracks.items()}
            if name in ("isrc", "duration_ms") and local_value is None and dsp_value is not None:
                holder = local_isrcs.get(dsp_value) if name == "isrc" else None
                if name == "isrc" and (holder is not None or dsp_value in held):
                    build.add(
                        "local_vs_dsp",
                        "isrc",
                        local.id,
                        track_id=local.id,
                        position=position,
                        local=None,
                        dsp=dsp_value,
                        service=_source(dsp, name, dsp_value, services),
                        dsp_values=values,
                    )
                else:
                    found.fills.setdefault(local.id, {})[name] = dsp_value
                continue
            if differs(name, local_value, dsp_value):
                build.add(
                    "local_vs_dsp",
                    name,  # type: ignore[arg-type]
                    local.id,
                    track_id=local.id,
                    position=position,
                    local=local_value,
                    dsp=dsp_value,
                    service=_source(dsp, name, dsp_value, services),
                    dsp_values=values,
                )

    positions = {(t.disc_number, t.track_number): i for i, t in enumerate(merged.tracks)}
    for disagreement in disagreements:
        name = disagreement.field
        if disagreement.disc_number is None or disagreement.track_number is None:
            build.add(
                "dsp_disagreement",
                name,  # type: ignore[arg-type]
                "release",
                track_id=None,
                position=None,
                local=_plain(getattr(release, name, None)),
                dsp=_plain(next(iter(disagreement.values.values()))),
                service=next(iter(disagreement.values)),
                dsp_values={s: _plain(v) for s, v in disagreement.values.items()},
            )
            continue
        index = positions.get((disagreement.disc_number, disagreement.track_number))
        track_id = matched_at.get(index) if index is not None else None
        if track_id is None:
            continue  # the DSP track has no local counterpart: its ``track`` conflict says so
        local = by_id[track_id]
        if name in found.fills.get(track_id, {}):
            del found.fills[track_id][name]  # the DSPs disagree: nothing is filled silently
        build.add(
            "dsp_disagreement",
            name,  # type: ignore[arg-type]
            track_id,
            track_id=track_id,
            position=(disagreement.disc_number, disagreement.track_number),
            local=getattr(local, name),
            dsp=next(iter(disagreement.values.values())),
            service=next(iter(disagreement.values)),
            dsp_values=dict(disagreement.values),
        )

    primary = services[0]
    for track_id in match.unmatched_local:
        build.add(
            "unmatched_local",
            "track",
            track_id,
            track_id=track_id,
            position=None,
            local=local_summary(by_id[track_id]),
            dsp=None,
            service=primary,
            dsp_values={},
        )
        found.unmatched.local.append(track_id)
    contested: set[int] = set()
    for ambiguity in match.ambiguous:
        best = merged.tracks[ambiguity.candidates[0][0]]
        contested.update(index for index, _ in ambiguity.candidates)
        build.add(
            "ambiguous",
            "track",
            ambiguity.track_id,
            track_id=ambiguity.track_id,
            position=(best.disc_number, best.track_number),
            local=local_summary(by_id[ambiguity.track_id]),
            dsp=dsp_summary(best),
            service=primary,
            dsp_values={s: t.external_id for s, t in best.tracks.items()},
        )
        found.unmatched.local.append(ambiguity.track_id)
    for index in match.unmatched_dsp:
        dsp = merged.tracks[index]
        found.unmatched.dsp.append(
            DspTrackSummary(
                disc_number=dsp.disc_number,
                track_number=dsp.track_number,
                title=dsp.title,
                isrc=dsp.isrc,
                duration_ms=dsp.duration_ms,
                external_ids=track_dsp_ids(dsp),
            )
        )
        if index in contested:
            continue  # offered by the ambiguity's conflict
        build.add(
            "unmatched_dsp",
            "track",
            f"dsp:{dsp.disc_number}:{dsp.track_number}",
            track_id=None,
            position=(dsp.disc_number, dsp.track_number),
            local=None,
            dsp=dsp_summary(dsp),
            service=next(iter(dsp.tracks), primary),
            dsp_values={s: t.external_id for s, t in dsp.tracks.items()},
        )
    found.conflicts = list(build.conflicts.values())
    return found


def carry_decisions(previous: Sequence[DspConflict], found: Sequence[DspConflict]) -> list[DspConflict]:
    """The release's conflicts after a sync: each ``found`` conflict, carrying the decision of a resolved one with
    the same id and the same ``dsp_value`` (its ``local_value`` refreshed), or the ``detected_at`` of an open one with
    the same id; previous conflicts not found again are dropped."""
    before = {conflict.id: conflict for conflict in previous}
    after: list[DspConflict] = []
    for conflict in found:
        earlier = before.get(conflict.id)
        if earlier is not None and earlier.status == "resolved" and earlier.dsp_value == conflict.dsp_value:
            after.append(
                earlier.model_copy(update={"local_value": conflict.local_value, "dsp_values": conflict.dsp_values})
            )
        elif earlier is not None and earlier.status == "open":
            after.append(conflict.model_copy(update={"detected_at": earlier.detected_at}))
        else:
            after.append(conflict)
    return after
