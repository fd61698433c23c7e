"""The DSP sync service on moto with the real provider clients talking to the fake DSP (httpx.MockTransport): a sync
fills, matches, finds conflicts, locks; failures per provider; duplicates, dead letters, the schedule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.config import Settings
from chalicelib.container import get_catalogue_repository, get_sqs_client
from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.local.fake_dsp import FakeCatalogue, FakeDsp, Fault
from chalicelib.models.domain import Identity
from chalicelib.services.dsp_sync import SyncMessage, SyncRetryError
from chalicelib.store.sync_state import SyncStateRepository
from tests.integration.conftest import auth, call, create_release
from tests.integration.dsp_sync_support import (
    ISRCS,
    DynamoCalls,
    album,
    fresh_message,
    history,
    load,
    message_for,
    put_tracks,
    queued_bodies,
    released,
    sync_service,
    use_fake,
)

TITLES = ["Hunter", "Jóga", "Unravel", "Bachelorette"]


@pytest.fixture
def fake(aws, monkeypatch) -> FakeDsp:
    dsp = FakeDsp()
    use_fake(monkeypatch, dsp)
    return dsp


def test_a_clean_sync_fills_empty_isrcs_and_durations_and_locks_the_release(client, fake):
    # Given a released release whose tracks have titles but no ISRC and no duration, and the DSPs listing it
    fake.add_album(album(TITLES))
    release_id = released(client, [{"title": t} for t in TITLES])
    service = sync_service(fake)
    # When the worker takes the message release-now queued
    outcome = service.handle_message(message_for(release_id))
    # Then every track got its ISRC and duration, the DSP ids are kept, and the release is locked by the sync
    assert outcome == "synced", load(release_id).release.dsp_conflicts
    detail = load(release_id)
    assert [t.isrc for t in detail.tracks] == ISRCS[:4]
    assert [t.duration_ms for t in detail.tracks] == [201_000, 202_000, 203_000, 204_000]
    assert all(set(t.dsp_ids) == {"spotify", "apple_music", "musicbrainz"} for t in detail.tracks)
    release = detail.release
    assert set(release.dsp_ids) == {"spotify", "apple_music", "musicbrainz"}
    assert (release.production_status, release.lock_status, release.locked_by_sync) == ("locked", "locked", True)
    assert release.dsp_conflicts == []
    entry = history(release_id)[0]
    assert (entry.changed_by, entry.from_status, entry.to_status) == ("system", "released", "locked")


def test_a_title_and_a_duration_that_differ_are_conflicts_and_nothing_is_locked(client, fake):
    # Given local tracks with ISRCs where one title differs and one duration is 5 s off (another only 1.5 s off)
    fake.add_album(album(TITLES))
    local = [{"title": t, "isrc": ISRCS[i], "duration_ms": 201_000 + i * 1000} for i, t in enumerate(TITLES)]
    local[1]["title"] = "Jóga (Howie B Mix)"
    local[2]["duration_ms"] = 203_000 + 5_000
    local[3]["duration_ms"] = 204_000 + 1_500
    release_id = released(client, local)
    # When it syncs
    outcome = sync_service(fake).handle_message(message_for(release_id))
    # Then the two differences are open conflicts (the 1.5 s one is not), and the release stays released
    assert outcome == "conflicts"
    release = load(release_id).release
    found = {(c.field, c.local_value, c.dsp_value, c.kind, c.status) for c in release.dsp_conflicts}
    assert found == {
        ("title", "Jóga (Howie B Mix)", "Jóga", "local_vs_dsp", "open"),
        ("duration_ms", 208_000, 203_000, "local_vs_dsp", "open"),
    }
    assert (release.production_status, release.lock_status, release.locked_by_sync) == (
        "released",
        "partial_lock",
        False,
    )
    status = sync_service(fake).status(Identity(subject="alice"), release_id)
    assert (status.state, status.open_conflicts, status.error) == ("conflicts", 2, None)
    assert {s.service: s.status for s in status.services} == {
        "spotify": "synced",
        "apple_music": "synced",
        "musicbrainz": "synced",
    }
    assert len(status.matches) == 12 and {m.method for m in status.matches} == {"isrc"}


def test_a_service_without_credentials_is_skipped_and_the_others_sync(client, fake, monkeypatch):
    # Given Spotify without credentials
    fake.add_album(album(TITLES))
    use_fake(monkeypatch, fake, spotify_client_id="", spotify_client_secret="")
    release_id = released(client, [{"title": t} for t in TITLES])
    # When it syncs
    outcome = sync_service(fake).handle_message(message_for(release_id))
    # Then Spotify is skipped (not_configured), never asked, and the others sync and lock
    assert outcome == "synced"
    status = sync_service(fake).status(Identity(subject="alice"), release_id)
    spotify = status.services[0]
    assert (spotify.service, spotify.status, spotify.error and spotify.error.code) == (
        "spotify",
        "skipped",
        "not_configured",
    )
    assert fake.requests_for("spotify") == [] and fake.requests_for("spotify_accounts") == []
    assert load(release_id).release.locked_by_sync


def test_spotify_premium_required_is_failed_unauthorised_and_the_others_sync(client, fake):
    # Given Spotify refusing the app because its owner has no Premium
    fake.add_album(album(TITLES))
    message = "Active premium subscription required for the owner of the app."
    fake.inject(Fault(service="spotify", status=403, body={"error": {"status": 403, "message": message}}, times=50))
    release_id = released(client, [{"title": t} for t in TITLES])
    # When it syncs
    outcome = sync_service(fake).handle_message(message_for(release_id))
    # Then Spotify failed unauthorised with Spotify's message, the others synced
    assert outcome == "synced"
    services = {s.service: s for s in sync_service(fake).status(Identity(subject="alice"), release_id).services}
    assert services["spotify"].status == "failed"
    assert services["spotify"].error is not None and services["spotify"].error.code == "unauthorised"
    assert "premium" in services["spotify"].error.message.lower()
    assert (services["apple_music"].status, services["musicbrainz"].status) == ("synced", "synced")


def test_every_service_unavailable_raises_a_retry_and_writes_nothing_but_the_state(client, fake):
    # Given every service answering 503 for longer than the clients retry
    fake.add_album(album(TITLES))
    for service in ("spotify", "spotify_accounts", "apple_music", "musicbrainz"):
        fake.inject(Fault(service=service, status=503, times=100))
    release_id = released(client, [{"title": t} for t in TITLES])
    before = load(release_id).release
    service = sync_service(fake)
    # When the worker takes the message
    with pytest.raises(SyncRetryError) as raised:
        service.handle_message(message_for(release_id))
    # Then SQS retries it: nothing of the sync is written, the state says why it waits, and the release is due only
    # after the retry interval, so the schedule sends no more copies meanwhile
    assert raised.value.status == 503
    after = load(release_id)
    assert [t.isrc for t in after.tracks] == [None] * 4 and after.release.last_dsp_sync_at is None
    assert after.release.dsp_conflicts == [] and after.release.lock_status == before.lock_status
    assert after.release.dsp_sync_due_at is not None
    assert after.release.dsp_sync_due_at > datetime.now(UTC) + timedelta(hours=5)
    status = service.status(Identity(subject="alice"), release_id)
    assert status.state == "queued" and status.error is not None and status.error.code == "dsp_unavailable"
    assert {s.status for s in status.services} == {"failed"}


def test_a_provider_stating_another_gtin_is_rejected_and_reported(client, fake):
    # Given Apple Music stating another GTIN for the album
    fake.add_album(album(TITLES, gtin_overrides={"apple_music": "5012345678900"}))
    release_id = released(client, [{"title": t} for t in TITLES])
    # When it syncs
    outcome = sync_service(fake).handle_message(message_for(release_id))
    # Then Apple Music is rejected (gtin_mismatch) and left out of the merge; the others sync and lock
    assert outcome == "synced"
    services = {s.service: s for s in sync_service(fake).status(Identity(subject="alice"), release_id).services}
    apple = services["apple_music"]
    assert apple.status == "rejected" and apple.error is not None and apple.error.code == "gtin_mismatch"
    detail = load(release_id)
    assert set(detail.release.dsp_ids) == {"spotify", "musicbrainz"}
    assert all("apple_music" not in t.dsp_ids for t in detail.tracks)


def test_a_bonus_track_on_the_dsps_is_a_track_conflict(client, fake):
    # Given the DSPs listing a fifth (bonus) track the release does not have
    fake.add_album(album([*TITLES, "Hunter (Demo)"]))
    release_id = released(client, [{"title": t, "isrc": ISRCS[i]} for i, t in enumerate(TITLES)])
    # When it syncs
    outcome = sync_service(fake).handle_message(message_for(release_id))
    # Then the bonus track is an open `track` conflict, reported unmatched, and nothing is locked
    assert outcome == "conflicts"
    (conflict,) = load(release_id).release.dsp_conflicts
    assert (conflict.kind, conflict.field, conflict.track_id) == ("unmatched_dsp", "track", None)
    assert isinstance(conflict.dsp_value, dict) and conflict.dsp_value["title"] == "Hunter (Demo)"
    assert (conflict.disc_number, conflict.track_number) == (1, 5)
    unmatched = sync_service(fake).status(Identity(subject="alice"), release_id).unmatched
    assert unmatched.local == [] and [t.title for t in unmatched.dsp] == ["Hunter (Demo)"]


def test_a_duplicate_message_does_one_syncs_writes(client, fake):
    # Given a released release and the message release-now queued, delivered twice
    fake.add_album(album(TITLES))
    release_id = released(client, [{"title": t} for t in TITLES])
    body = message_for(release_id)
    service = sync_service(fake)
    first = service.handle_message(body)
    after_first = load(release_id)
    entries = len(history(release_id))
    requests = len(fake.recorded())
    # When the copy arrives
    second = service.handle_message(body)
    # Then it is a duplicate: no provider asked, no write (same versions, same history)
    assert (first, second) == ("synced", "duplicate")
    assert load(release_id) == after_first
    assert len(history(release_id)) == entries
    assert len(fake.recorded()) == requests


def test_a_copy_racing_past_the_first_checks_is_stopped_by_the_running_mark_and_writes_once(client, fake):
    # Given two copies of one message both past the first read (the second marked running after the first wrote)
    fake.add_album(album(TITLES))
    release_id = released(client, [{"title": t} for t in TITLES])
    body = message_for(release_id)
    service = sync_service(fake)
    message = SyncMessage.model_validate_json(body)
    assert service.handle_message(body) == "synced"
    version = load(release_id).release.version
    # When the late copy tries to mark the state running
    marked = SyncStateRepository().mark_running(release_id, "alice", message.requested_at, datetime.now(UTC))
    # Then the mark refuses it (served), so that copy stops before asking the services
    assert marked is None
    assert load(release_id).release.version == version


def test_a_dead_lettered_message_ends_the_sync_failed_and_the_release_is_due_again_later(client, fake, monkeypatch):
    # Given a release whose sync message kept failing
    monkeypatch.setenv("SLEEVE_DSP_RETRY_INTERVAL_S", "3600")
    release_id = released(client, [{"title": t} for t in TITLES])
    body = message_for(release_id)
    service = sync_service(fake, Settings())
    before = datetime.now(UTC)
    # When the DLQ consumer takes it
    assert service.fail_dead_letter(body) is True
    # Then the state is failed with the reason and the release is due again after the retry interval
    status = service.status(Identity(subject="alice"), release_id)
    assert status.state == "failed" and status.error is not None and status.error.code == "dead_lettered"
    release = load(release_id).release
    assert release.dsp_sync_due_at is not None
    assert before + timedelta(seconds=3590) < release.dsp_sync_due_at < before + timedelta(seconds=3700)
    assert status.next_sync_at == release.dsp_sync_due_at
    # and a malformed dead letter is dropped without raising
    assert service.fail_dead_letter("{not json") is False


def test_a_locked_release_resynced_with_a_dsp_change_gets_a_conflict_and_stays_locked(client, fake):
    # Given a release the sync locked
    fake.add_album(album(TITLES))
    release_id = released(client, [{"title": t} for t in TITLES])
    service = sync_service(fake)
    assert service.handle_message(message_for(release_id)) == "synced"
    # When the DSPs change a duration by 10 s and the release is synced again
    fake.set_catalogue(FakeCatalogue(albums=[album(TITLES, durations=[201_000, 212_000, 203_000, 204_000])]))
    outcome = service.handle_message(fresh_message(release_id, reason="scheduled"))
    # Then a conflict opens and the release stays locked by the sync
    assert outcome == "conflicts"
    release = load(release_id).release
    assert [(c.field, c.local_value, c.dsp_value) for c in release.dsp_conflicts] == [("duration_ms", 202_000, 212_000)]
    assert (release.production_status, release.lock_status, release.locked_by_sync) == ("locked", "locked", True)


def test_an_isrc_another_release_of_the_owner_holds_is_a_conflict_not_a_failed_write(client, fake):
    # Given another release of the owner holding the ISRC the DSPs give track 2
    fake.add_album(album(TITLES))
    other = create_release(client)["id"]
    put_tracks(other, [{"title": "Elsewhere", "isrc": ISRCS[1]}])
    release_id = released(client, [{"title": t} for t in TITLES])
    # When it syncs
    outcome = sync_service(fake).handle_message(message_for(release_id))
    # Then track 2 is not filled: its ISRC is an open conflict; the other tracks are filled
    assert outcome == "conflicts"
    detail = load(release_id)
    assert [t.isrc for t in detail.tracks] == [ISRCS[0], None, ISRCS[2], ISRCS[3]]
    (conflict,) = detail.release.dsp_conflicts
    assert (conflict.field, conflict.local_value, conflict.dsp_value, conflict.track_id) == (
        "isrc",
        None,
        ISRCS[1],
        detail.tracks[1].id,
    )


def test_a_release_an_admin_unlocked_is_synced_but_not_locked(client, fake):
    # Given a released release an administrator unlocked
    fake.add_album(album(TITLES))
    release_id = released(client, [{"title": t} for t in TITLES])
    body = message_for(release_id)
    response = call(
        client, "POST", f"/releases/{release_id}/unlock", {"reason": "label fix"}, subject="root",
        headers=auth("root", ("admin",)),
    )  # fmt: skip
    assert response.status_code == 200, response.body
    # When it syncs
    outcome = sync_service(fake).handle_message(body)
    # Then it is synced (filled) but stays unlocked, and the state says why
    assert outcome == "synced"
    detail = load(release_id)
    assert detail.release.lock_status == "unlocked" and not detail.release.locked_by_sync
    assert detail.tracks[0].isrc == ISRCS[0]
    status = sync_service(fake).status(Identity(subject="alice"), release_id)
    assert status.state == "synced" and status.error is not None and status.error.code == "lock_skipped"


def test_no_service_listing_the_release_ends_failed_not_found_and_due_later(client, fake):
    # Given no DSP lists the UPC
    release_id = released(client, [{"title": t} for t in TITLES])
    # When it syncs
    outcome = sync_service(fake).handle_message(message_for(release_id))
    # Then the state is failed (not_found) and the release is due again later, not now
    assert outcome == "no_providers"
    status = sync_service(fake).status(Identity(subject="alice"), release_id)
    assert status.state == "failed" and status.error is not None and status.error.code == "not_found"
    assert {s.status for s in status.services} == {"not_found"}
    due = load(release_id).release.dsp_sync_due_at
    assert due is not None and due > datetime.now(UTC) + timedelta(hours=1)


@pytest.mark.parametrize(
    "body",
    ["", "{}", "[]", '{"type": "dsp_sync", "release_id": "../x", "owner_id": "a", "reason": "requested", '
     '"requested_at": "2026-11-26T00:00:00+00:00"}', '{"type": "dsp_sync", "release_id": "r", "owner_id": "a", '
     '"reason": "requested", "requested_at": "2026-11-26T00:00:00"}'],
)  # fmt: skip
def test_a_malformed_message_is_dropped(aws, fake, body):
    assert sync_service(fake).handle_message(body) == "malformed"


def test_messages_for_a_missing_release_or_an_unreleased_one_write_nothing(client, fake):
    draft = create_release(client)["id"]
    service = sync_service(fake)
    assert service.handle_message(fresh_message("nope")) == "gone"
    assert service.handle_message(fresh_message(draft, owner_id="mallory")) == "gone"
    assert service.handle_message(fresh_message(draft)) == "not_released"
    assert fake.recorded() == []


def test_request_sync_queues_a_message_and_refuses_an_unreleased_release(client, fake):
    fake.add_album(album(TITLES))
    release_id = released(client, [{"title": t} for t in TITLES])
    message_for(release_id)  # release-now's message
    draft = create_release(client)["id"]
    service = sync_service(fake)
    # When the owner asks for a sync
    service.request_sync(Identity(subject="alice"), release_id)
    # Then the state is queued and the message is on the queue
    assert service.status(Identity(subject="alice"), release_id).state == "queued"
    assert json.loads(message_for(release_id))["reason"] == "requested"
    with pytest.raises(ConflictError) as refused:
        service.request_sync(Identity(subject="alice"), draft)
    assert refused.value.code == "not_released"
    with pytest.raises(NotFoundError):
        service.request_sync(Identity(subject="bob"), release_id)


def test_the_schedule_queries_gsi3_in_pages_without_a_scan_and_sends_batches_of_ten(client, fake, monkeypatch):
    # Given 23 released releases due now, pages of 5
    monkeypatch.setenv("SLEEVE_DSP_SCHEDULE_PAGE_SIZE", "5")
    ids = [released(client, [{"title": "Hunter"}]) for _ in range(23)]
    queued_bodies()
    service = sync_service(fake, Settings())
    calls = DynamoCalls(monkeypatch)
    batches: list[int] = []
    original = get_sqs_client().send_message_batch

    def counting(**kwargs):
        batches.append(len(kwargs["Entries"]))
        return original(**kwargs)

    monkeypatch.setattr(get_sqs_client(), "send_message_batch", counting)
    # When the schedule runs
    sent = service.enqueue_due(datetime.now(UTC))
    # Then every due release got one scheduled message, read by gsi3 Queries (5 pages) and never a Scan
    assert sent == 23
    assert "Scan" not in calls.operations and calls.operations.count("Query") == 5
    assert all(b <= 10 for b in batches) and sum(batches) == 23
    bodies = [json.loads(b) for b in queued_bodies()]
    assert sorted(b["release_id"] for b in bodies) == sorted(ids)
    assert {b["reason"] for b in bodies} == {"scheduled"}


def test_the_schedule_stops_at_its_maximum_per_run(client, fake, monkeypatch):
    monkeypatch.setenv("SLEEVE_DSP_SCHEDULE_MAX_PER_RUN", "3")
    for _ in range(5):
        released(client, [{"title": "Hunter"}])
    queued_bodies()
    assert sync_service(fake, Settings()).enqueue_due(datetime.now(UTC)) == 3
    assert len(queued_bodies()) == 3


def test_the_purge_of_a_deleted_release_removes_its_sync_state(client, fake):
    fake.add_album(album(TITLES))
    release_id = released(client, [{"title": t} for t in TITLES])
    sync_service(fake).handle_message(message_for(release_id))
    assert SyncStateRepository().get(release_id) is not None
    get_catalogue_repository().purge_release_partition(release_id)
    assert SyncStateRepository().get(release_id) is None


def test_one_sync_of_a_20_track_release_makes_four_dynamodb_calls(client, fake, monkeypatch):
    # Given a released 20-track release without ISRCs or durations (every track filled: 20 tracks + 20 ISRC claims)
    titles = [f"Song {n}" for n in range(1, 21)]
    fake.add_album(album(titles))
    release_id = released(client, [{"title": t} for t in titles])
    body = message_for(release_id)
    service = sync_service(fake)
    calls = DynamoCalls(monkeypatch)
    from chalicelib.store import catalogue as store_catalogue

    original = store_catalogue.send_transaction
    items: list[int] = []

    def counting(steps, on_condition_failed):
        items.append(len(steps))
        return original(steps, on_condition_failed)

    monkeypatch.setattr(store_catalogue, "send_transaction", counting)
    # When it syncs
    assert service.handle_message(body) == "synced"
    # Then: the release read, the running mark, the read of the write's plan, and one transaction for everything:
    # the release, 20 tracks, 20 ISRC claims, the lock's history entry and the sync state
    assert calls.operations == ["Query", "UpdateItem", "Query", "TransactWriteItems"]
    assert items == [43]
    detail = load(release_id)
    assert all(t.isrc and t.duration_ms for t in detail.tracks) and detail.release.locked_by_sync


def test_a_99_track_sync_writes_the_fills_in_chunks_and_the_release_with_the_lock_last(client, fake, monkeypatch):
    # Given a released 99-track release without ISRCs: 99 tracks + 99 claims + release, state, history > 100 items
    titles = [f"Song {n}" for n in range(1, 100)]
    fake.add_album(album(titles))
    release_id = released(client, [{"title": t} for t in titles])
    body = message_for(release_id)
    service = sync_service(fake)
    calls = DynamoCalls(monkeypatch)
    writes: list[list[str]] = []
    from chalicelib.store import catalogue as store_catalogue

    original = store_catalogue.send_transaction

    def recording(steps, on_condition_failed):
        writes.append(sorted({step.kind for step in steps}))
        return original(steps, on_condition_failed)

    monkeypatch.setattr(store_catalogue, "send_transaction", recording)
    # When it syncs
    assert service.handle_message(body) == "synced"
    # Then the fills went first in chunks that fit (each with the release item, no state, no lock) and the release
    # with the state, the history entry and the lock last
    assert calls.operations.count("TransactWriteItems") == len(writes) == 3
    assert writes[0] == writes[1] == ["isrc", "release", "track"]
    assert "sync_state" in writes[-1] and "history" in writes[-1]
    detail = load(release_id)
    assert [t.isrc for t in detail.tracks] == ISRCS[:99]
    assert detail.release.locked_by_sync and detail.release.track_count == 99


def test_a_sync_cut_short_after_its_fills_is_not_shown_synced_and_the_retry_completes_it(client, fake, monkeypatch):
    # Given a 99-track sync whose final transaction fails (the Lambda dies after the chunks of fills)
    titles = [f"Song {n}" for n in range(1, 100)]
    fake.add_album(album(titles))
    release_id = released(client, [{"title": t} for t in titles])
    body = message_for(release_id)
    service = sync_service(fake)
    from chalicelib.store import catalogue as store_catalogue

    original = store_catalogue.send_transaction

    def dying(steps, on_condition_failed):
        if any(step.kind == "sync_state" for step in steps):
            raise RuntimeError("Lambda timed out")
        return original(steps, on_condition_failed)

    monkeypatch.setattr(store_catalogue, "send_transaction", dying)
    with pytest.raises(RuntimeError):
        service.handle_message(body)
    # Then the chunks' fills are there (2 x 49 tracks) but the state is running and the release neither synced nor
    # locked
    detail = load(release_id)
    assert sum(1 for t in detail.tracks if t.isrc) == 98
    assert (detail.release.last_dsp_sync_at, detail.release.lock_status) == (None, "partial_lock")
    assert service.status(Identity(subject="alice"), release_id).state == "running"
    # When SQS delivers the message again
    monkeypatch.setattr(store_catalogue, "send_transaction", original)
    assert service.handle_message(body) == "synced"
    # Then the sync completes (nothing left to fill: one transaction) and locks
    assert load(release_id).release.locked_by_sync


def test_two_copies_racing_to_the_write_write_once(client, fake, monkeypatch):
    # Given two copies of one message both past the running mark; the second copy's write is planned on a read made
    # before the first copy writes
    fake.add_album(album(TITLES))
    release_id = released(client, [{"title": t} for t in TITLES])
    body = message_for(release_id)
    service = sync_service(fake)
    from chalicelib.services import dsp_write

    original = dsp_write.SyncPlanner.plan
    raced: list[str] = []

    def plan_then_lose_the_race(self, detail, resync):
        change = original(self, detail, resync)
        if not raced:
            raced.append("first copy")
            monkeypatch.setattr(
                SyncStateRepository, "mark_running", lambda *args: SyncStateRepository.get(args[0], release_id)
            )
            raced.append(service.handle_message(body))  # the other copy runs to its end meanwhile
        return change

    monkeypatch.setattr(dsp_write.SyncPlanner, "plan", plan_then_lose_the_race)
    # When the second copy sends its write
    outcome = service.handle_message(body)
    # Then its version check fails, the re-read finds the request served, and it writes nothing
    assert raced == ["first copy", "synced"] and outcome == "duplicate"
    entries = [e for e in history(release_id) if e.changed_by == "system"]
    assert len(entries) == 1
    assert load(release_id).release.locked_by_sync


def test_a_sync_request_that_cannot_be_queued_raises_and_the_state_says_so(client, fake):
    # Given a queue that does not exist
    from chalicelib.container import get_sqs_client
    from chalicelib.services.catalogue import Catalogue
    from chalicelib.services.dsp_sync import DspSyncService
    from chalicelib.store.queues import MessageQueue, QueueSendError

    release_id = released(client, [{"title": "Hunter"}])
    settings = Settings()
    service = DspSyncService(
        Catalogue(get_catalogue_repository()),
        SyncStateRepository(),
        MessageQueue(get_sqs_client(), "no-such-queue"),
        lambda: [],
        settings,
    )
    # When the owner asks for a sync
    with pytest.raises(QueueSendError):
        service.request_sync(Identity(subject="alice"), release_id)
    # Then the state is failed with the queue's code, not left queued
    status = service.status(Identity(subject="alice"), release_id)
    assert status.state == "failed" and status.error is not None and status.error.code == "queue_unavailable"


def test_services_that_all_fail_for_good_end_the_sync_failed_naming_each(client, fake, monkeypatch):
    # Given Spotify refusing the app (Premium) and the others not configured
    fake.add_album(album(TITLES))
    use_fake(monkeypatch, fake, dsp_providers="spotify")
    body = {"error": {"status": 403, "message": "Active premium subscription required for the owner of the app."}}
    fake.inject(Fault(service="spotify", status=403, body=body, times=50))
    release_id = released(client, [{"title": t} for t in TITLES])
    # When it syncs
    outcome = sync_service(fake, Settings()).handle_message(message_for(release_id))
    # Then no retry is asked for (it would not help): the state is failed and names the failure
    assert outcome == "no_providers"
    status = sync_service(fake, Settings()).status(Identity(subject="alice"), release_id)
    assert status.state == "failed" and status.error is not None
    assert (status.error.code, status.error.message) == (
        "dsp_failed",
        "No DSP answered usably (spotify: unauthorised).",
    )


def test_a_status_read_while_the_syncs_write_lands_never_shows_synced_over_open_conflicts(client, fake, monkeypatch):
    # Given a released release whose sync will find a conflict (a title the DSPs spell otherwise)
    fake.add_album(album(TITLES))
    local = [{"title": t, "isrc": ISRCS[i]} for i, t in enumerate(TITLES)]
    local[0]["title"] = "Hunter (Demo)"
    release_id = released(client, local)
    service = sync_service(fake)
    # and the sync's one transaction landing while the status route reads (the state item and the release are two
    # reads: the write lands right before the state item is read)
    original_get = SyncStateRepository.get
    landed: list[str] = []

    def get_while_the_write_lands(self, wanted):
        if not landed:
            landed.append(service.handle_message(message_for(release_id)))
        return original_get(self, wanted)

    monkeypatch.setattr(SyncStateRepository, "get", get_while_the_write_lands)
    # When the owner reads the status
    status = service.status(Identity(subject="alice"), release_id)
    # Then it shows the conflict the sync found, never a `synced` made of the old release and the new state
    assert landed == ["conflicts"]
    assert (status.state, status.open_conflicts) == ("conflicts", 1)


def test_a_sync_state_item_caught_holding_only_its_keys_reads_as_none_yet(client, fake):
    # Given a released release whose sync-state item exists with nothing but its keys: what a read in another thread
    # sees while moto server applies an UpdateItem that creates the item (it stores the bare item first)
    import boto3

    from chalicelib.config import get_settings
    from chalicelib.store.catalogue_records import release_partition
    from chalicelib.store.sync_state import SYNC_STATE_SK

    fake.add_album(album(TITLES))
    release_id = released(client, [{"title": t} for t in TITLES])
    boto3.client("dynamodb", region_name=get_settings().aws_region).put_item(
        TableName=get_settings().table_name,
        Item={"pk": {"S": release_partition(release_id)}, "sk": {"S": SYNC_STATE_SK}},
    )
    # When the state is read, and the owner asks for the status
    stored = SyncStateRepository().get(release_id)
    status = sync_service(fake).status(Identity(subject="alice"), release_id)
    # Then there is no state yet (not a validation error, which answered 500): the released release's sync is queued
    assert stored is None
    assert (status.state, status.services) == ("queued", [])
