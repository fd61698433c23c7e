"""Merging several DSPs' releases into one, as pure functions, the way Harmony does (kellnerd/harmony ``harmonizer/``).

Harmony first makes the providers' releases compatible (``harmonizer/compatibility.ts`` ``makeReleasesCompatible``):
a release whose GTIN (compared as a number, so leading zeros do not count: ``Number(release.gtin)``) or whose track
count per medium (``trackCountSummary``, e.g. ``"10+2"``) differs from the primary provider's is removed from the merge
and reported as incompatible data, a missing value being compatible with any. It then copies each property
(``harmonizer/properties.ts``: release title, GTIN, release date…; track ``isrc`` and ``length``) from the first
provider in preference order that has it (``harmonizer/merge.ts`` ``mergeRelease``). Sleeve does the same and, since
the artist decides on conflicts, also reports every field on which the merged providers disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from chalicelib.providers.base import DspRelease, DspService, DspTrack, same_gtin
from chalicelib.services.dsp_matching import LENGTH_GRACE_MS, normalise_title

type RejectionCode = Literal["gtin_mismatch", "track_count_mismatch"]


@dataclass(frozen=True)
class MergedTrack:
    """One position of the merged tracklist. ``disc_number``/``track_number`` are the reference service's; ``title``,
    ``duration_ms`` (ms), ``isrc`` and ``explicit`` come from the highest-priority service that has a value;
    ``tracks`` holds each merged service's own track at this position."""

    disc_number: int
    track_number: int
    title: str
    duration_ms: int | None
    isrc: str | None
    explicit: bool | None
    tracks: dict[DspService, DspTrack]


@dataclass(frozen=True)
class MergedRelease:
    """The merged release. ``services`` in priority order, the first the reference; ``gtin`` and ``release_date``
    from the first service that states one, ``title`` the reference's; ``release_dates``/``gtins``/``external_ids``
    per merged service; ``tracks`` in disc/track order (empty when no merged service lists tracks)."""

    services: list[DspService]
    external_ids: dict[DspService, str]
    gtin: str | None
    release_date: date | None
    title: str
    release_dates: dict[DspService, date | None]
    gtins: dict[DspService, str | None]
    tracks: list[MergedTrack]


@dataclass(frozen=True)
class Rejection:
    """A service's release left out of the merge (Harmony's incompatible data): its ``gtin`` or its track counts per
    medium differ from the reference. ``details`` holds both values and the reference service."""

    service: DspService
    code: RejectionCode
    message: str
    details: dict[str, Any]


@dataclass(frozen=True)
class Disagreement:
    """Merged services that state different values for one field: ``actual_release_date`` (release level,
    ``disc_number``/``track_number`` None), or a track's ``isrc``, ``duration_ms`` (only when they differ by more than
    2 s), ``title`` (only when they differ after ``normalise_title``) or ``explicit``. ``values`` holds each service's
    value; services without a value are left out (a missing value disagrees with nothing)."""

    field: str
    disc_number: int | None
    track_number: int | None
    values: dict[DspService, Any]


@dataclass(frozen=True)
class MergeResult:
    """``release`` None only when no release was given; ``rejected`` and ``disagreements`` in priority order."""

    release: MergedRelease | None
    rejected: list[Rejection]
    disagreements: list[Disagreement]


def _durations_differ(values: list[Any]) -> bool:
    return bool(max(values) - min(values) > LENGTH_GRACE_MS)


def _titles_differ(values: list[Any]) -> bool:
    return len({normalise_title(value) for value in values}) > 1


def _any_differ(values: list[Any]) -> bool:
    return len(set(values)) > 1


#: Track field → when the merged services' values (the services that have one) disagree.
TRACK_FIELD_RULES: dict[str, Callable[[list[Any]], bool]] = {
    "isrc": _any_differ,
    "duration_ms": _durations_differ,
    "title": _titles_differ,
    "explicit": _any_differ,
}


def merge_releases(releases: Sequence[DspRelease]) -> MergeResult:
    """Merge the releases of several services, given in priority order (the first is the reference).

    Releases are taken in priority order; each is checked against the references set by those merged before it:
    the first stated GTIN (a release stating another, compared by ``same_gtin`` so leading zeros do not count, is
    rejected ``gtin_mismatch``), then the first track counts per medium (another split is rejected
    ``track_count_mismatch``, even with the same total). A release without a GTIN or without tracks is compatible
    with any, as in Harmony, and a rejected release sets no reference. Harmony gives up when the primary provider
    states no GTIN and two others differ; here the first stating one wins. ``[]`` → ``release`` None.

    Raises ``ValueError`` when a service appears twice.
    """
    services = [release.service for release in releases]
    if len(set(services)) != len(services):
        raise ValueError(f"each service at most once: {services}")
    if not releases:
        return MergeResult(release=None, rejected=[], disagreements=[])

    rejected: list[Rejection] = []
    merged: list[DspRelease] = []
    gtin_ref: DspRelease | None = None
    tracks_ref: DspRelease | None = None
    for release in releases:
        rejection = _refusal(release, gtin_ref, tracks_ref)
        if rejection:
            rejected.append(rejection)
            continue
        merged.append(release)
        gtin_ref = gtin_ref or (release if release.gtin else None)
        tracks_ref = tracks_ref or (release if release.tracks else None)

    disagreements: list[Disagreement] = []
    dates = {release.service: release.release_date for release in merged}
    stated_dates = {service: value for service, value in dates.items() if value is not None}
    if len(set(stated_dates.values())) > 1:
        disagreements.append(Disagreement("actual_release_date", None, None, stated_dates))
    tracks = _merge_tracks([release for release in merged if release.tracks], disagreements)
    result = MergedRelease(
        services=[release.service for release in merged],
        external_ids={release.service: release.external_id for release in merged},
        gtin=gtin_ref.gtin if gtin_ref else None,
        release_date=next(iter(stated_dates.values()), None),
        title=merged[0].title,
        release_dates=dates,
        gtins={release.service: release.gtin for release in merged},
        tracks=tracks,
    )
    return MergeResult(release=result, rejected=rejected, disagreements=disagreements)


def _refusal(release: DspRelease, gtin_ref: DspRelease | None, tracks_ref: DspRelease | None) -> Rejection | None:
    """Why ``release`` cannot be merged with the references set by the releases merged before it (Harmony's checks,
    GTIN first, then the track counts per medium), or None."""
    if gtin_ref and gtin_ref.gtin and release.gtin and not same_gtin(release.gtin, gtin_ref.gtin):
        return Rejection(
            service=release.service,
            code="gtin_mismatch",
            message=f"{release.service} states GTIN {release.gtin}, {gtin_ref.service} states {gtin_ref.gtin}",
            details={"gtin": release.gtin, "reference_gtin": gtin_ref.gtin, "reference_service": gtin_ref.service},
        )
    if tracks_ref and release.tracks and release.track_counts() != tracks_ref.track_counts():
        return Rejection(
            service=release.service,
            code="track_count_mismatch",
            message=(
                f"{release.service} lists {_summary(release)} tracks per medium, "
                f"{tracks_ref.service} lists {_summary(tracks_ref)}"
            ),
            details={
                "track_counts": release.track_counts(),
                "reference_track_counts": tracks_ref.track_counts(),
                "reference_service": tracks_ref.service,
            },
        )
    return None


def _summary(release: DspRelease) -> str:
    """Harmony's track count summary: ``"10+2"``."""
    return "+".join(str(count) for count in release.track_counts())


def _merge_tracks(releases: list[DspRelease], disagreements: list[Disagreement]) -> list[MergedTrack]:
    """Position by position over releases of identical shape (priority order): the merged track, and a Disagreement
    appended for each field on which the services' values differ (``TRACK_FIELD_RULES``)."""
    if not releases:
        return []
    merged: list[MergedTrack] = []
    lists = [release.tracks for release in releases]
    for position, reference in enumerate(lists[0]):
        at_position = {release.service: tracks[position] for release, tracks in zip(releases, lists, strict=True)}
        chosen: dict[str, Any] = {}
        for name, differ in TRACK_FIELD_RULES.items():
            values = {service: getattr(track, name) for service, track in at_position.items()}
            stated = {service: value for service, value in values.items() if value is not None}
            chosen[name] = next(iter(stated.values()), None)
            if len(stated) > 1 and differ(list(stated.values())):
                disagreements.append(Disagreement(name, reference.disc_number, reference.track_number, stated))
        merged.append(
            MergedTrack(
                disc_number=reference.disc_number,
                track_number=reference.track_number,
                title=reference.title,
                duration_ms=chosen["duration_ms"],
                isrc=chosen["isrc"],
                explicit=chosen["explicit"],
                tracks=at_position,
            )
        )
    return merged
