"""The release catalogue's domain objects: releases with their production lifecycle, tracks, collaborators, history."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, field_serializer

from chalicelib.models.sync import DspConflict
from chalicelib.providers.base import DspService

type ProductionStatus = Literal["draft", "recording", "mixed", "mastered", "scheduled", "released", "locked"]
type LockStatus = Literal["unlocked", "partial_lock", "locked"]
type ReleaseType = Literal["single", "ep", "album"]
type DistributionStatus = Literal["not_submitted", "submitted", "delivered", "live", "rejected", "taken_down"]

PRODUCTION_STATUSES: tuple[ProductionStatus, ...] = (
    "draft",
    "recording",
    "mixed",
    "mastered",
    "scheduled",
    "released",
    "locked",
)

type CollaboratorRole = Literal[
    "main_artist",
    "featured_artist",
    "performer",
    "producer",
    "co_producer",
    "mixer",
    "mastering_engineer",
    "recording_engineer",
    "remixer",
    "writer",
    "composer",
    "lyricist",
    "arranger",
    "publisher",
]
type RoleGroup = Literal["master", "publishing"]
#: Whether a release's ``release_type`` was set by its owner or inferred from its track count.
type ReleaseTypeSource = Literal["set", "inferred"]

#: Which royalty pool a role is paid from. A recording carries two copyrights: the sound recording (the *master*:
#: artists, producers, engineers) and the musical work (*publishing*: writers, composers, lyricists, arrangers,
#: publishers). Each pool's splits add up to 100 % on their own.
ROLE_GROUPS: dict[str, RoleGroup] = {
    "main_artist": "master",
    "featured_artist": "master",
    "performer": "master",
    "producer": "master",
    "co_producer": "master",
    "mixer": "master",
    "mastering_engineer": "master",
    "recording_engineer": "master",
    "remixer": "master",
    "writer": "publishing",
    "composer": "publishing",
    "lyricist": "publishing",
    "arranger": "publishing",
    "publisher": "publishing",
}
ROLE_GROUP_NAMES: tuple[RoleGroup, ...] = ("master", "publishing")

#: 100 % in basis points (1 bp = 0.01 %): splits are stored as integers so that sums are exact.
FULL_SPLIT_BP = 10_000


def percent_to_bp(percent: Decimal) -> int:
    """A split in percent with at most two decimals → integer basis points (``Decimal("33.33")`` → 3333).

    Raises ``ValueError`` for a finer value (``33.335``): splits are never rounded silently.
    """
    bp = percent * 100
    if bp != bp.to_integral_value():
        raise ValueError(f"a split has at most two decimals: {percent}")
    return int(bp)


def bp_to_percent(bp: int) -> Decimal:
    """Integer basis points → a percent with two decimals (3333 → ``Decimal("33.33")``)."""
    return (Decimal(bp) / 100).quantize(Decimal("0.01"))


class Track(BaseModel):
    """A track of a release. ``duration_ms`` in milliseconds, ``bpm`` beats per minute; ``isrc`` compact (12 chars)."""

    id: str
    release_id: str
    title: str
    track_number: int
    disc_number: int = 1
    duration_ms: int | None = None
    isrc: str | None = None
    explicit: bool = False
    bpm: Decimal | None = None
    musical_key: str | None = None
    production_notes: str | None = None
    #: The matched DSP tracks' ids, set by the DSP sync: Spotify track id, Apple Music song id, recording MBID.
    dsp_ids: dict[DspService, str] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    version: int = 0

    @field_serializer("bpm")
    def _bpm_number(self, value: Decimal | None) -> float | None:
        return float(value) if value is not None else None


class Collaborator(BaseModel):
    """A credited contributor of a release and their royalty split (``split`` in percent, two decimals, or None)."""

    id: str
    release_id: str
    role: CollaboratorRole
    name: str
    isrc_party_id: str | None = None
    split: Decimal | None = None
    creator_id: str | None = None
    created_at: datetime
    updated_at: datetime
    version: int = 0

    @property
    def group(self) -> RoleGroup:
        """The royalty pool of the collaborator's role (``ROLE_GROUPS``)."""
        return ROLE_GROUPS[self.role]

    @field_serializer("split")
    def _split_number(self, value: Decimal | None) -> float | None:
        return float(value) if value is not None else None


class HistoryEntry(BaseModel):
    """One audit entry of a release: a status change (or an unlock), who made it (a user id or ``system``) and why."""

    id: str
    release_id: str
    from_status: ProductionStatus | None
    to_status: ProductionStatus
    changed_by: str
    changed_at: datetime
    reason: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Release(BaseModel):
    """A release: catalogue metadata, production and lock status, DSP sync state and a version for optimistic locking.

    ``release_type`` is the type set by the owner, else the one inferred from the tracks (``release_type_source`` says
    which); ``track_count`` and ``duration_ms`` summarise the tracks. Dates are calendar dates (UTC).
    """

    id: str
    owner_id: str
    title: str
    display_artist: str
    release_type: ReleaseType | None = None
    release_type_source: ReleaseTypeSource = "inferred"
    label: str | None = None
    genre: str | None = None
    upc: str | None = None
    p_line: str | None = None
    c_line: str | None = None
    explicit: bool = False
    description: str | None = None
    production_status: ProductionStatus = "draft"
    lock_status: LockStatus = "unlocked"
    scheduled_release_date: date | None = None
    actual_release_date: date | None = None
    locked_at: datetime | None = None
    locked_by_sync: bool = False
    distributor_id: str | None = None
    distribution_status: DistributionStatus | None = None
    last_dsp_sync_at: datetime | None = None
    dsp_sync_due_at: datetime | None = None
    #: Differences between the local and the DSP data the artist decides on (set by the DSP sync and its resolve).
    dsp_conflicts: list[DspConflict] = Field(default_factory=list)
    #: The DSPs' ids of this release, set by the DSP sync: Spotify album id, Apple Music album id, release MBID.
    dsp_ids: dict[DspService, str] = Field(default_factory=dict)
    artwork_url: str | None = None
    track_count: int = 0
    duration_ms: int = 0
    created_at: datetime
    updated_at: datetime
    version: int = 0


class SplitSummary(BaseModel):
    """The splits of one royalty pool: ``total`` percent so far and whether it reaches exactly 100 %."""

    total: Decimal
    complete: bool

    @field_serializer("total")
    def _total_number(self, value: Decimal) -> float:
        return float(value)


class ReleaseDetail(BaseModel):
    """A release with its tracks (in running order), its collaborators and their split summaries per pool."""

    release: Release
    tracks: list[Track]
    collaborators: list[Collaborator]

    def splits(self) -> dict[str, SplitSummary]:
        """``{"master": SplitSummary, "publishing": SplitSummary}`` from the collaborators' splits."""
        totals = split_totals_bp(self.collaborators)
        return {
            group: SplitSummary(total=bp_to_percent(totals[group]), complete=totals[group] == FULL_SPLIT_BP)
            for group in ROLE_GROUP_NAMES
        }


def split_totals_bp(collaborators: list[Collaborator]) -> dict[RoleGroup, int]:
    """The sum of splits per royalty pool, in basis points."""
    totals: dict[RoleGroup, int] = dict.fromkeys(ROLE_GROUP_NAMES, 0)
    for collaborator in collaborators:
        if collaborator.split is not None:
            totals[collaborator.group] += percent_to_bp(collaborator.split)
    return totals
