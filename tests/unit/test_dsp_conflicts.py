"""The DSP sync's pure rules: which differences are conflicts, what is filled silently, stable conflict ids and
decisions carried over a re-sync, merge values checked per field, decisions applied together (swaps)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib.errors import ConflictError, UnprocessableError
from chalicelib.models.catalogue import Release, Track
from chalicelib.providers.base import DspTrack
from chalicelib.services.dsp_apply import apply_changes, checked_value, fill_tracks, plan_lock, served
from chalicelib.services.dsp_conflicts import carry_decisions, conflict_id, find_differences
from chalicelib.services.dsp_matching import match_tracks
from chalicelib.services.dsp_merge import Disagreement, MergedRelease, MergedTrack

NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
ISRCS = ["GBAYE0600001", "GBAYE0600002", "GBAYE0600003"]


def a_release(**fields: Any) -> Release:
    values: dict[str, Any] = {
        "id": "r1",
        "owner_id": "alice",
        "title": "Homogenic",
        "display_artist": "Björk",
        "upc": "036000241457",
        "production_status": "released",
        "lock_status": "partial_lock",
        "actual_release_date": date(2026, 11, 20),
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Release(**{**values, **fields})


def a_track(n: int, **fields: Any) -> Track:
    values: dict[str, Any] = {
        "id": f"t{n}",
        "release_id": "r1",
        "title": f"Song {n}",
        "track_number": n,
        "duration_ms": 200_000 + n * 1000,
        "isrc": ISRCS[n - 1],
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Track(**{**values, **fields})


def dsp_track(n: int, *, explicit: bool | None = False, **fields: Any) -> MergedTrack:
    values: dict[str, Any] = {
        "title": f"Song {n}",
        "disc_number": 1,
        "track_number": n,
        "duration_ms": 200_000 + n * 1000,
        "isrc": ISRCS[n - 1],
        "explicit": explicit,
    }
    values.update(fields)
    own = DspTrack(external_id=f"sp{n}", **values)
    return MergedTrack(tracks={"spotify": own}, **values)


def merged(*tracks: MergedTrack, **fields: Any) -> MergedRelease:
    values: dict[str, Any] = {
        "services": ["spotify"],
        "external_ids": {"spotify": "album1"},
        "gtin": "036000241457",
        "release_date": date(2026, 11, 20),
        "title": "Homogenic",
        "release_dates": {"spotify": date(2026, 11, 20)},
        "gtins": {"spotify": "036000241457"},
        "tracks": list(tracks),
    }
    return MergedRelease(**{**values, **fields})


def differences(release: Release, tracks: list[Track], dsp: MergedRelease, disagreements=(), held=None):
    return find_differences(release, tracks, dsp, match_tracks(tracks, dsp.tracks), list(disagreements), NOW, held=held)


def test_equal_data_has_no_conflict_and_keeps_the_dsp_ids():
    found = differences(a_release(), [a_track(1), a_track(2)], merged(dsp_track(1), dsp_track(2)))
    assert found.conflicts == [] and found.fills == {}
    assert found.track_ids == {"t1": {"spotify": "sp1"}, "t2": {"spotify": "sp2"}}


@pytest.mark.parametrize(
    ("local", "dsp", "field"),
    [
        ({"duration_ms": 203_001}, {}, "duration_ms"),  # 2.001 s off
        ({"title": "Another Song"}, {}, "title"),
        ({"explicit": True}, {}, "explicit"),
        ({"isrc": "USRC17607839"}, {}, "isrc"),
        ({"track_number": 1}, {"track_number": 2}, "track_number"),
    ],
)
def test_a_set_local_value_that_differs_is_a_conflict(local, dsp, field):
    tracks = [a_track(1, **local)]
    found = differences(a_release(), tracks, merged(dsp_track(1, **dsp)))
    # Then exactly that field is an open local_vs_dsp conflict on the track
    assert [(c.field, c.kind, c.status, c.track_id) for c in found.conflicts] == [(field, "local_vs_dsp", "open", "t1")]


@pytest.mark.parametrize(
    "local",
    [
        {"duration_ms": 203_000},  # 2 s off: the same
        {"title": "Song 1 - Remastered 2011"},
        {"title": "Song 1 (feat. Someone)"},
        {"title": "SÖNG 1"},
    ],
)
def test_differences_within_the_rules_are_not_conflicts(local):
    found = differences(a_release(), [a_track(1, **local)], merged(dsp_track(1)))
    assert found.conflicts == []


def test_an_unrated_dsp_track_never_conflicts_on_explicit():
    found = differences(a_release(), [a_track(1, explicit=True)], merged(dsp_track(1, explicit=None)))
    assert found.conflicts == []


def test_empty_local_isrc_and_duration_are_filled_without_conflict_unless_the_isrc_is_held():
    tracks = [a_track(1, isrc=None, duration_ms=None, title="Song 1"), a_track(2, isrc=None)]
    found = differences(a_release(), tracks, merged(dsp_track(1), dsp_track(2)), held={ISRCS[1]: ("r2", "t9")})
    assert found.fills == {"t1": {"isrc": ISRCS[0], "duration_ms": 201_000}}
    assert [(c.field, c.track_id, c.local_value, c.dsp_value) for c in found.conflicts] == [
        ("isrc", "t2", None, ISRCS[1])
    ]


def test_release_fields_conflict_on_another_gtin_or_date_but_not_on_leading_zeros():
    release = a_release(upc="0036000241457", actual_release_date=date(2026, 11, 26))
    found = differences(release, [a_track(1)], merged(dsp_track(1)))
    assert [(c.field, c.local_value, c.dsp_value, c.track_id) for c in found.conflicts] == [
        ("actual_release_date", "2026-11-26", "2026-11-20", None)
    ]


def test_a_dsp_disagreement_replaces_the_local_conflict_and_stops_the_fill():
    tracks = [a_track(1, isrc=None)]
    disagreement = Disagreement("isrc", 1, 1, {"spotify": ISRCS[0], "apple_music": "USRC17607839"})
    found = differences(a_release(), tracks, merged(dsp_track(1)), [disagreement])
    assert found.fills == {"t1": {}} or "isrc" not in found.fills.get("t1", {})
    (conflict,) = found.conflicts
    assert (conflict.kind, conflict.field, conflict.dsp_value) == ("dsp_disagreement", "isrc", ISRCS[0])
    assert conflict.dsp_values == {"spotify": ISRCS[0], "apple_music": "USRC17607839"}


def test_tracks_without_a_counterpart_are_track_conflicts():
    tracks = [a_track(1), a_track(2, title="Outtake", isrc=None, duration_ms=999_000)]
    found = differences(a_release(), tracks, merged(dsp_track(1), dsp_track(3, track_number=2, title="Bonus")))
    kinds = sorted((c.kind, c.field, c.track_id, c.track_number) for c in found.conflicts)
    assert kinds == [("unmatched_dsp", "track", None, 2), ("unmatched_local", "track", "t2", None)]
    assert found.unmatched.local == ["t2"] and [t.title for t in found.unmatched.dsp] == ["Bonus"]


def test_conflict_ids_are_stable_and_decisions_survive_the_same_dsp_value_only():
    tracks = [a_track(1, title="Another Song")]
    first = differences(a_release(), tracks, merged(dsp_track(1))).conflicts
    again = differences(a_release(), tracks, merged(dsp_track(1))).conflicts
    assert [c.id for c in first] == [c.id for c in again] == [conflict_id("local_vs_dsp", "title", "t1")]
    decided = [first[0].model_copy(update={"status": "resolved", "resolution": "keep_local"})]
    assert carry_decisions(decided, again)[0].resolution == "keep_local"
    changed = differences(a_release(), tracks, merged(dsp_track(1, title="Yet Another"))).conflicts
    assert carry_decisions(decided, changed)[0].status == "open"
    assert carry_decisions(decided, []) == []


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("isrc", "us-rc1-76-07839", "USRC17607839"),
        ("upc", "0 36000 24145 7", "036000241457"),
        ("actual_release_date", "2026-11-20", "2026-11-20"),
        ("duration_ms", 0, 0),
        ("track_number", 1, 1),
        ("explicit", False, False),
        ("title", " Jóga ", "Jóga"),
    ],
)
def test_merge_values_are_normalised(field, value, expected):
    assert checked_value(field, value) == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("isrc", "nope"),
        ("isrc", 5),
        ("upc", "036000241458"),
        ("actual_release_date", "20.11.2026"),
        ("duration_ms", -1),
        ("duration_ms", True),
        ("duration_ms", "1000"),
        ("track_number", 0),
        ("disc_number", 100),
        ("explicit", "yes"),
        ("title", ""),
        ("title", "a\u202eb"),
        ("title", "\tJóga"),
        ("title", "   "),
        ("title", "x" * 201),
    ],
)
def test_invalid_merge_values_are_refused(field, value):
    with pytest.raises(UnprocessableError) as refused:
        checked_value(field, value)
    assert refused.value.code == "invalid_conflict_value"


def _resolved(field: str, track_id: str, local: Any, dsp: Any, resolution: str = "accept_dsp") -> Any:
    from chalicelib.models.sync import DspConflict

    return DspConflict(
        id=f"{field}-{track_id}",
        kind="local_vs_dsp",
        field=field,  # type: ignore[arg-type]
        track_id=track_id,
        disc_number=1,
        track_number=1,
        local_value=local,
        dsp_value=dsp,
        service="spotify",
        dsp_values={"spotify": dsp},
        status="resolved",
        resolution=resolution,  # type: ignore[arg-type]
        value=None,
        detected_at=NOW,
        resolved_at=NOW,
        resolved_by="alice",
    )


def test_decisions_that_swap_numbers_and_isrcs_apply_together():
    tracks = [a_track(1), a_track(2)]
    decisions = [
        _resolved("track_number", "t1", 1, 2),
        _resolved("track_number", "t2", 2, 1),
        _resolved("isrc", "t1", ISRCS[0], ISRCS[1]),
        _resolved("isrc", "t2", ISRCS[1], ISRCS[0]),
    ]
    changes = apply_changes("r1", tracks, {}, decisions, NOW)
    assert [(t.id, t.track_number, t.isrc) for t in changes.tracks] == [("t2", 1, ISRCS[0]), ("t1", 2, ISRCS[1])]
    # The claims only move between the release's tracks: no free + claim of one item in one transaction
    assert changes.claim == [] and changes.free == []
    assert sorted(changes.reassign) == sorted([(ISRCS[1], "t1"), (ISRCS[0], "t2")])


def test_decisions_giving_two_tracks_one_place_are_refused():
    with pytest.raises(ConflictError) as refused:
        apply_changes("r1", [a_track(1), a_track(2)], {}, [_resolved("track_number", "t1", 1, 2)], NOW)
    assert refused.value.code == "track_number_taken"


def test_fills_are_idempotent():
    tracks = [a_track(1, isrc=None, duration_ms=None)]
    filled = fill_tracks(tracks, {"t1": {"isrc": ISRCS[0], "duration_ms": 1}}, {"t1": {"spotify": "sp1"}}, NOW)
    assert (filled["t1"].isrc, filled["t1"].duration_ms, filled["t1"].dsp_ids) == (ISRCS[0], 1, {"spotify": "sp1"})
    assert fill_tracks(list(filled.values()), {"t1": {"isrc": ISRCS[0]}}, {"t1": {"spotify": "sp1"}}, NOW) == {}


def test_the_lock_needs_a_released_partially_locked_release():
    plan, note = plan_lock(a_release(), 1, NOW)
    assert plan is not None and plan.changes["locked_by_sync"] is True and note is None
    plan, note = plan_lock(a_release(lock_status="unlocked"), 1, NOW)
    assert plan is None and note is not None and note.code == "lock_skipped"
    assert plan_lock(a_release(production_status="locked", lock_status="locked"), 1, NOW) == (None, None)


def test_a_request_is_served_by_a_sync_that_started_at_or_after_it():
    release = a_release(last_dsp_sync_at=NOW)
    assert served(release, NOW) and not served(release, NOW.replace(minute=1))
    assert not served(a_release(), NOW)


def test_an_ambiguous_match_is_a_track_conflict_and_accepting_it_takes_the_best_candidate():
    # Given one local track (no ISRC, no duration, at a position neither has) and two DSP tracks it matches equally
    tracks = [a_track(1, title="Intro", isrc=None, duration_ms=None, track_number=3)]
    dsp = merged(dsp_track(1, title="Intro"), dsp_track(2, title="Intro"))
    found = differences(a_release(), tracks, dsp)
    # Then it is an ambiguous `track` conflict, nothing is filled, and the candidates are not offered twice
    (conflict,) = found.conflicts
    assert (conflict.kind, conflict.field, conflict.track_id) == ("ambiguous", "track", "t1")
    assert found.fills == {} and found.unmatched.local == ["t1"]
    # When the owner accepts the DSP's best candidate, the track takes its values and ids
    decided = conflict.model_copy(update={"status": "resolved", "resolution": "accept_dsp"})
    changes = apply_changes("r1", tracks, {}, [decided], NOW)
    (track,) = changes.tracks
    assert isinstance(conflict.dsp_value, dict)
    assert (track.isrc, track.duration_ms) == (conflict.dsp_value["isrc"], conflict.dsp_value["duration_ms"])
    assert track.dsp_ids == {"spotify": conflict.dsp_value["spotify_id"]}
    assert changes.claim == [(track.isrc, "t1")]
