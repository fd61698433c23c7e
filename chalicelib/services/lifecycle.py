"""The production lifecycle and the lock rules of a release, as pure functions over domain objects.

Nothing here reads or writes storage: ``plan_transition`` says what a transition changes (or which guard refuses it),
the release service applies that plan in one DynamoDB transaction with its history entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from chalicelib.errors import ConflictError
from chalicelib.models.catalogue import LockStatus, ProductionStatus, Release, ReleaseType, Track


@dataclass(frozen=True)
class Transition:
    """A named step of the lifecycle: from any of ``sources`` to ``target``."""

    name: str
    sources: tuple[ProductionStatus, ...]
    target: ProductionStatus


TRANSITIONS: tuple[Transition, ...] = (
    Transition("start_recording", ("draft",), "recording"),
    Transition("complete_mixing", ("draft", "recording"), "mixed"),
    Transition("complete_mastering", ("mixed",), "mastered"),
    Transition("schedule", ("mastered",), "scheduled"),
    Transition("release", ("scheduled", "mastered"), "released"),
    Transition("lock", ("released",), "locked"),
)

#: Release fields an owner may PATCH while the release is unlocked.
RELEASE_FIELDS: frozenset[str] = frozenset(
    {
        "title",
        "display_artist",
        "release_type",
        "label",
        "genre",
        "upc",
        "p_line",
        "c_line",
        "explicit",
        "description",
        "scheduled_release_date",
        "distributor_id",
        "distribution_status",
        "artwork_url",
    }
)
#: The subset that stays editable under ``partial_lock`` (metadata that does not change what the DSPs deliver).
METADATA_FIELDS: frozenset[str] = frozenset(
    {"label", "genre", "p_line", "c_line", "description", "distributor_id", "distribution_status", "artwork_url"}
)
#: Set only by the lifecycle, the admin unlock and the DSP sync; a PATCH naming one is refused (422).
READ_ONLY_FIELDS: frozenset[str] = frozenset(
    {
        "id",
        "owner_id",
        "production_status",
        "lock_status",
        "actual_release_date",
        "locked_at",
        "locked_by_sync",
        "last_dsp_sync_at",
        "dsp_sync_due_at",
        "dsp_conflicts",
        "release_type_source",
        "track_count",
        "duration_ms",
        "created_at",
        "updated_at",
        "version",
        "tracks",
        "collaborators",
        "splits",
    }
)


def allowed_targets(status: ProductionStatus) -> list[ProductionStatus]:
    """The statuses a release in ``status`` may move to, in lifecycle order."""
    return [t.target for t in TRANSITIONS if status in t.sources]


def find_transition(status: ProductionStatus, target: ProductionStatus) -> Transition:
    """The transition from ``status`` to ``target``.

    Raises ``ConflictError`` (``invalid_transition``, 409) with ``details.current_status`` and ``details.allowed``.
    """
    for transition in TRANSITIONS:
        if transition.target == target and status in transition.sources:
            return transition
    raise ConflictError(
        f"A {status} release cannot move to {target}.",
        code="invalid_transition",
        details={"current_status": status, "requested": target, "allowed": allowed_targets(status)},
    )


def editable_fields(lock_status: LockStatus) -> frozenset[str]:
    """The release fields that may change under ``lock_status``."""
    if lock_status == "unlocked":
        return RELEASE_FIELDS
    if lock_status == "partial_lock":
        return METADATA_FIELDS
    return frozenset()


def children_editable(lock_status: LockStatus) -> bool:
    """Whether tracks and collaborators may be added, changed, reordered or removed (only while unlocked)."""
    return lock_status == "unlocked"


def artwork_editable(lock_status: LockStatus) -> bool:
    """Whether the artwork may change (uploads, the legacy ``artwork_url``): anything but ``locked``."""
    return lock_status != "locked"


def require_children_editable(release: Release, what: str) -> None:
    """Raise ``ConflictError`` (``release_locked``, 409) unless tracks and collaborators may change."""
    if not children_editable(release.lock_status):
        raise ConflictError(
            f"{what} cannot change while the release is {release.lock_status}.",
            code="release_locked",
            details={"lock_status": release.lock_status, "production_status": release.production_status},
        )


def require_fields_editable(release: Release, fields: set[str]) -> None:
    """Raise ``ConflictError`` (``fields_locked``, 409, ``details.fields`` naming them) if any field is frozen."""
    frozen = sorted(fields - editable_fields(release.lock_status))
    if frozen:
        raise ConflictError(
            f"These fields cannot change while the release is {release.lock_status}.",
            code="fields_locked",
            details={"fields": frozen, "lock_status": release.lock_status},
        )


@dataclass(frozen=True)
class TransitionPlan:
    """What a transition does: the field ``changes`` of the release, whether to enqueue a DSP sync, and the
    history ``metadata`` to record."""

    transition: Transition
    changes: dict[str, Any]
    enqueue_sync: bool
    metadata: dict[str, Any]


def plan_transition(
    release: Release,
    target: ProductionStatus,
    *,
    track_count: int,
    today: date,
    now: datetime,
    scheduled_date: date | None = None,
    by_sync: bool = False,
) -> TransitionPlan:
    """Check the guards of moving ``release`` to ``target`` and return the changes that move makes.

    Guards (each a ``ConflictError``, 409): ``invalid_transition`` (not a lifecycle step; details list the allowed
    targets), ``no_tracks`` (mixing needs at least one track), ``scheduled_date_required`` and
    ``scheduled_date_not_in_future`` (scheduling needs a date after ``today``; ``scheduled_date`` overrides the stored
    one), ``not_partially_locked`` (locking needs ``partial_lock`` first). Side effects: scheduling and releasing set
    ``partial_lock``; releasing sets ``actual_release_date`` to ``today`` and asks for a DSP sync; locking sets
    ``lock_status`` ``locked``, ``locked_at`` and ``locked_by_sync``.
    """
    transition = find_transition(release.production_status, target)
    changes: dict[str, Any] = {"production_status": target}
    metadata: dict[str, Any] = {"transition": transition.name}
    enqueue_sync = False
    if transition.name == "complete_mixing" and track_count < 1:
        raise ConflictError("Mixing is complete only once the release has a track.", code="no_tracks")
    if transition.name == "schedule":
        when = scheduled_date or release.scheduled_release_date
        if when is None:
            raise ConflictError("Scheduling needs a scheduled release date.", code="scheduled_date_required")
        if when <= today:
            raise ConflictError(
                "The scheduled release date must be in the future.",
                code="scheduled_date_not_in_future",
                details={"scheduled_release_date": when.isoformat(), "today": today.isoformat()},
            )
        changes.update(scheduled_release_date=when, lock_status="partial_lock")
        metadata["scheduled_release_date"] = when.isoformat()
    if transition.name == "release":
        changes.update(actual_release_date=today, lock_status="partial_lock", dsp_sync_due_at=now)
        metadata["actual_release_date"] = today.isoformat()
        enqueue_sync = True
    if transition.name == "lock":
        if release.lock_status != "partial_lock":
            raise ConflictError(
                "Locking needs the release to be partially locked first.",
                code="not_partially_locked",
                details={"lock_status": release.lock_status},
            )
        changes.update(lock_status="locked", locked_at=now, locked_by_sync=by_sync)
    if changes.get("lock_status", release.lock_status) != release.lock_status:
        metadata["lock_status"] = {"from": release.lock_status, "to": changes["lock_status"]}
    return TransitionPlan(transition=transition, changes=changes, enqueue_sync=enqueue_sync, metadata=metadata)


#: Thresholds of the release-type rule, in ms (Apple Music and Spotify use the same ones for singles and EPs).
_TEN_MINUTES_MS = 10 * 60 * 1000
_THIRTY_MINUTES_MS = 30 * 60 * 1000


def infer_release_type(tracks: list[Track]) -> ReleaseType | None:
    """single / EP / album from the track count and durations; None without tracks.

    Rule (Apple Music's *Singles and EPs* guideline, also Spotify's): a *single* has 1–3 tracks, each under 10 min, and
    runs under 30 min in total; an *EP* has 1–3 tracks with one of 10 min or more, or 4–6 tracks, and runs under 30 min;
    anything else is an *album*. An unknown duration counts as 0 ms.
    """
    if not tracks:
        return None
    durations = [t.duration_ms or 0 for t in tracks]
    total = sum(durations)
    if total >= _THIRTY_MINUTES_MS or len(tracks) > 6:
        return "album"
    if len(tracks) <= 3 and all(d < _TEN_MINUTES_MS for d in durations):
        return "single"
    return "ep"


def running_order(tracks: list[Track]) -> list[Track]:
    """Tracks sorted by disc, then track number."""
    return sorted(tracks, key=lambda t: (t.disc_number, t.track_number, t.created_at))
