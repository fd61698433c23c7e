"""Turning the DSP sync's fills and the artist's decisions into new track and release values, as pure functions.

The service puts what these return into one ``CatalogueWrite`` (with the lock where due). Decisions are applied all
together, so decisions that swap two tracks' numbers or ISRCs work: positions and ISRCs are checked on the result, not
one decision at a time, and ISRC claims that only move between tracks of the release are reassigned.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from chalicelib.errors import ConflictError, UnprocessableError
from chalicelib.models.api import Title
from chalicelib.models.catalogue import Release, Track
from chalicelib.models.identifiers import normalise_isrc, normalise_upc
from chalicelib.models.sync import ConflictValue, DspConflict, ErrorInfo
from chalicelib.models.text import refused_characters
from chalicelib.providers.base import DSP_SERVICES, DspService
from chalicelib.services.lifecycle import TransitionPlan, plan_transition, running_order

_TITLE = TypeAdapter(Title)
#: Who the history entries of a sync (and of the lock a resolve makes) name.
SYSTEM = "system"
#: The largest duration a decision may set: 24 h in ms (the resolve request's own bound).
MAX_DURATION_MS = 24 * 3600 * 1000


def served(release: Release, requested_at: datetime) -> bool:
    """Whether a sync requested at ``requested_at`` was served: the last completed sync of ``release`` started asking
    the services at or after that moment (``last_dsp_sync_at``)."""
    return release.last_dsp_sync_at is not None and requested_at <= release.last_dsp_sync_at


def open_count(conflicts: Sequence[DspConflict]) -> int:
    """How many of ``conflicts`` are open."""
    return sum(1 for conflict in conflicts if conflict.status == "open")


def invalid(field_name: str, message: str) -> UnprocessableError:
    """422 ``invalid_conflict_value``: ``value`` does not suit the conflict's field."""
    return UnprocessableError(message, code="invalid_conflict_value", details={"field": field_name})


def checked_value(field_name: str, value: ConflictValue) -> ConflictValue:
    """``value`` validated and normalised for ``field_name`` (a merge decision's value).

    ``isrc``: an ISRC (``models.identifiers.normalise_isrc``, stored compact); ``upc``: a UPC-A/EAN-13 with its check
    digit; ``actual_release_date``: ``YYYY-MM-DD``; ``duration_ms``: a whole number of ms, 0..24 h; ``track_number``
    and ``disc_number``: whole numbers ≥ 1 (≤ 999 / ≤ 99, the track routes' bounds); ``explicit``: a flag;
    ``title``: 1..200 characters, not blank, without control or bidi characters (``models.api.Title``).
    Raises ``UnprocessableError`` (``invalid_conflict_value``, 422) otherwise.
    """
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if field_name in ("isrc", "upc", "actual_release_date", "title") and not isinstance(value, str):
        raise invalid(field_name, f"{field_name} takes text.")
    try:
        if field_name == "isrc":
            return normalise_isrc(str(value))
        if field_name == "upc":
            return normalise_upc(str(value))
        if field_name == "actual_release_date":
            return date.fromisoformat(str(value)).isoformat()
        if field_name == "title":
            # As the request models: refused characters are checked on the raw text (a tab at an end is refused, not
            # stripped), then surrounding white space is stripped before the length check.
            if refused_characters(str(value)):
                raise ValueError("refused characters")
            return str(_TITLE.validate_python(str(value).strip()))
    except (ValueError, ValidationError) as exc:
        raise invalid(field_name, f"Not a valid {field_name}.") from exc
    if field_name == "duration_ms":
        if not is_int or not 0 <= int(value) <= MAX_DURATION_MS:  # type: ignore[arg-type]
            raise invalid(field_name, "duration_ms takes a whole number of milliseconds, 0 to 24 hours.")
        return value
    if field_name in ("track_number", "disc_number"):
        limit = 999 if field_name == "track_number" else 99
        if not is_int or not 1 <= int(value) <= limit:  # type: ignore[arg-type]
            raise invalid(field_name, f"{field_name} takes a whole number from 1 to {limit}.")
        return value
    if field_name == "explicit":
        if not isinstance(value, bool):
            raise invalid(field_name, "explicit takes true or false.")
        return value
    raise invalid(field_name, f"{field_name} takes no merged value.")


def decided_value(conflict: DspConflict) -> ConflictValue:
    """The value a resolved conflict asks for: the DSP's (``accept_dsp``) or the merged one (``merge``)."""
    return conflict.value if conflict.resolution == "merge" else conflict.dsp_value


@dataclass
class TrackChanges:
    """The tracks after the change (running order) and what to write: ``put`` (changed or new), ``delete``,
    and the ISRC claims to make, free and move between tracks of the release."""

    tracks: list[Track]
    put: list[Track] = field(default_factory=list)
    delete: list[Track] = field(default_factory=list)
    claim: list[tuple[str, str]] = field(default_factory=list)
    free: list[str] = field(default_factory=list)
    reassign: list[tuple[str, str]] = field(default_factory=list)


def fill_tracks(
    tracks: Sequence[Track],
    fills: Mapping[str, Mapping[str, Any]],
    track_ids: Mapping[str, Mapping[DspService, str]],
    now: datetime,
) -> dict[str, Track]:
    """Track id → the track with its empty ``isrc``/``duration_ms`` filled and its DSP ids merged in, for the tracks
    this changes. Applying it twice changes nothing the second time (the fills are no longer empty)."""
    changed: dict[str, Track] = {}
    for track in tracks:
        update: dict[str, Any] = {
            name: value for name, value in fills.get(track.id, {}).items() if getattr(track, name) is None
        }
        ids = {**track.dsp_ids, **track_ids.get(track.id, {})}
        if ids != track.dsp_ids:
            update["dsp_ids"] = {s: ids[s] for s in DSP_SERVICES if s in ids}
        if update:
            changed[track.id] = track.model_copy(update={**update, "updated_at": now})
    return changed


def release_decisions(conflicts: Sequence[DspConflict]) -> dict[str, Any]:
    """The release field changes the resolved conflicts ask for (``upc``, ``actual_release_date``)."""
    changes: dict[str, Any] = {}
    for conflict in conflicts:
        if conflict.status != "resolved" or conflict.resolution == "keep_local" or conflict.track_id is not None:
            continue
        value = decided_value(conflict)
        if conflict.field == "upc" and isinstance(value, str):
            changes["upc"] = value
        elif conflict.field == "actual_release_date" and isinstance(value, str):
            changes["actual_release_date"] = date.fromisoformat(value)
    return changes


def _new_track(release_id: str, summary: Mapping[str, Any], now: datetime, new_id: Callable[[], str]) -> Track:
    """A local track made from a DSP track's summary (a DSP-only track accepted)."""
    ids = {s: str(summary[f"{s}_id"]) for s in DSP_SERVICES if summary.get(f"{s}_id")}
    return Track(
        id=new_id(),
        release_id=release_id,
        title=str(summary["title"]),
        disc_number=int(summary["disc_number"]),
        track_number=int(summary["track_number"]),
        duration_ms=summary.get("duration_ms"),
        isrc=summary.get("isrc"),
        explicit=bool(summary.get("explicit") or False),
        dsp_ids=ids,
        created_at=now,
        updated_at=now,
    )


def _from_summary(track: Track, summary: Mapping[str, Any]) -> dict[str, Any]:
    """The fields an accepted ambiguous match takes from its DSP track (unrated explicit and empty values kept)."""
    update = {name: summary[name] for name in ("title", "disc_number", "track_number") if summary.get(name) is not None}
    for name in ("isrc", "duration_ms", "explicit"):
        if summary.get(name) is not None:
            update[name] = summary[name]
    ids = {s: str(summary[f"{s}_id"]) for s in DSP_SERVICES if summary.get(f"{s}_id")}
    if ids:
        update["dsp_ids"] = {**track.dsp_ids, **ids}
    return update


def apply_changes(
    release_id: str,
    tracks: Sequence[Track],
    filled: Mapping[str, Track],
    conflicts: Sequence[DspConflict],
    now: datetime,
    *,
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> TrackChanges:
    """The tracks after ``filled`` (from ``fill_tracks``) and every resolved conflict's decision are applied.

    ``accept_dsp`` takes the DSP value, ``merge`` the merged value, ``keep_local`` nothing; on a ``track`` conflict,
    ``accept_dsp`` adds the DSP-only track, removes the local-only one, or gives an ambiguous track its best DSP
    candidate's values. Raises ``ConflictError``: ``track_number_taken`` when two tracks would share a disc and number,
    ``isrc_in_use`` when two tracks would share an ISRC.
    """
    current = {track.id: filled.get(track.id, track) for track in tracks}
    deleted: list[Track] = []
    added: list[Track] = []
    for conflict in conflicts:
        if conflict.status != "resolved" or conflict.resolution == "keep_local":
            continue
        value = decided_value(conflict)
        if conflict.field == "track":
            if conflict.kind == "unmatched_dsp" and isinstance(value, dict):
                added.append(_new_track(release_id, value, now, new_id))
            elif conflict.kind == "unmatched_local" and conflict.track_id in current:
                deleted.append(current.pop(conflict.track_id))
            elif conflict.kind == "ambiguous" and conflict.track_id in current and isinstance(value, dict):
                track = current[conflict.track_id]
                current[track.id] = track.model_copy(update={**_from_summary(track, value), "updated_at": now})
            continue
        if conflict.track_id is None or conflict.track_id not in current:
            continue
        track = current[conflict.track_id]
        if getattr(track, conflict.field) != value:
            current[track.id] = track.model_copy(update={conflict.field: value, "updated_at": now})
    after = [*current.values(), *added]
    _require_distinct(after)
    before = {track.id: track for track in tracks}
    changes = TrackChanges(tracks=running_order(after), delete=deleted)
    changes.put = [t for t in after if t.id not in before or t != before[t.id]]
    old = {t.isrc: t.id for t in tracks if t.isrc}
    new = {t.isrc: t.id for t in after if t.isrc}
    changes.claim = [(isrc, tid) for isrc, tid in new.items() if isrc not in old]
    changes.reassign = [(isrc, tid) for isrc, tid in new.items() if isrc in old and old[isrc] != tid]
    changes.free = [isrc for isrc in old if isrc not in new]
    return changes


def _require_distinct(tracks: Sequence[Track]) -> None:
    positions: dict[tuple[int, int], str] = {}
    isrcs: dict[str, str] = {}
    for track in running_order(list(tracks)):
        place = (track.disc_number, track.track_number)
        if place in positions:
            raise ConflictError(
                f"These decisions would give two tracks number {place[1]} on disc {place[0]}.",
                code="track_number_taken",
                details={"disc_number": place[0], "track_number": place[1], "track_id": positions[place]},
            )
        positions[place] = track.id
        if track.isrc and track.isrc in isrcs:
            raise ConflictError(
                "These decisions would give two tracks the same ISRC.",
                code="isrc_in_use",
                details={"isrc": track.isrc, "track_id": isrcs[track.isrc]},
            )
        if track.isrc:
            isrcs[track.isrc] = track.id


def plan_lock(release: Release, track_count: int, now: datetime) -> tuple[TransitionPlan | None, ErrorInfo | None]:
    """Whether the sync locks ``release`` now that no conflict is open: the ``released → locked`` plan
    (``lifecycle.plan_transition(by_sync=True)``), or None with the reason it does not (None when there is nothing to
    say: it is locked already). A release an administrator unlocked below ``partial_lock`` is left unlocked
    (``lock_skipped``): the administrator lowered the lock on purpose, and only the lifecycle may raise it again.
    Call it only when at least one service synced."""
    if release.production_status != "released":
        return None, None
    if release.lock_status != "partial_lock":
        return None, ErrorInfo(
            code="lock_skipped",
            message="The release is unlocked (an administrator lowered its lock), so the sync does not lock it.",
        )
    plan = plan_transition(release, "locked", track_count=track_count, today=now.date(), now=now, by_sync=True)
    return plan, None
