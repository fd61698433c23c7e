"""The DSP sync's records and views: conflicts between local and DSP data, the per-release sync state, and the bodies
of the sync routes (``GET /releases/{id}/sync/status``, ``GET /releases/{id}/conflicts``, the resolve request).

Conflicts live on the release (``Release.dsp_conflicts``), so the release's ``ETag`` covers them; the sync state (per
service outcome, matches, unmatched tracks) is its own item in the release's partition (``store/sync_state.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.providers.base import DspService

type SyncState = Literal["never", "queued", "running", "synced", "conflicts", "failed"]
type ServiceSyncStatus = Literal["synced", "not_found", "skipped", "failed", "rejected"]
type MatchMethod = Literal["isrc", "score"]
type ConflictStatus = Literal["open", "resolved"]
type ConflictResolution = Literal["keep_local", "accept_dsp", "merge"]
#: The release's or track's own field name, or ``track`` for a track with no counterpart on the other side.
type ConflictField = Literal[
    "upc", "actual_release_date", "isrc", "duration_ms", "title", "track_number", "disc_number", "explicit", "track"
]
#: ``local_vs_dsp``: a set local value differs from the DSP's; ``dsp_disagreement``: merged DSPs disagree with each
#: other; ``unmatched_local`` / ``unmatched_dsp``: a track with no counterpart (``ambiguous`` when two DSP tracks
#: scored within the margin, so none was applied).
type ConflictKind = Literal["local_vs_dsp", "dsp_disagreement", "unmatched_local", "unmatched_dsp", "ambiguous"]
#: A field's value on one side: text, a number, a flag, a track summary (``track`` conflicts) or null.
type ConflictValue = str | int | bool | dict[str, str | int | bool | None] | None


class ErrorInfo(BaseModel):
    """Why something failed: a machine-readable ``code`` and a human ``message`` (never a credential)."""

    code: str
    message: str


class DspConflict(BaseModel):
    """One difference the artist decides on.

    ``id`` is stable across re-syncs (derived from field, track and DSP position), so a decision survives a re-sync
    that finds the same difference. ``track_id`` is the local track (None for release fields and for a DSP track with
    no local counterpart). ``service`` is the service whose value ``dsp_value`` is; ``dsp_values`` holds every merged
    service's value. ``disc_number``/``track_number`` locate the DSP track (None for release fields).
    ``resolution`` is None while ``open``; ``value`` is the merged value of a ``merge`` decision.
    """

    id: str
    kind: ConflictKind
    field: ConflictField
    track_id: str | None
    disc_number: int | None
    track_number: int | None
    local_value: ConflictValue
    dsp_value: ConflictValue
    service: DspService
    dsp_values: dict[DspService, ConflictValue]
    status: ConflictStatus
    resolution: ConflictResolution | None
    value: ConflictValue
    detected_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


class ServiceSync(BaseModel):
    """One service's outcome in the last sync: ``external_id`` of its release (Spotify album id, Apple Music album id,
    release MBID) when found; ``error`` why it was ``skipped`` (``not_configured``), ``not_found``, ``failed``
    (``rate_limited``, ``unavailable``, ``unauthorised``, ``bad_response``) or ``rejected`` (``gtin_mismatch``,
    ``track_count_mismatch``: Harmony's merge refusals)."""

    service: DspService
    status: ServiceSyncStatus
    external_id: str | None
    last_synced_at: datetime | None
    error: ErrorInfo | None


class TrackMatch(BaseModel):
    """A local track matched to one service's track: by ISRC, or by score (0..1, see ``services/dsp_matching``)."""

    track_id: str
    service: DspService
    external_id: str
    isrc: str | None
    method: MatchMethod
    score: float


class DspTrackSummary(BaseModel):
    """A DSP track in a report: position, title, ISRC, duration (ms) and every service's id."""

    disc_number: int
    track_number: int
    title: str
    isrc: str | None
    duration_ms: int | None
    external_ids: dict[DspService, str]


class Unmatched(BaseModel):
    """Tracks with no counterpart: local track ids, and DSP tracks."""

    local: list[str] = Field(default_factory=list)
    dsp: list[DspTrackSummary] = Field(default_factory=list)


class SyncStatus(BaseModel):
    """``GET /releases/{id}/sync/status``: where the release's DSP sync stands.

    ``state``: ``never`` (not synced yet), ``queued``, ``running``, ``synced`` (no open conflict), ``conflicts``
    (open conflicts wait for the artist), ``failed`` (``error`` says why). ``last_synced_at`` is the end of the last
    sync that wrote; ``next_sync_at`` when the schedule will sync it again (None when not due).
    """

    model_config = ConfigDict(json_schema_extra={"title": "SyncStatus"})

    state: SyncState
    requested_at: datetime | None
    last_synced_at: datetime | None
    next_sync_at: datetime | None
    error: ErrorInfo | None
    services: list[ServiceSync]
    matches: list[TrackMatch]
    unmatched: Unmatched
    open_conflicts: int


class SyncAccepted(BaseModel):
    """``POST /releases/{id}/sync``: the sync is queued."""

    status: Literal["queued"] = "queued"


class ConflictList(BaseModel):
    """``GET /releases/{id}/conflicts``: every conflict of the release, open ones first."""

    items: list[DspConflict]
    open: int
