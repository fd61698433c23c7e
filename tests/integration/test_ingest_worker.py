"""The ingest worker invoked with real S3-notification-in-SQS events (moto delivers the notifications)."""

from __future__ import annotations

import json

from chalicelib.container import get_asset_repository
from tests.integration.conftest import BUCKET, body_of, call, create_release, invoke_with_body, run_ingest, upload


def _artwork(client, release_id: str, subject: str = "alice") -> dict:
    return body_of(call(client, "GET", f"/releases/{release_id}/artwork", subject=subject))


def test_an_upload_becomes_ready_with_every_variant(client, aws, shared_images):
    # Given a release and an uploaded 2725×2225 photo
    release = create_release(client)
    upload_id = upload(client, aws, release["id"], (shared_images / "photo-2725x2225.jpg").read_bytes())
    # When S3's notification reaches the worker
    messages = run_ingest(client, aws)
    # Then the artwork is ready, cropped square, with all four variants and colours
    assert len(messages) == 1
    artwork = _artwork(client, release["id"])
    assert artwork["status"] == "ready"
    assert artwork["upload_id"] == upload_id
    assert {name: (v["width"], v["height"]) for name, v in artwork["variants"].items()} == {
        "tiny": (64, 64),
        "small": (300, 300),
        "medium": (640, 640),
        "large": (1400, 1400),
    }
    assert all(
        v["format"] == "webp" and v["bytes"] > 0 and v["url"].startswith("http") for v in artwork["variants"].values()
    )
    assert (artwork["original"]["width"], artwork["original"]["height"], artwork["original"]["format"]) == (
        2725,
        2225,
        "jpeg",
    )
    assert artwork["cropped"] is True
    assert artwork["dominant_color"].startswith("#") and len(artwork["palette"]) >= 5
    assert artwork["placeholder"]
    # And the run that made it wrote its objects under keys of its own, each named by the record
    run = get_asset_repository().get(upload_id).run_id
    keys = {o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"media/alice/{upload_id}/")["Contents"]}
    assert keys == {
        f"media/alice/{upload_id}/{run}/{n}"
        for n in ("original.jpg", "tiny.webp", "small.webp", "medium.webp", "large.webp")
    }


def test_a_replayed_notification_changes_nothing(client, aws, shared_images):
    release = create_release(client)
    upload_id = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    body = run_ingest(client, aws)[0]["Body"]
    before = call(client, "GET", f"/releases/{release['id']}/artwork/uploads/{upload_id}")
    objects_before = {o["Key"]: o["ETag"] for o in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix="media/")["Contents"]}
    # When the same notification arrives twice more
    invoke_with_body(client, body)
    invoke_with_body(client, body)
    # Then neither the record nor the objects changed
    after = call(client, "GET", f"/releases/{release['id']}/artwork/uploads/{upload_id}")
    assert body_of(after) == body_of(before)
    objects_after = {o["Key"]: o["ETag"] for o in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix="media/")["Contents"]}
    assert objects_after == objects_before


def test_an_older_upload_finishing_last_does_not_replace_the_newer(client, aws, shared_images):
    release = create_release(client)
    older = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    older_body = aws.receive_notifications()[0]["Body"]
    newer = upload(
        client, aws, release["id"], (shared_images / "gradients-1000.png").read_bytes(), content_type="image/png"
    )
    run_ingest(client, aws)  # the newer finishes first
    invoke_with_body(client, older_body)  # then the older
    artwork = _artwork(client, release["id"])
    assert artwork["asset_id"] == newer
    assert artwork["original"]["width"] == 1000
    older_state = body_of(call(client, "GET", f"/releases/{release['id']}/artwork/uploads/{older}"))
    assert older_state["status"] == "ready"  # processed, just not the cover


def test_lowres_cover_lists_the_sizes_it_cannot_make(client, aws, shared_images):
    release = create_release(client)
    upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    run_ingest(client, aws)
    artwork = _artwork(client, release["id"])
    assert set(artwork["variants"]) == {"tiny"}
    assert artwork["missing_variants"] == ["small", "medium", "large"]


def test_refused_bytes_end_failed_with_a_code_and_the_upload_is_kept(client, aws, shared_images):
    release = create_release(client)
    svg = (shared_images / "not-allowed.svg").read_bytes()
    upload_id = upload(client, aws, release["id"], svg, content_type="image/png")
    run_ingest(client, aws)
    artwork = _artwork(client, release["id"])
    assert artwork["status"] == "failed"
    assert artwork["error"]["code"] == "unsupported_format"
    assert aws.s3.get_object(Bucket=BUCKET, Key=f"uploads/alice/{upload_id}")["Body"].read() == svg


def test_a_bomb_is_refused(client, aws, shared_images):
    release = create_release(client)
    upload(client, aws, release["id"], (shared_images / "bomb-280-megapixel.jpg").read_bytes())
    run_ingest(client, aws)
    assert _artwork(client, release["id"])["error"]["code"] == "decompression_bomb"


def test_real_size_above_the_limit_fails_too_large(client, aws, shared_images, monkeypatch):
    from chalicelib.container import reset_container

    monkeypatch.setenv("SLEEVE_UPLOAD_MAX_BYTES", "1000")
    reset_container()
    release = create_release(client)
    # The browser declared 500 bytes but sent 800 KB (moto does not enforce the POST policy; S3 would refuse it).
    data = (shared_images / "photo-2725x2225.jpg").read_bytes()
    upload_id = upload(client, aws, release["id"], data, declared_length=500)
    run_ingest(client, aws)
    state = body_of(call(client, "GET", f"/releases/{release['id']}/artwork/uploads/{upload_id}"))
    assert state["status"] == "failed" and state["error"]["code"] == "too_large"
    assert aws.s3.head_object(Bucket=BUCKET, Key=f"uploads/alice/{upload_id}")["ContentLength"] == len(data)


def test_keys_are_url_decoded_as_s3_encodes_them(client, aws, shared_images):
    owner = "ana maría+co"
    release = create_release(client, subject=owner)
    upload_id = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes(), subject=owner)
    messages = aws.receive_notifications()
    raw_key = json.loads(messages[0]["Body"])["Records"][0]["s3"]["object"]["key"]
    assert "+" in raw_key and "%" in raw_key  # S3's form encoding of the space, the accent and the plus
    invoke_with_body(client, messages[0]["Body"])
    state = body_of(call(client, "GET", f"/releases/{release['id']}/artwork/uploads/{upload_id}", subject=owner))
    assert state["status"] == "ready"


def test_test_events_and_foreign_keys_are_ignored(client, aws):
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET})
    invoke_with_body(client, test_event)
    foreign = json.dumps(
        {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": BUCKET},
                        "object": {"key": "media/x/y/original.jpg", "size": 1, "eTag": "e", "sequencer": "01"},
                    },
                }
            ]
        }
    )
    invoke_with_body(client, foreign)
    invoke_with_body(client, "not json")
    assert aws.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0


def test_the_dead_letter_worker_fails_the_upload_with_a_reason(client, aws, shared_images):
    release = create_release(client)
    upload_id = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    body = aws.receive_notifications()[0]["Body"]
    # When the message reaches the DLQ (every retry failed)
    invoke_with_body(client, body, function="handle_ingest_dead_letter")
    state = body_of(call(client, "GET", f"/releases/{release['id']}/artwork/uploads/{upload_id}"))
    assert state["status"] == "failed" and state["error"]["code"] == "processing_failed"
    assert aws.s3.head_object(Bucket=BUCKET, Key=f"uploads/alice/{upload_id}")["ContentLength"] > 0


def test_the_dead_letter_worker_leaves_a_ready_upload_alone(client, aws, shared_images):
    release = create_release(client)
    upload_id = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    body = run_ingest(client, aws)[0]["Body"]
    invoke_with_body(client, body, function="handle_ingest_dead_letter")
    state = body_of(call(client, "GET", f"/releases/{release['id']}/artwork/uploads/{upload_id}"))
    assert state["status"] == "ready"


def test_without_upload_the_legacy_artwork_url_is_the_fallback(client):
    release = create_release(client, artwork_url="https://cdn.example.org/legacy.jpg")
    artwork = _artwork(client, release["id"])
    assert artwork["status"] == "none"
    assert artwork["fallback_url"] == "https://cdn.example.org/legacy.jpg"
