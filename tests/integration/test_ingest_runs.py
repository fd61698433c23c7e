"""Bytes agree with their record: objects read by the ETag the event names, each run under keys of its own, the
superseded run's objects deleted, and every download format made at ingest and recorded."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from chalicelib.container import get_asset_repository, get_ingest_service
from chalicelib.models.domain import Asset
from chalicelib.services.storage_keys import run_prefixes
from chalicelib.workers.s3_events import object_created_records
from tests.integration.conftest import BUCKET, call, create_release, invoke_with_body, run_ingest, upload


def _all_keys(aws) -> set[str]:
    return {o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def _referenced(asset: Asset) -> set[str]:
    media = asset.media
    assert media is not None
    keys = {media.original.key, *(image.key for image in media.variants.values())}
    keys |= {image.key for formats in media.derived.values() for image in formats.values()}
    return keys


def test_an_event_whose_object_was_replaced_is_stale_and_the_record_names_the_bytes_it_was_made_from(
    client, aws, shared_images
):
    # Given an upload whose object is replaced before its first notification is processed
    release = create_release(client)
    upload_id = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    [first] = aws.receive_notifications()
    key = f"uploads/alice/{upload_id}"
    replaced = aws.s3.put_object(
        Bucket=BUCKET, Key=key, Body=(shared_images / "portrait-450x600.jpg").read_bytes(), ContentType="image/jpeg"
    )
    [second] = aws.receive_notifications()
    service = get_ingest_service()
    # When the first notification arrives: its object (by ETag) is gone
    assert service.handle_object_created(object_created_records(first["Body"])[0]) == "stale"
    # Then the asset was not claimed by it
    assert get_asset_repository().get(upload_id).status == "pending"
    # And the second notification makes the asset from the bytes it names, and says so
    assert service.handle_object_created(object_created_records(second["Body"])[0]) == "ready"
    asset = get_asset_repository().get(upload_id)
    assert asset.source_etag == replaced["ETag"].strip('"')
    assert (asset.media.original.width, asset.media.original.height) == (450, 600)


def test_of_two_interleaved_runs_the_winners_objects_stay_and_the_losers_go(client, aws, shared_images, monkeypatch):
    # Given an upload and its notification, delivered twice (SQS is at-least-once)
    release = create_release(client)
    upload_id = upload(client, aws, release["id"], (shared_images / "portrait-450x600.jpg").read_bytes())
    [message] = aws.receive_notifications()
    event = object_created_records(message["Body"])[0]
    service = get_ingest_service()
    real = service._make_media
    runs: list[str] = []
    outcomes: list[str] = []

    def make_media(asset: Asset, run: str, data: bytes) -> Any:
        runs.append(run)
        media = real(asset, run, data)
        if len(runs) == 1:
            # When a second run claims the asset while the first has written its objects, and finishes first
            outcomes.append(service.handle_object_created(event))
        return media

    monkeypatch.setattr(service, "_make_media", make_media)
    outcomes.insert(0, service.handle_object_created(event))
    # Then the second run won and the first was superseded
    loser, winner = runs
    assert loser != winner
    assert outcomes == ["superseded", "ready"]
    asset = get_asset_repository().get(upload_id)
    assert (asset.status, asset.run_id) == ("ready", winner)
    # And the record references the winner's objects, every one of which exists, and nothing of the loser is left
    referenced = _referenced(asset)
    assert all(key.startswith(tuple(run_prefixes("alice", upload_id, winner))) for key in referenced)
    assert _all_keys(aws) == referenced | {f"uploads/alice/{upload_id}"}
    assert not any(key.startswith(tuple(run_prefixes("alice", upload_id, loser))) for key in _all_keys(aws))


def test_a_run_that_lost_its_claim_before_finishing_removes_its_own_objects(client, aws, shared_images, monkeypatch):
    # Given a run whose claim is taken over by a redelivery while it decodes (the redelivery then dies)
    release = create_release(client)
    upload_id = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    [message] = aws.receive_notifications()
    event = object_created_records(message["Body"])[0]
    repository = get_asset_repository()
    service = get_ingest_service()
    real = service._make_media

    def make_media(asset: Asset, run: str, data: bytes) -> Any:
        media = real(asset, run, data)
        repository.start_processing(upload_id, etag=event.etag, sequencer=event.sequencer, size=event.size)
        return media

    monkeypatch.setattr(service, "_make_media", make_media)
    # When the first run tries to finish
    outcome = service.handle_object_created(event)
    # Then it is superseded, wrote nothing the record points at, and left no object behind
    assert outcome == "superseded"
    assert repository.get(upload_id).status == "processing"
    assert _all_keys(aws) == {f"uploads/alice/{upload_id}"}


def test_every_download_format_of_every_size_is_made_at_ingest_and_recorded(client, aws, shared_images):
    # Given a 450x600 JPEG upload (variants tiny and small)
    release = create_release(client)
    upload_id = upload(client, aws, release["id"], (shared_images / "portrait-450x600.jpg").read_bytes())
    # When the worker runs
    run_ingest(client, aws)
    # Then the record lists, for every size the share page offers, every format other than the stored one
    asset = get_asset_repository().get(upload_id)
    derived = asset.media.derived
    assert {size: sorted(formats) for size, formats in derived.items()} == {
        "tiny": ["jpeg", "png"],
        "small": ["jpeg", "png"],
        "original": ["png", "webp"],
    }
    # And each is stored under the run's derived/ prefix, in its format, at the size of the image it converts
    sources = {**asset.media.variants, "original": asset.media.original}
    for size, formats in derived.items():
        for fmt, image in formats.items():
            assert image.key == f"derived/alice/{upload_id}/{asset.run_id}/{size}.{'jpg' if fmt == 'jpeg' else fmt}"
            stored = aws.s3.get_object(Bucket=BUCKET, Key=image.key)
            data = stored["Body"].read()
            assert stored["ContentType"] == f"image/{fmt}" and len(data) == image.bytes
            with Image.open(io.BytesIO(data)) as decoded:
                assert decoded.format == fmt.upper()
                assert decoded.size == (image.width, image.height) == (sources[size].width, sources[size].height)


def test_the_dead_letter_worker_removes_the_objects_of_the_last_run(client, aws, shared_images, monkeypatch):
    # Given a run that wrote its objects and then died before finishing (every retry did the same)
    release = create_release(client)
    upload_id = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    [message] = aws.receive_notifications()
    service = get_ingest_service()

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("worker died")

    monkeypatch.setattr(service, "_finish", crash)
    with pytest.raises(RuntimeError):
        service.handle_object_created(object_created_records(message["Body"])[0])
    assert any(key.startswith("media/") for key in _all_keys(aws))
    # When the message reaches the dead-letter worker
    invoke_with_body(client, message["Body"], function="handle_ingest_dead_letter")
    # Then the upload failed processing_failed and only the uploaded bytes are left
    state = call(client, "GET", f"/releases/{release['id']}/artwork/uploads/{upload_id}").json_body
    assert (state["status"], state["error"]["code"]) == ("failed", "processing_failed")
    assert _all_keys(aws) == {f"uploads/alice/{upload_id}"}
