"""The DSP sync end to end on the local stack, against the fake DSP served on loopback from this process.

release-now → the sync queue → the pump → the sync worker → Spotify, Apple Music and MusicBrainz (the fake, over real
HTTP) → conflicts → resolved through the API → ``locked`` by the sync. Then a re-sync of a locked release, the
schedule (a Query on the sparse gsi3, no Scan, seen in moto's request recording) and the dead-letter path, the last
two on a second stack with short timers (``timers``) and a fake of its own, so their faults and rates touch no other
test.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from chalicelib.local.fake_dsp import FakeAlbum, FakeCatalogue, FakeDsp, FakeDspServer, FakeTrack, Fault
from chalicelib.local.process import StackProcess, spawn_stack
from tests.e2e.conftest import Api, FakeDspService, stack_environment, wait_for

#: Terminal sync states (``GET /releases/{id}/sync/status``); ``queued``/``running`` are still under way.
SETTLED = ("synced", "conflicts", "failed")
SYNC_WAIT_S = 60.0


def upc(serial: int) -> str:
    """A valid UPC-A (GS1 check digit) ``0 88000 0NNNN c``, a range no other test or sample album uses."""
    body = f"08800000{serial:03d}"
    total = sum(int(digit) * (3 if i % 2 == 0 else 1) for i, digit in enumerate(body))
    return body + str((10 - total % 10) % 10)


def album(serial: int, tracks: list[FakeTrack], **fields: Any) -> FakeAlbum:
    """Album ``serial`` on all three services, out today (the day release-now sets, so no date conflict)."""
    values: dict[str, Any] = {"title": f"Low Tide {serial}", "artist": "Ada Lindqvist"}
    values.update(fields)
    return FakeAlbum(upc=upc(serial), release_date=datetime.now(UTC).date(), tracks=tracks, **values)


def released(api: Api, subject: str, upc_value: str, tracks: list[dict[str, Any]]) -> str:
    """A release of ``subject`` with ``tracks``, walked draft → recording → mixed → mastered → release-now; its id."""
    response = api.post(
        "/releases", {"title": "Low Tide", "display_artist": "Ada Lindqvist", "upc": upc_value}, subject=subject
    )
    assert response.status_code == 201, response.text
    release_id = str(response.json()["id"])
    for track in tracks:
        created = api.post(f"/releases/{release_id}/tracks", track, subject=subject)
        assert created.status_code == 201, created.text
    for status in ("recording", "mixed", "mastered"):
        moved = api.post(f"/releases/{release_id}/transition", {"to": status}, subject=subject)
        assert moved.status_code == 200, moved.text
    out = api.post(f"/releases/{release_id}/release-now", {}, subject=subject)
    assert out.status_code == 200, out.text
    assert out.json()["production_status"] == "released"
    return release_id


def settled_status(api: Api, subject: str, release_id: str, *, timeout_s: float = SYNC_WAIT_S) -> dict[str, Any]:
    """Poll ``GET /releases/{id}/sync/status`` until its state is no longer ``never``/``queued``/``running``."""

    def probe() -> dict[str, Any] | None:
        response = api.get(f"/releases/{release_id}/sync/status", subject=subject)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if body["state"] in SETTLED else None

    return wait_for(probe, timeout_s=timeout_s, interval_s=0.25, what=f"the sync of {release_id} to settle")


def open_conflicts(api: Api, subject: str, release_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/releases/{release_id}/conflicts", subject=subject)
    assert response.status_code == 200, response.text
    return [c for c in response.json()["items"] if c["status"] == "open"]


def resolve(api: Api, subject: str, release_id: str, conflict_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(f"/releases/{release_id}/conflicts/{conflict_id}/resolve", body, subject=subject)
    assert response.status_code == 200, response.text
    assert response.headers.get("ETag"), "a resolve answers the release's new version as ETag"
    outcome: dict[str, Any] = response.json()
    return outcome


def test_release_now_syncs_through_the_worker_and_resolving_the_conflicts_locks_the_release(
    api: Api, fake_dsp: FakeDspService
) -> None:
    # Given an album on all three DSPs, and a local release of it: two tracks with the DSPs' ISRCs (one titled
    # "Cafe Noir (feat. Orla)", the DSPs' "Café Noir": the same title once normalised), one without an ISRC, one a
    # second shorter than the DSPs', one whose title the DSPs spell "Lanterns", one with another ISRC than the DSPs';
    # the DSPs list a seventh, bonus track.
    fake_dsp.fake.add_album(
        album(
            1,
            [
                FakeTrack(title="Harbour", track_number=1, duration_ms=200_000, isrc="SEXYZ2600101"),
                FakeTrack(title="Café Noir", track_number=2, duration_ms=187_000, isrc="SEXYZ2600102"),
                FakeTrack(title="Second Skin", track_number=3, duration_ms=188_000, isrc="SEXYZ2600103"),
                FakeTrack(title="Weathervane", track_number=4, duration_ms=277_000, isrc="SEXYZ2600104"),
                FakeTrack(title="Lanterns", track_number=5, duration_ms=231_000, isrc="SEXYZ2600105"),
                FakeTrack(title="Ferry at Dawn", track_number=6, duration_ms=256_000, isrc="SEXYZ2600106"),
                FakeTrack(title="Harbour (Reprise)", track_number=7, duration_ms=122_000, isrc="SEXYZ2600107"),
            ],
        )
    )
    subject = "e2e-sync-flow"
    before = len(fake_dsp.fake.recorded())
    release_id = released(
        api,
        subject,
        upc(1),
        [
            {"title": "Harbour", "duration_ms": 200_000, "isrc": "SE-XYZ-26-00101"},
            {"title": "Cafe Noir (feat. Orla)", "duration_ms": 187_000, "isrc": "SEXYZ2600102"},
            {"title": "Second Skin", "duration_ms": 188_000},
            {"title": "Weathervane", "duration_ms": 276_000, "isrc": "SEXYZ2600104"},
            {"title": "Lantern", "duration_ms": 231_000, "isrc": "SEXYZ2600105"},
            {"title": "Ferry at Dawn", "duration_ms": 256_000, "isrc": "SEXYZ2600199"},
        ],
    )

    # When the pump hands release-now's message to the sync worker
    status = settled_status(api, subject, release_id)

    # Then every service synced from the fake (over HTTP: its request log grew), the tracks matched by ISRC or by
    # score, and the differences wait as open conflicts: the title, the ISRC, and the bonus track
    assert status["state"] == "conflicts", status
    assert {(s["service"], s["status"]) for s in status["services"]} == {
        ("spotify", "synced"),
        ("apple_music", "synced"),
        ("musicbrainz", "synced"),
    }
    assert {r.service for r in fake_dsp.fake.recorded()[before:]} >= {"spotify", "apple_music", "musicbrainz"}
    methods = {m["method"] for m in status["matches"]}
    assert methods == {"isrc", "score"}, status["matches"]
    conflicts = open_conflicts(api, subject, release_id)
    assert status["open_conflicts"] == len(conflicts) == 3, conflicts
    by_field = {c["field"]: c for c in conflicts}
    assert set(by_field) == {"title", "isrc", "track"}, conflicts
    assert (by_field["title"]["local_value"], by_field["title"]["dsp_value"]) == ("Lantern", "Lanterns")
    assert (by_field["isrc"]["local_value"], by_field["isrc"]["dsp_value"]) == ("SEXYZ2600199", "SEXYZ2600106")
    assert by_field["track"]["track_id"] is None and by_field["track"]["kind"] == "unmatched_dsp"
    release = api.get(f"/releases/{release_id}", subject=subject).json()
    assert (release["production_status"], release["locked_by_sync"]) == ("released", False)

    # When the artist decides: the DSPs' title merged by hand, the DSPs' ISRC, and the bonus track left out
    first = resolve(api, subject, release_id, by_field["title"]["id"], {"resolution": "merge", "value": "Lanterns"})
    second = resolve(api, subject, release_id, by_field["isrc"]["id"], {"resolution": "accept_dsp"})
    last = resolve(api, subject, release_id, by_field["track"]["id"], {"resolution": "keep_local"})

    # Then nothing applies before the last decision; the last one applies them all and locks the release by the sync
    assert (first["open"], first["applied"]) == (2, False) and (second["open"], second["applied"]) == (1, False)
    assert (last["open"], last["applied"], last["production_status"], last["locked_by_sync"]) == (
        0,
        True,
        "locked",
        True,
    )
    release = api.get(f"/releases/{release_id}", subject=subject).json()
    assert (release["production_status"], release["lock_status"], release["locked_by_sync"]) == (
        "locked",
        "locked",
        True,
    )
    assert set(release["dsp_ids"]) == {"spotify", "apple_music", "musicbrainz"}
    tracks = {t["track_number"]: t for t in release["tracks"]}
    assert len(tracks) == 6
    assert tracks[3]["isrc"] == "SEXYZ2600103", "the empty ISRC is filled from the DSPs"
    assert tracks[4]["duration_ms"] == 276_000, "a second apart is the same length: no conflict, no change"
    assert (tracks[5]["title"], tracks[6]["isrc"]) == ("Lanterns", "SEXYZ2600106")
    assert tracks[2]["title"] == "Cafe Noir (feat. Orla)"
    assert all(set(t["dsp_ids"]) == {"spotify", "apple_music", "musicbrainz"} for t in tracks.values()), tracks
    history = api.get(f"/releases/{release_id}/history", subject=subject).json()["items"]
    moves = [(e["from_status"], e["to_status"], e["changed_by"]) for e in history]
    assert ("released", "locked", "system") in moves, moves
    assert moves.count(("released", "released", subject)) == 3, "each decision has its own history entry"
    assert api.get(f"/releases/{release_id}/sync/status", subject=subject).json()["state"] == "synced"


def test_sync_of_a_draft_is_refused_with_not_released(api: Api) -> None:
    # Given a draft release
    created = api.post(
        "/releases", {"title": "Not Out Yet", "display_artist": "Ada Lindqvist"}, subject="e2e-sync-draft"
    )
    release_id = created.json()["id"]

    # When its owner asks for a sync
    response = api.post(f"/releases/{release_id}/sync", {}, subject="e2e-sync-draft")

    # Then 409 not_released, and nothing was queued
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "not_released"
    status = api.get(f"/releases/{release_id}/sync/status", subject="e2e-sync-draft").json()
    assert status["state"] == "never"


def test_a_dsp_side_change_after_locking_opens_a_conflict_and_the_release_stays_locked(
    api: Api, fake_dsp: FakeDspService
) -> None:
    # Given a release whose local data agrees with the DSPs', so its first sync locks it at once
    tracks = [
        FakeTrack(title=f"Tide {n}", track_number=n, duration_ms=190_000 + n * 1000, isrc=f"SEXYZ26002{n:02d}")
        for n in (1, 2, 3)
    ]
    original = album(2, tracks)
    fake_dsp.fake.add_album(original)
    subject = "e2e-sync-resync"
    release_id = released(
        api,
        subject,
        upc(2),
        [{"title": t.title, "duration_ms": t.duration_ms, "isrc": t.isrc} for t in tracks],
    )
    first = settled_status(api, subject, release_id)
    assert first["state"] == "synced" and first["open_conflicts"] == 0, first
    locked = api.get(f"/releases/{release_id}", subject=subject).json()
    assert (locked["production_status"], locked["locked_by_sync"]) == ("locked", True)

    # When the DSPs change track 2's length by 9 s and the owner asks for a sync again
    changed = original.model_copy(
        update={
            "tracks": [
                tracks[0],
                tracks[1].model_copy(update={"duration_ms": tracks[1].duration_ms + 9_000}),
                tracks[2],
            ]
        }
    )
    albums = fake_dsp.fake.catalogue.albums
    fake_dsp.fake.set_catalogue(FakeCatalogue(albums=[changed if a.upc == original.upc else a for a in albums]))
    accepted = api.post(f"/releases/{release_id}/sync", {}, subject=subject)
    assert accepted.status_code == 202 and accepted.json() == {"status": "queued"}, accepted.text
    second = settled_status(api, subject, release_id)

    # Then the difference is a new open conflict, and the release stays locked by the sync
    assert second["state"] == "conflicts", second
    assert second["last_synced_at"] > first["last_synced_at"]
    [conflict] = open_conflicts(api, subject, release_id)
    assert (conflict["field"], conflict["local_value"], conflict["dsp_value"]) == ("duration_ms", 192_000, 201_000)
    after = api.get(f"/releases/{release_id}", subject=subject).json()
    assert (after["production_status"], after["lock_status"], after["locked_by_sync"]) == ("locked", "locked", True)


# -- the schedule and the dead-letter queue, on a stack with short timers -------------------------------------------


@dataclass
class Timers:
    """A second stack: the sync schedule every 3 s (``rate(1 minute)`` × 0.05), a failed sync due again after 2 s,
    one provider retry without backoff, moto recording every request it serves to ``recording``; its own fake."""

    stack: StackProcess
    dsp: FakeDspService
    api: Api
    recording: Path

    def moto_requests(self) -> list[dict[str, Any]]:
        """The requests moto served while recording (``/moto-api/recorder``), as moto recorded them."""
        if not self.recording.exists():
            return []
        return [json.loads(line) for line in self.recording.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def timers(jwt_secret: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Timers]:
    recording = tmp_path_factory.mktemp("moto") / "recording.jsonl"
    fake = FakeDsp()
    with FakeDspServer(fake) as server:
        dsp = FakeDspService(fake=fake, url=server.url)
        env = stack_environment(
            dsp.settings_env()
            | {
                "SLEEVE_DSP_RETRY_INTERVAL_S": "2",
                "SLEEVE_PROVIDER_MAX_RETRIES": "1",
                "SLEEVE_PROVIDER_BACKOFF_BASE_S": "0",
                "MOTO_RECORDER_FILEPATH": str(recording),
            }
        )
        process = spawn_stack(env=env, retry_delay_s=1, schedule_time_scale=0.05)
        try:
            with httpx.Client(base_url=process.api_url, timeout=30) as http:
                yield Timers(stack=process, dsp=dsp, api=Api(http=http, secret=jwt_secret), recording=recording)
        finally:
            code = process.stop()
            assert code == 0, f"the timers stack did not stop cleanly (exit {code}):\n{process.log_tail()}"


def test_the_schedule_queries_the_due_releases_and_syncs_them_without_a_scan(timers: Timers) -> None:
    # Given a released release no DSP lists yet: its first sync fails with not_found and makes it due again later
    subject = "e2e-sync-schedule"
    release_id = released(
        timers.api, subject, upc(3), [{"title": "Undertow", "duration_ms": 178_000, "isrc": "SEXYZ2600301"}]
    )
    failed = settled_status(timers.api, subject, release_id)
    assert failed["state"] == "failed" and failed["error"]["code"] == "not_found", failed

    # When the album appears on the DSPs, with moto recording what it serves
    httpx.post(f"{timers.stack.moto_url}/moto-api/recorder/start-recording").raise_for_status()
    try:
        timers.dsp.fake.add_album(
            album(3, [FakeTrack(title="Undertow", track_number=1, duration_ms=178_000, isrc="SEXYZ2600301")])
        )
        # Then the schedule finds the release due and queues it, and the worker syncs and locks it
        synced = wait_for(
            lambda: (
                (s := timers.api.get(f"/releases/{release_id}/sync/status", subject=subject).json())["state"]
                == "synced"
                and s
            ),
            timeout_s=SYNC_WAIT_S,
            what="the scheduled sync",
        )
    finally:
        httpx.post(f"{timers.stack.moto_url}/moto-api/recorder/stop-recording").raise_for_status()
    assert {s["status"] for s in synced["services"]} == {"synced"}, synced
    release = timers.api.get(f"/releases/{release_id}", subject=subject).json()
    assert (release["production_status"], release["locked_by_sync"]) == ("locked", True)
    queued = [r for r in log_records(timers.stack) if r.get("message") == "due dsp syncs queued"]
    assert any(r["sent"] >= 1 for r in queued), queued[-5:]

    # And DynamoDB was asked with a Query on the sparse gsi3, never a Scan
    targets = [(r["headers"].get("X-Amz-Target", ""), r) for r in timers.moto_requests()]
    dynamo = [(target.split(".", 1)[1], body_of(r)) for target, r in targets if target.startswith("DynamoDB_")]
    assert dynamo, "moto recorded no DynamoDB request"
    assert not [op for op, _ in dynamo if op == "Scan"], sorted({op for op, _ in dynamo})
    assert any(op == "Query" and body.get("IndexName") == "gsi3" for op, body in dynamo), sorted(
        {op for op, _ in dynamo}
    )


def log_records(stack: StackProcess) -> list[dict[str, Any]]:
    """The JSON log records (powertools, one object per line) the stack wrote so far."""
    records = []
    for line in stack.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def body_of(recorded: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of a request moto recorded (base64 when ``body_encoded``)."""
    raw = recorded.get("body") or ""
    text = base64.b64decode(raw).decode() if recorded.get("body_encoded") else raw
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def test_a_sync_that_keeps_failing_reaches_the_dead_letter_queue_and_ends_failed(timers: Timers) -> None:
    # Given every DSP answering 503 (after one retry each, the worker raises and SQS delivers the message again)
    timers.dsp.fake.add_album(
        album(4, [FakeTrack(title="Salt", track_number=1, duration_ms=201_000, isrc="SEXYZ2600401")])
    )
    for service in ("spotify", "apple_music", "musicbrainz"):
        timers.dsp.fake.inject(Fault(service=service, status=503, times=10_000))
    subject = "e2e-sync-dlq"
    try:
        # When release-now queues the sync
        started = time.monotonic()
        release_id = released(
            timers.api, subject, upc(4), [{"title": "Salt", "duration_ms": 201_000, "isrc": "SEXYZ2600401"}]
        )

        # Then after the queue's five receives the message reaches the DLQ, whose consumer ends the sync failed
        server_errors: list[str] = []

        def dead_lettered() -> dict[str, Any] | None:
            answer = timers.api.get(f"/releases/{release_id}/sync/status", subject=subject)
            if answer.status_code >= 500:
                # This stack's moto records every request and serves the worker's retries, the schedule every 3 s and
                # this 0.1 s poll at once; a 5xx of the read is kept for the report, not the DLQ path's failure.
                server_errors.append(f"{answer.status_code} {answer.text[:300]}")
                print(f"GET sync/status answered {server_errors[-1]}; stack log:\n{timers.stack.log_tail()}")
                return None
            assert answer.status_code == 200, (answer.status_code, answer.text)
            status: dict[str, Any] = answer.json()
            return (
                status
                if status["state"] == "failed" and (status["error"] or {}).get("code") == "dead_lettered"
                else None
            )

        status = wait_for(dead_lettered, timeout_s=SYNC_WAIT_S, interval_s=0.1, what="the dead-lettered sync")
    finally:
        timers.dsp.fake.faults.clear()
    assert {s["status"] for s in status["services"]} <= {"failed"}, status
    assert len(server_errors) <= 2, server_errors
    release = timers.api.get(f"/releases/{release_id}", subject=subject).json()
    assert release["production_status"] == "released" and not release["locked_by_sync"]
    dead = [r for r in log_records(timers.stack) if r.get("message") == "dsp sync dead-lettered"]
    assert any(r["marked_failed"] for r in dead), dead
    print(f"dead-lettered after {time.monotonic() - started:.1f} s")
