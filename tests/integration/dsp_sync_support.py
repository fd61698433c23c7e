"""Helpers of the DSP sync tests: a released release with chosen tracks, the sync service built on real provider
clients whose HTTP goes to the fake DSP (``httpx.MockTransport(FakeDsp.handle)``), and the sync queue's messages."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from chalice.test import Client

from chalicelib.config import Settings
from chalicelib.container import get_catalogue_repository, get_sqs_client, get_sync_queue, reset_container
from chalicelib.local.fake_dsp import FakeAlbum, FakeDsp, FakeTrack
from chalicelib.models.catalogue import HistoryEntry, ReleaseDetail, Track
from chalicelib.providers.apple_music import AppleMusicClient
from chalicelib.providers.base import DspProvider, DspService
from chalicelib.providers.musicbrainz import MusicBrainzClient
from chalicelib.providers.spotify import SpotifyClient
from chalicelib.services.catalogue import Catalogue
from chalicelib.services.dsp_sync import DspSyncService
from chalicelib.store.catalogue import CatalogueWrite
from chalicelib.store.sync_state import SyncStateRepository
from tests.integration.conftest import SYNC_QUEUE, call, create_release

#: A valid UPC-A (GS1 check digit) for the album under test.
UPC = "036000241457"
FAKE_URL = "http://fake-dsp.test"

#: Real-looking ISRCs (valid shape), one per track.
ISRCS = [f"GBAYE06{n:05d}" for n in range(1, 100)]


def album(titles: Sequence[str], *, upc: str = UPC, durations: Sequence[int] | None = None, **fields: Any) -> FakeAlbum:
    """A fake album on every service: ``titles`` numbered 1.. with ``ISRCS`` and ``durations`` (default 200 s + n)."""
    tracks = [
        FakeTrack(
            title=title,
            track_number=n,
            duration_ms=(durations[n - 1] if durations else 200_000 + n * 1000),
            isrc=ISRCS[n - 1],
        )
        for n, title in enumerate(titles, start=1)
    ]
    values: dict[str, Any] = {
        "upc": upc,
        "title": "Homogenic",
        "artist": "Björk",
        "release_date": datetime.now(UTC).date(),
    }
    values.update(fields)
    return FakeAlbum(tracks=tracks, **values)


def use_fake(monkeypatch: pytest.MonkeyPatch, fake: FakeDsp, **env: str) -> None:
    """Point the settings at ``fake`` (its credentials included); ``env`` overrides (``SLEEVE_`` + upper name)."""
    for name, value in fake.settings_env(FAKE_URL).items():
        monkeypatch.setenv(name, value)
    for name, value in env.items():
        key = f"SLEEVE_{name.upper()}"
        if value == "":
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    reset_container()


def providers_for(fake: FakeDsp, settings: Settings) -> list[DspProvider]:
    """The real clients of ``settings.dsp_providers``, their HTTP answered by ``fake`` (no waits between retries)."""
    transport = httpx.MockTransport(fake.handle)

    def no_wait(_: float) -> None:
        return None

    built: dict[DspService, DspProvider] = {
        "spotify": SpotifyClient.from_settings(settings, transport=transport, sleep=no_wait),
        "apple_music": AppleMusicClient.from_settings(settings, transport=transport, sleep=no_wait),
        "musicbrainz": MusicBrainzClient.from_settings(settings, transport=transport, sleep=no_wait),
    }
    return [built[name] for name in settings.dsp_providers]


def sync_service(fake: FakeDsp, settings: Settings | None = None) -> DspSyncService:
    """The sync service on moto's table and queue with the real clients talking to ``fake``."""
    settings = settings or Settings()
    clients = providers_for(fake, settings)
    return DspSyncService(
        Catalogue(get_catalogue_repository()), SyncStateRepository(), get_sync_queue(), lambda: clients, settings
    )


def put_tracks(release_id: str, tracks: Sequence[dict[str, Any]]) -> list[Track]:
    """Tracks put straight through the repository (33 per transaction), numbered 1.. unless given; each dict holds
    Track fields (``title`` at least)."""
    repository = get_catalogue_repository()
    now = datetime.now(UTC)
    made = [
        Track(
            id=uuid.uuid4().hex, release_id=release_id, created_at=now, updated_at=now, **{"track_number": n, **fields}
        )
        for n, fields in enumerate(tracks, start=1)
    ]
    for start in range(0, len(made), 33):
        detail = repository.load(release_id)
        assert detail is not None
        chunk = made[start : start + 33]
        release = detail.release.model_copy(update={"track_count": start + len(chunk)})
        claims = [(t.isrc, t.id) for t in chunk if t.isrc]
        repository.write(CatalogueWrite(release=release, inferred_type="album", put_tracks=chunk, claim_isrcs=claims))
    return made


def released(client: Client, tracks: Sequence[dict[str, Any]], *, upc: str | None = UPC, subject: str = "alice") -> str:
    """A release of ``subject`` with ``tracks``, moved to ``released`` through the API (which queues a sync)."""
    fields: dict[str, Any] = {"upc": upc} if upc else {}
    release_id = str(create_release(client, subject=subject, **fields)["id"])
    put_tracks(release_id, tracks)
    for target in ("mixed", "mastered", "released"):
        response = call(client, "POST", f"/releases/{release_id}/transition", {"to": target}, subject=subject)
        assert response.status_code == 200, response.body
    return release_id


def queued_bodies() -> list[str]:
    """Every message body waiting on the sync queue (deleted as read)."""
    sqs = get_sqs_client()
    url = sqs.get_queue_url(QueueName=SYNC_QUEUE)["QueueUrl"]
    bodies: list[str] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return bodies
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            bodies.append(message["Body"])


def message_for(release_id: str) -> str:
    """The one queued sync message of ``release_id`` (others stay read)."""
    bodies = [b for b in queued_bodies() if json.loads(b)["release_id"] == release_id]
    assert len(bodies) == 1, bodies
    return bodies[0]


def fresh_message(release_id: str, owner_id: str = "alice", reason: str = "requested") -> str:
    """A new sync request for ``release_id`` made now."""
    return json.dumps(
        {
            "type": "dsp_sync",
            "release_id": release_id,
            "owner_id": owner_id,
            "reason": reason,
            "requested_at": datetime.now(UTC).isoformat(),
        }
    )


def load(release_id: str) -> ReleaseDetail:
    """The release as stored."""
    detail = get_catalogue_repository().load(release_id)
    assert detail is not None
    return detail


def history(release_id: str) -> list[HistoryEntry]:
    """Every history entry of the release, newest first."""
    return list(get_catalogue_repository().history(release_id, limit=100, cursor=None).items)


class DynamoCalls:
    """Records the DynamoDB operations every botocore client sends (PynamoDB's and boto3's alike)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import botocore.client

        self.operations: list[str] = []
        original = botocore.client.BaseClient._make_api_call
        calls = self

        def recording(client: Any, operation: str, params: Any) -> Any:
            if client.meta.service_model.service_name == "dynamodb":
                calls.operations.append(operation)
            return original(client, operation, params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)

    def clear(self) -> None:
        """Forget what was recorded."""
        self.operations.clear()
