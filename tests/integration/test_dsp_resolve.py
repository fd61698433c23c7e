"""Resolving DSP conflicts on moto (the sync itself through the real clients and the fake DSP): each decision kind,
the last decision applying every decision with the lock in one transaction, swaps, track conflicts, refusals."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.errors import AppError
from chalicelib.local.fake_dsp import FakeAlbum, FakeCatalogue, FakeDsp, FakeTrack
from chalicelib.models.domain import Identity
from chalicelib.models.sync import DspConflict
from chalicelib.services.dsp_sync import DspSyncService
from tests.integration.conftest import create_release
from tests.integration.dsp_sync_support import (
    ISRCS,
    DynamoCalls,
    album,
    fresh_message,
    history,
    load,
    message_for,
    put_tracks,
    released,
    sync_service,
    use_fake,
)

ALICE = Identity(subject="alice")
TITLES = ["Hunter", "Jóga", "Unravel", "Bachelorette"]


@pytest.fixture
def fake(aws, monkeypatch) -> FakeDsp:
    dsp = FakeDsp()
    use_fake(monkeypatch, dsp)
    return dsp


def synced_with_conflicts(client: Any, fake: FakeDsp, local: list[dict[str, Any]]) -> tuple[str, DspSyncService]:
    release_id = released(client, local)
    service = sync_service(fake)
    assert service.handle_message(message_for(release_id)) == "conflicts"
    return release_id, service


def by_field(release_id: str) -> dict[str, DspConflict]:
    return {c.field: c for c in load(release_id).release.dsp_conflicts}


def three_conflicts() -> list[dict[str, Any]]:
    """Local tracks with ISRCs that differ from the DSPs in a title, a duration (5 s) and the explicit flag."""
    local = [{"title": t, "isrc": ISRCS[i], "duration_ms": 201_000 + i * 1000} for i, t in enumerate(TITLES)]
    local[1]["title"] = "Jóga (Howie B Mix)"
    local[2]["duration_ms"] = 208_000
    local[3]["explicit"] = True
    return local


def test_each_decision_is_recorded_and_the_last_applies_them_all_with_the_lock_in_one_transaction(
    client, fake, monkeypatch
):
    # Given a synced release with three open conflicts
    fake.add_album(album(TITLES))
    release_id, service = synced_with_conflicts(client, fake, three_conflicts())
    conflicts = by_field(release_id)
    assert set(conflicts) == {"title", "duration_ms", "explicit"}
    # When the owner merges the title and takes the DSP's duration
    first, _ = service.resolve(ALICE, release_id, conflicts["title"].id, "merge", "Jóga (Remix)")
    second, _ = service.resolve(ALICE, release_id, conflicts["duration_ms"].id, "accept_dsp")
    # Then each decision is recorded, nothing is applied while one is open
    assert (first.open, first.applied, second.open, second.applied) == (2, False, 1, False)
    assert first.conflict.status == "resolved" and first.conflict.value == "Jóga (Remix)"
    detail = load(release_id)
    assert (detail.tracks[1].title, detail.tracks[2].duration_ms) == ("Jóga (Howie B Mix)", 208_000)
    before = detail.release.version
    # When the owner keeps the local explicit flag, the last open conflict
    calls = DynamoCalls(monkeypatch)
    last, version = service.resolve(ALICE, release_id, conflicts["explicit"].id, "keep_local")
    # Then every decision is applied with the lock, in one transaction
    assert calls.operations.count("TransactWriteItems") == 1
    assert (last.open, last.applied, last.production_status, last.lock_status, last.locked_by_sync) == (
        0,
        True,
        "locked",
        "locked",
        True,
    )
    detail = load(release_id)
    assert version == detail.release.version == before + 1
    assert (detail.tracks[1].title, detail.tracks[2].duration_ms, detail.tracks[3].explicit) == (
        "Jóga (Remix)",
        203_000,
        True,
    )
    entries = history(release_id)
    decisions = [
        e.metadata for e in entries if e.metadata.get("action") == "resolve_conflict" and e.changed_by == "alice"
    ]
    assert sorted(d["decision"] for d in decisions) == ["accept_dsp", "keep_local", "merge"]
    assert {d["conflict_id"] for d in decisions} == {c.id for c in conflicts.values()}
    lock = entries[0] if entries[0].changed_by == "system" else entries[1]
    assert (lock.changed_by, lock.from_status, lock.to_status) == ("system", "released", "locked")


def test_a_decision_survives_a_resync_that_finds_the_same_difference(client, fake):
    # Given a release locked after the owner kept a local flag and took the DSP's duration
    fake.add_album(album(TITLES))
    local = three_conflicts()
    release_id, service = synced_with_conflicts(client, fake, local)
    for conflict in load(release_id).release.dsp_conflicts:
        resolution = "keep_local" if conflict.field in ("explicit", "title") else "accept_dsp"
        service.resolve(ALICE, release_id, conflict.id, resolution)
    assert load(release_id).release.production_status == "locked"
    # When it is synced again with the same DSP data
    outcome = service.handle_message(fresh_message(release_id, reason="scheduled"))
    # Then the kept differences stay resolved (no new conflict), the applied one is gone, it stays locked
    assert outcome == "synced"
    release = load(release_id).release
    assert {(c.field, c.status, c.resolution) for c in release.dsp_conflicts} == {
        ("title", "resolved", "keep_local"),
        ("explicit", "resolved", "keep_local"),
    }
    assert release.production_status == "locked"


def test_swapped_track_numbers_are_resolved_together(client, fake):
    # Given local tracks 1 and 2 the DSPs list the other way round (same ISRCs)
    fake.add_album(album(["Jóga", "Hunter"]))
    local = [
        {"title": "Hunter", "isrc": ISRCS[1], "duration_ms": 202_000},
        {"title": "Jóga", "isrc": ISRCS[0], "duration_ms": 201_000},
    ]
    release_id, service = synced_with_conflicts(client, fake, local)
    numbers = [c for c in load(release_id).release.dsp_conflicts]
    assert sorted((c.field, c.local_value, c.dsp_value) for c in numbers) == [
        ("track_number", 1, 2),
        ("track_number", 2, 1),
    ]
    # When the owner accepts both DSP numbers
    for conflict in numbers:
        outcome, _ = service.resolve(ALICE, release_id, conflict.id, "accept_dsp")
    # Then the tracks swapped places and the release is locked
    assert outcome.applied and outcome.production_status == "locked"
    assert [(t.track_number, t.title) for t in load(release_id).tracks] == [(1, "Jóga"), (2, "Hunter")]


def test_accepting_a_dsp_only_track_adds_it_and_a_local_only_track_removes_it(client, fake):
    # Given the DSPs list a bonus track 3 the release lacks, and the release has a track 4 (with an ISRC) they lack
    fake.add_album(album(["Hunter", "Jóga", "Hunter (Demo)"]))
    local = [
        {"title": "Hunter", "isrc": ISRCS[0]},
        {"title": "Jóga", "isrc": ISRCS[1]},
        {"title": "Unreleased Outtake", "isrc": "USRC17607839", "track_number": 4},
    ]
    release_id, service = synced_with_conflicts(client, fake, local)
    kinds = {c.kind: c for c in load(release_id).release.dsp_conflicts}
    assert set(kinds) == {"unmatched_dsp", "unmatched_local"}
    # When the owner accepts both
    service.resolve(ALICE, release_id, kinds["unmatched_dsp"].id, "accept_dsp")
    outcome, _ = service.resolve(ALICE, release_id, kinds["unmatched_local"].id, "accept_dsp")
    # Then the bonus track is a local track with the DSP's data, the outtake is gone and its ISRC free again
    assert outcome.applied and outcome.locked_by_sync
    tracks = load(release_id).tracks
    assert [(t.track_number, t.title, t.isrc) for t in tracks] == [
        (1, "Hunter", ISRCS[0]),
        (2, "Jóga", ISRCS[1]),
        (3, "Hunter (Demo)", ISRCS[2]),
    ]
    assert set(tracks[2].dsp_ids) == {"spotify", "apple_music", "musicbrainz"}
    from chalicelib.container import get_catalogue_repository

    repository = get_catalogue_repository()
    assert repository.isrc_holder("alice", "USRC17607839") is None
    assert repository.isrc_holder("alice", ISRCS[2]) == (release_id, tracks[2].id)


def refusal(call: Any, *args: Any, **kwargs: Any) -> AppError:
    with pytest.raises(AppError) as raised:
        call(*args, **kwargs)
    return raised.value


def test_refused_decisions_change_nothing(client, fake):
    # Given a synced release with a title, a duration and a bonus-track conflict
    fake.add_album(album([*TITLES, "Hunter (Demo)"]))
    release_id, service = synced_with_conflicts(client, fake, three_conflicts())
    conflicts = {c.field: c for c in load(release_id).release.dsp_conflicts}
    before = load(release_id)
    cases = [
        (conflicts["title"].id, "merge", None, "merge_value_required", 422),
        (conflicts["title"].id, "merge", "", "invalid_conflict_value", 422),
        (conflicts["title"].id, "merge", "Jóga\u202e", "invalid_conflict_value", 422),
        (conflicts["title"].id, "merge", 5, "invalid_conflict_value", 422),
        (conflicts["duration_ms"].id, "merge", -1, "invalid_conflict_value", 422),
        (conflicts["duration_ms"].id, "merge", True, "invalid_conflict_value", 422),
        (conflicts["duration_ms"].id, "merge", "203000", "invalid_conflict_value", 422),
        (conflicts["track"].id, "merge", "x", "resolution_not_allowed", 422),
        ("0" * 24, "keep_local", None, "conflict_not_found", 404),
    ]
    for conflict_id, resolution, value, code, status in cases:
        error = refusal(service.resolve, ALICE, release_id, conflict_id, resolution, value)
        assert (error.code, error.status) == (code, status), (resolution, value)
    error = refusal(service.resolve, Identity(subject="bob"), release_id, conflicts["title"].id, "keep_local")
    assert error.code == "release_not_found"
    error = refusal(service.resolve, ALICE, release_id, conflicts["title"].id, "keep_local", if_match=frozenset({0}))
    assert (error.code, error.status) == ("version_mismatch", 412)
    assert load(release_id) == before
    # And a decided conflict cannot be decided again
    service.resolve(ALICE, release_id, conflicts["title"].id, "keep_local")
    error = refusal(service.resolve, ALICE, release_id, conflicts["title"].id, "accept_dsp")
    assert (error.code, error.status) == ("conflict_already_resolved", 409)


def test_merge_values_are_normalised_for_their_field(client, fake):
    fake.add_album(album(TITLES))
    local = [{"title": t, "isrc": ISRCS[i], "duration_ms": 201_000 + i * 1000} for i, t in enumerate(TITLES)]
    local[0]["isrc"] = "USRC17607839"
    release_id, service = synced_with_conflicts(client, fake, local)
    conflict = by_field(release_id)["isrc"]
    outcome, _ = service.resolve(ALICE, release_id, conflict.id, "merge", "us-rc1-76-07840")
    assert outcome.conflict.value == "USRC17607840" and outcome.applied
    assert load(release_id).tracks[0].isrc == "USRC17607840"


def test_taking_an_isrc_another_release_holds_is_refused(client, fake):
    # Given a conflict whose DSP ISRC another release of the owner holds meanwhile
    fake.add_album(album(TITLES))
    local = [{"title": t, "isrc": ISRCS[i]} for i, t in enumerate(TITLES)]
    local[0]["isrc"] = "USRC17607839"
    release_id, service = synced_with_conflicts(client, fake, local)
    conflict = by_field(release_id)["isrc"]
    other = create_release(client)["id"]
    put_tracks(other, [{"title": "Elsewhere", "isrc": ISRCS[0]}])
    # When the owner accepts the DSP's ISRC
    error = refusal(service.resolve, ALICE, release_id, conflict.id, "accept_dsp")
    # Then it is refused isrc_in_use, naming the holder, and the conflict stays open
    assert (error.code, error.status, error.details["release_id"]) == ("isrc_in_use", 409, other)
    assert by_field(release_id)["isrc"].status == "open"


def test_a_conflict_on_a_locked_release_is_resolved_and_applied_without_unlocking(client, fake):
    # Given a release the sync locked, then a DSP-side change of a duration
    fake.add_album(album(TITLES))
    release_id = released(client, [{"title": t} for t in TITLES])
    service = sync_service(fake)
    assert service.handle_message(message_for(release_id)) == "synced"
    changed = album(TITLES, durations=[201_000, 212_000, 203_000, 204_000])
    fake.set_catalogue(FakeCatalogue(albums=[changed]))
    assert service.handle_message(fresh_message(release_id, reason="scheduled")) == "conflicts"
    conflict = by_field(release_id)["duration_ms"]
    # When the owner accepts it
    outcome, _ = service.resolve(ALICE, release_id, conflict.id, "accept_dsp")
    # Then the new duration is applied and the release stays locked by the sync
    assert (outcome.applied, outcome.production_status, outcome.locked_by_sync) == (True, "locked", True)
    assert load(release_id).tracks[1].duration_ms == 212_000


def test_dsps_disagreeing_with_each_other_is_a_conflict(client, fake):
    # Given Apple Music giving track 2 another ISRC than Spotify and MusicBrainz
    tracks = [
        FakeTrack(title=t, track_number=n, duration_ms=200_000 + n * 1000, isrc=ISRCS[n - 1])
        for n, t in enumerate(TITLES, 1)
    ]
    tracks[1] = tracks[1].model_copy(update={"overrides": {"apple_music": {"isrc": "USRC17607839"}}})
    base = album(TITLES)
    fake.add_album(FakeAlbum(**{**base.model_dump(), "tracks": [t.model_dump() for t in tracks]}))
    release_id = released(client, [{"title": t} for t in TITLES])
    service = sync_service(fake)
    # When it syncs
    assert service.handle_message(message_for(release_id)) == "conflicts"
    # Then the disagreement is a conflict with every service's value, and track 2's ISRC is not filled
    (conflict,) = load(release_id).release.dsp_conflicts
    assert (conflict.kind, conflict.field, conflict.dsp_value) == ("dsp_disagreement", "isrc", ISRCS[1])
    assert conflict.dsp_values == {"spotify": ISRCS[1], "apple_music": "USRC17607839", "musicbrainz": ISRCS[1]}
    assert load(release_id).tracks[1].isrc is None
