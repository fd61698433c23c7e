"""Concurrent writers and all-or-nothing transactions of the release catalogue, at the service and repository level.

The real ReleaseService and CatalogueRepository on moto (no mocks). Races are made deterministic by a repository with a
sync point: every writer reads the release before any of them writes.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.container import get_catalogue_repository, get_release_service
from chalicelib.errors import ConflictError, PreconditionFailedError
from chalicelib.models.catalogue import HistoryEntry, ReleaseDetail, Track
from chalicelib.models.domain import Identity
from chalicelib.services.releases import ReleaseService
from chalicelib.store.catalogue import CatalogueRepository, CatalogueWrite, VersionConflictError

ALICE = Identity(subject="alice")
ISRC = "USRC17607839"
OTHER_ISRC = "GBAYE0601498"
#: Seconds a writer waits at the sync point for the other one, and the test for a writer to finish: nothing hangs.
SYNC_TIMEOUT_S = 10
JOIN_TIMEOUT_S = 30


class RendezvousRepository(CatalogueRepository):
    """The real repository with a sync point: each thread's first ``load`` waits, after reading, until ``parties``
    threads have read, so every writer works from the same version of the release.

    Each DynamoDB call runs under one lock. DynamoDB isolates a transaction from other requests; moto's in-process
    backend does not (``transact_write_items`` deep-copies whole tables and restores that copy when a condition fails,
    which could undo a write another thread committed meanwhile). The lock gives back DynamoDB's isolation without
    changing the interleaving under test: both writers read, then both write.
    """

    def __init__(self, parties: int = 2) -> None:
        super().__init__()
        self._barrier = threading.Barrier(parties, timeout=SYNC_TIMEOUT_S)
        self._dynamodb = threading.RLock()
        self._thread = threading.local()
        #: The release version each thread read first (at the sync point).
        self.first_reads: list[int] = []
        #: How many transactions failed on a version condition.
        self.conflicts = 0

    def load(self, release_id: str) -> ReleaseDetail | None:
        with self._dynamodb:
            detail = super().load(release_id)
        if not getattr(self._thread, "synced", False):
            self._thread.synced = True
            if detail is not None:
                self.first_reads.append(detail.release.version)
            self._barrier.wait()
        return detail

    def write(self, change: CatalogueWrite) -> None:
        with self._dynamodb:
            try:
                super().write(change)
            except VersionConflictError:
                self.conflicts += 1
                raise


def run_together(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call in its own thread; the outcome of each is what it returned or the exception it raised."""
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            outcomes[index] = call()
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, call), daemon=True) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_S)
    assert not any(thread.is_alive() for thread in threads), "a writer did not finish"
    return outcomes


@pytest.fixture
def service(aws) -> ReleaseService:
    """The application's release service, bound to moto's table."""
    return get_release_service()


@pytest.fixture
def repository(service) -> CatalogueRepository:
    """The application's catalogue repository (records bound to moto's table by the service fixture)."""
    return get_catalogue_repository()


@pytest.fixture
def rendezvous(service) -> RendezvousRepository:
    """A RendezvousRepository for two writers (records bound by the service fixture)."""
    return RendezvousRepository(parties=2)


def new_release(service: ReleaseService, title: str = "Vespertine") -> str:
    return service.create(ALICE, {"title": title, "display_artist": "Björk"}).release.id


# -- concurrent writers -----------------------------------------------------------------------------------------------


def test_two_patches_with_the_same_if_match_one_wins_and_the_other_gets_412(service, repository, rendezvous):
    rid = new_release(service)
    version = repository.get(rid).version
    racing = ReleaseService(rendezvous)
    changes = [{"title": "Medúlla"}, {"genre": "Electronic"}]

    # When two writers holding the same ETag both read before either writes
    outcomes = run_together(*(lambda c=c: racing.update(ALICE, rid, c, if_match=frozenset({version})) for c in changes))

    # Then exactly one lands and the other is refused on the version it then finds
    assert rendezvous.first_reads == [version, version]
    winners = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, ReleaseDetail)]
    losers = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, Exception)]
    assert (len(winners), len(losers)) == (1, 1), outcomes
    refusal = outcomes[losers[0]]
    assert type(refusal) is PreconditionFailedError, refusal
    assert refusal.code == "version_mismatch"
    assert refusal.details == {"target": "release", "current_version": version + 1}
    assert rendezvous.conflicts == 1  # the loser's transaction failed on the version condition
    stored = repository.get(rid)
    expected = {"title": "Vespertine", "genre": None, **changes[winners[0]]}
    assert (stored.title, stored.genre, stored.version) == (expected["title"], expected["genre"], version + 1)


def test_two_patches_without_if_match_both_land_and_nothing_is_lost(service, repository, rendezvous):
    rid = new_release(service)
    version = repository.get(rid).version
    racing = ReleaseService(rendezvous)

    outcomes = run_together(
        lambda: racing.update(ALICE, rid, {"title": "Medúlla"}),
        lambda: racing.update(ALICE, rid, {"genre": "Electronic"}),
    )

    assert rendezvous.first_reads == [version, version]
    assert all(isinstance(outcome, ReleaseDetail) for outcome in outcomes), outcomes
    assert rendezvous.conflicts == 1  # one writer lost the race, read again and re-applied its change
    stored = repository.get(rid)
    assert (stored.title, stored.genre, stored.version) == ("Medúlla", "Electronic", version + 2)


def test_two_concurrent_track_adds_both_land_numbered_one_and_two(service, repository, rendezvous):
    rid = new_release(service)
    version = repository.get(rid).version
    racing = ReleaseService(rendezvous)

    outcomes = run_together(
        lambda: racing.tracks.add(ALICE, rid, {"title": "Hidden Place"}),
        lambda: racing.tracks.add(ALICE, rid, {"title": "Cocoon"}),
    )

    assert rendezvous.first_reads == [version, version]
    assert all(isinstance(outcome, Track) for outcome in outcomes), outcomes
    assert rendezvous.conflicts == 1
    assert sorted(t.track_number for t in outcomes) == [1, 2]
    stored = repository.load(rid)
    assert sorted((t.track_number, t.id) for t in stored.tracks) == sorted((t.track_number, t.id) for t in outcomes)
    assert (stored.release.track_count, stored.release.version) == (2, version + 2)


def test_one_isrc_added_concurrently_to_two_releases_goes_to_exactly_one(service, repository, rendezvous):
    releases = [new_release(service, "Debut"), new_release(service, "Post")]
    versions = [repository.get(rid).version for rid in releases]
    racing = ReleaseService(rendezvous)

    # When both releases get a track with the same ISRC at once (their versions cannot clash: only the claim can)
    outcomes = run_together(
        *(lambda rid=rid: racing.tracks.add(ALICE, rid, {"title": "T", "isrc": ISRC}) for rid in releases)
    )

    winners = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, Track)]
    losers = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, Exception)]
    assert (len(winners), len(losers)) == (1, 1), outcomes
    won, lost = winners[0], losers[0]
    refusal = outcomes[lost]
    assert isinstance(refusal, ConflictError) and refusal.code == "isrc_in_use", refusal
    assert refusal.details == {"isrc": ISRC, "release_id": releases[won], "track_id": outcomes[won].id}
    assert repository.isrc_holder("alice", ISRC) == (releases[won], outcomes[won].id)
    loser = repository.load(releases[lost])
    assert (loser.tracks, loser.release.track_count, loser.release.version) == ([], 0, versions[lost])


# -- one transaction per change ---------------------------------------------------------------------------------------


def test_a_transition_whose_transaction_fails_leaves_neither_the_status_nor_the_history_entry(service, repository):
    rid = new_release(service)
    stale = repository.load(rid)
    service.update(ALICE, rid, {"genre": "Trip hop"})  # the release moves on to version 2
    now = datetime.now(UTC)
    entry = HistoryEntry(
        id=uuid.uuid4().hex,
        release_id=rid,
        from_status="draft",
        to_status="recording",
        changed_by="alice",
        changed_at=now,
        reason="written from a stale read",
        metadata={"transition": "start_recording"},
    )

    def start_recording(detail: ReleaseDetail) -> CatalogueWrite:
        release = detail.release.model_copy(update={"production_status": "recording", "updated_at": now})
        return CatalogueWrite(release=release, inferred_type=None, history=[entry])

    # When the transition is written from the stale read
    with pytest.raises(VersionConflictError) as raised:
        repository.write(start_recording(stale))

    # Then neither the status nor the history entry is stored
    assert raised.value.target == "release"
    stored = repository.get(rid)
    assert (stored.production_status, stored.genre, stored.version) == ("draft", "Trip hop", 2)
    history = repository.history(rid, limit=100, cursor=None).items
    assert [(e.from_status, e.to_status) for e in history] == [(None, "draft")]
    assert repository.list_by_status("alice", "recording", limit=10, cursor=None).items == []

    # And the same change from a fresh read stores both
    repository.write(start_recording(repository.load(rid)))
    assert repository.get(rid).production_status == "recording"
    assert entry.id in {e.id for e in repository.history(rid, limit=100, cursor=None).items}


def test_a_track_add_whose_isrc_claim_fails_leaves_no_track_and_the_version_unchanged(service, repository):
    holding_release = new_release(service, "Debut")
    holder = service.tracks.add(ALICE, holding_release, {"title": "Human Behaviour", "isrc": ISRC})
    rid = new_release(service, "Post")
    version = repository.get(rid).version

    with pytest.raises(ConflictError) as raised:
        service.tracks.add(ALICE, rid, {"title": "Army of Me", "isrc": ISRC})

    # The release item and the track were in the transaction before the claim that failed: none of it stays
    assert raised.value.code == "isrc_in_use"
    assert raised.value.details == {"isrc": ISRC, "release_id": holding_release, "track_id": holder.id}
    detail = repository.load(rid)
    assert (detail.tracks, detail.release.track_count, detail.release.version) == ([], 0, version)
    assert repository.isrc_holder("alice", ISRC) == (holding_release, holder.id)


def test_a_track_patch_whose_new_isrc_is_held_keeps_the_old_claim(service, repository):
    holding_release = new_release(service, "Debut")
    holder = service.tracks.add(ALICE, holding_release, {"title": "Venus as a Boy", "isrc": OTHER_ISRC})
    rid = new_release(service, "Post")
    track = service.tracks.add(ALICE, rid, {"title": "Hyperballad", "isrc": ISRC})
    version = repository.get(rid).version

    # The transaction frees ISRC and claims OTHER_ISRC; the claim fails
    with pytest.raises(ConflictError) as raised:
        service.tracks.update(ALICE, rid, track.id, {"isrc": OTHER_ISRC})

    assert raised.value.code == "isrc_in_use"
    assert repository.isrc_holder("alice", ISRC) == (rid, track.id)  # the free was rolled back with the claim
    assert repository.isrc_holder("alice", OTHER_ISRC) == (holding_release, holder.id)
    detail = repository.load(rid)
    assert ([t.isrc for t in detail.tracks], detail.tracks[0].version, detail.release.version) == ([ISRC], 1, version)


def test_a_write_carrying_a_stale_track_names_that_track_and_changes_nothing(service, repository):
    rid = new_release(service)
    kept = service.tracks.add(ALICE, rid, {"title": "Kept"})
    dropped = service.tracks.add(ALICE, rid, {"title": "Dropped"})
    stale = repository.load(rid)
    service.tracks.update(ALICE, rid, kept.id, {"title": "Kept, renamed"})  # the track moves on to version 2
    fresh = repository.load(rid)
    stale_kept = next(t for t in stale.tracks if t.id == kept.id)
    fresh_dropped = next(t for t in fresh.tracks if t.id == dropped.id)

    # A transaction that deletes a current track and puts the release (current) and a stale track
    change = CatalogueWrite(
        release=fresh.release,
        inferred_type="single",
        delete_tracks=[fresh_dropped],
        put_tracks=[stale_kept.model_copy(update={"title": "Lost update"})],
    )
    with pytest.raises(VersionConflictError) as raised:
        repository.write(change)

    # The cancellation reason is mapped to the stale track, and the delete did not happen either
    assert (raised.value.target, raised.value.details["id"]) == ("track", kept.id)
    after = repository.load(rid)
    assert [(t.id, t.title) for t in after.tracks] == [(kept.id, "Kept, renamed"), (dropped.id, "Dropped")]
    assert after.release.version == fresh.release.version
