"""Videos through the one ingest path: a library upload's object reaches the real ingest worker (moto's S3 → SQS
notification, ``handle_ingest``), which sniffs it, probes it, stores it as uploaded with a poster, and makes the asset
a ready video; corrupt, mislabelled and misrouted uploads end as the bytes, not the declared type, say.
"""

from __future__ import annotations

import hashlib
import io
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from chalicelib.config import get_settings
from chalicelib.container import get_asset_repository, get_media_views
from chalicelib.models.domain import Asset
from chalicelib.models.media import LibraryFields, MediaType
from chalicelib.services.storage_keys import upload_key
from chalicelib.store.assets import type_partition
from chalicelib.store.records import AssetRecord
from tests.integration.conftest import BUCKET, body_of, call, create_release, invoke_with_body, run_ingest, upload

VIDEOS = Path(__file__).resolve().parents[1] / "fixtures" / "video"

#: clip → (container, content type, extension, codec, width, height, duration ms); see tests/fixtures/video.
CLIPS = {
    "clip-h264-160x90.mp4": ("mp4", "video/mp4", "mp4", "h264", 160, 90, 1000),
    "clip-vp8-128x72.webm": ("webm", "video/webm", "webm", "vp8", 128, 72, 1500),
    "clip-mpeg4-112x80.mov": ("mov", "video/quicktime", "mov", "mpeg4", 112, 80, 2000),
}


def _library_upload(aws: Any, data: bytes, content_type: str, *, kind: MediaType, owner: str = "alice") -> str:
    """A pending library upload (as ``POST /media/uploads`` makes it) and its object put at the upload key."""
    asset_id = uuid.uuid4().hex
    settings = get_settings()
    get_asset_repository().create_pending(
        asset_id=asset_id,
        owner_id=owner,
        upload_key=upload_key(owner, asset_id),
        declared_content_type=content_type,
        declared_bytes=len(data),
        max_bytes=settings.video_max_bytes if kind == "video" else settings.upload_max_bytes,
        filename=None,
        attach_to=None,
        library=LibraryFields(kind=kind),
    )
    aws.s3.put_object(Bucket=BUCKET, Key=upload_key(owner, asset_id), Body=data, ContentType=content_type)
    return asset_id


def _asset(asset_id: str) -> Asset:
    asset = get_asset_repository().get(asset_id)
    assert asset is not None
    return asset


def _keys(aws: Any, prefix: str) -> set[str]:
    return {o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])}


def _listed_as(owner: str, kind: str) -> list[str]:
    return [record.asset_id for record in AssetRecord.by_type.query(type_partition(owner, kind))]


@pytest.mark.parametrize(("name", "clip"), list(CLIPS.items()))
def test_a_video_upload_becomes_a_ready_video_with_its_original_and_poster(client, aws, name, clip):
    container, content_type, extension, codec, width, height, duration_ms = clip
    data = (VIDEOS / name).read_bytes()
    # Given a library upload of a clip, declared as what it is
    asset_id = _library_upload(aws, data, content_type, kind="video")
    # When S3's notification reaches the ingest worker
    assert len(run_ingest(client, aws)) == 1
    # Then the asset is a ready video with what the clip holds, and the checksum of its bytes
    asset = _asset(asset_id)
    assert (asset.status, asset.kind, asset.error) == ("ready", "video", None)
    assert asset.media is None
    assert asset.checksum_sha256 == hashlib.sha256(data).hexdigest()
    video = asset.video
    assert video is not None
    assert (video.container, video.video_codec, video.width, video.height, video.duration_ms) == (
        container,
        codec,
        width,
        height,
        duration_ms,
    )
    # And the original is stored byte for byte with its content type, beside a JPEG poster of the same size
    run = asset.run_id
    original_key = f"media/alice/{asset_id}/{run}/original.{extension}"
    poster_key = f"media/alice/{asset_id}/{run}/poster.jpg"
    assert _keys(aws, f"media/alice/{asset_id}/") == {original_key, poster_key}
    assert (video.original.key, video.original.bytes, video.original.content_type) == (
        original_key,
        len(data),
        content_type,
    )
    stored = aws.s3.get_object(Bucket=BUCKET, Key=original_key)
    assert (stored["Body"].read(), stored["ContentType"]) == (data, content_type)
    poster = aws.s3.get_object(Bucket=BUCKET, Key=poster_key)
    assert poster["ContentType"] == "image/jpeg"
    assert Image.open(io.BytesIO(poster["Body"].read())).size == (width, height)
    assert video.poster is not None
    assert (video.poster["key"], video.poster["width"], video.poster["height"], video.poster["format"]) == (
        poster_key,
        width,
        height,
        "jpeg",
    )
    # And it is listed among the owner's videos, not their images
    assert asset_id in _listed_as("alice", "video")
    assert asset_id not in _listed_as("alice", "image")
    # And the library's view shows it as a video: the original first, then the poster
    view = get_media_views().view(asset)
    assert (view.type, view.content_type, view.width, view.height, view.duration_ms, view.bytes) == (
        "video",
        content_type,
        width,
        height,
        duration_ms,
        len(data),
    )
    assert view.checksum_sha256 == asset.checksum_sha256
    assert [(v.kind, v.format, v.width, v.height) for v in view.variants] == [
        ("original", container, width, height),
        ("poster", "jpeg", width, height),
    ]


def test_a_replayed_notification_of_a_video_changes_nothing(client, aws):
    asset_id = _library_upload(aws, (VIDEOS / "clip-vp8-128x72.webm").read_bytes(), "video/webm", kind="video")
    body = run_ingest(client, aws)[0]["Body"]
    before = _asset(asset_id)
    objects = {o["Key"]: o["ETag"] for o in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix="media/")["Contents"]}
    # When the same notification arrives again
    invoke_with_body(client, body)
    # Then neither the record nor the objects changed
    assert _asset(asset_id) == before
    assert {o["Key"]: o["ETag"] for o in aws.s3.list_objects_v2(Bucket=BUCKET, Prefix="media/")["Contents"]} == objects


@pytest.mark.parametrize("name", list(CLIPS))
def test_a_truncated_video_fails_unreadable_and_writes_nothing(client, aws, name):
    data = (VIDEOS / name).read_bytes()
    # Given the first half of a clip, uploaded as a video
    asset_id = _library_upload(aws, data[: len(data) // 2], CLIPS[name][1], kind="video")
    # When ingested
    run_ingest(client, aws)
    # Then the asset failed with a code, nothing was stored under media/, and the upload is kept
    asset = _asset(asset_id)
    assert asset.status == "failed" and asset.error is not None
    assert asset.error.code == "video_unreadable"
    assert asset.video is None
    assert _keys(aws, f"media/alice/{asset_id}/") == set()
    assert _keys(aws, f"uploads/alice/{asset_id}") == {f"uploads/alice/{asset_id}"}


def test_an_upload_declared_as_a_video_holding_neither_video_nor_image_is_not_a_video(client, aws):
    asset_id = _library_upload(aws, b"#EXTM3U\n#EXT-X-VERSION:3\nhttp://169.254.169.254/\n", "video/mp4", kind="video")
    run_ingest(client, aws)
    asset = _asset(asset_id)
    assert asset.status == "failed" and asset.error is not None and asset.error.code == "not_a_video"


def test_an_audio_only_mp4_is_not_a_video(client, aws):
    asset_id = _library_upload(aws, (VIDEOS / "audio-only-aac.mp4").read_bytes(), "video/mp4", kind="video")
    run_ingest(client, aws)
    asset = _asset(asset_id)
    assert asset.status == "failed" and asset.error is not None and asset.error.code == "not_a_video"


def test_a_video_declared_as_an_image_is_ingested_as_the_video_it_is(client, aws):
    # Given a library upload declared image/jpeg that holds an MP4
    data = (VIDEOS / "clip-h264-160x90.mp4").read_bytes()
    asset_id = _library_upload(aws, data, "image/jpeg", kind="image")
    # When ingested, Then the bytes decide: a ready video, stored as .mp4 video/mp4, listed among videos only
    run_ingest(client, aws)
    asset = _asset(asset_id)
    assert (asset.status, asset.kind) == ("ready", "video")
    assert asset.video is not None and asset.video.original.content_type == "video/mp4"
    assert asset.video.original.key.endswith("/original.mp4")
    assert asset_id in _listed_as("alice", "video")
    assert asset_id not in _listed_as("alice", "image")


def test_an_image_declared_as_a_video_is_ingested_as_the_image_it_is(client, aws, shared_images):
    # Given a library upload declared video/mp4 that holds a PNG
    data = (shared_images / "gradients-1000.png").read_bytes()
    asset_id = _library_upload(aws, data, "video/mp4", kind="video")
    # When ingested, Then the bytes decide: a ready image with its variants, listed among images only
    run_ingest(client, aws)
    asset = _asset(asset_id)
    assert (asset.status, asset.kind, asset.video) == ("ready", "image", None)
    assert asset.media is not None and asset.media.original.format == "png"
    assert asset_id in _listed_as("alice", "image")
    assert asset_id not in _listed_as("alice", "video")


def test_an_image_declared_as_a_video_keeps_the_images_size_limit(client, aws, shared_images, monkeypatch):
    # Given images may hold fewer bytes than videos, and a PNG above that limit declared as a video
    data = (shared_images / "gradients-1000.png").read_bytes()
    monkeypatch.setattr(get_settings(), "upload_max_bytes", len(data) - 1)
    asset_id = _library_upload(aws, data, "video/mp4", kind="video")
    # When ingested, Then it fails too_large as an image upload of that size would
    run_ingest(client, aws)
    asset = _asset(asset_id)
    assert asset.status == "failed" and asset.error is not None and asset.error.code == "too_large"


def test_a_video_sent_as_release_artwork_is_refused_and_the_cover_stays(client, aws, shared_images):
    # Given a release whose cover is a JPEG
    release = create_release(client)
    cover = upload(client, aws, release["id"], (shared_images / "lowres-128.jpg").read_bytes())
    run_ingest(client, aws)
    # When an MP4 is uploaded through the artwork route (image-only), declared as a JPEG
    video = upload(client, aws, release["id"], (VIDEOS / "clip-h264-160x90.mp4").read_bytes())
    run_ingest(client, aws)
    # Then that upload fails as artwork always refused non-images, and the cover did not move
    state = body_of(call(client, "GET", f"/releases/{release['id']}/artwork/uploads/{video}"))
    assert state["status"] == "failed" and state["error"]["code"] == "unsupported_format"
    assert body_of(call(client, "GET", f"/releases/{release['id']}/artwork"))["asset_id"] == cover
    assert _asset(video).video is None and _asset(video).kind == "image"
    assert _keys(aws, f"media/alice/{video}/") == set()


def test_without_pyav_a_video_is_ready_without_a_poster(client, aws, monkeypatch):
    # Given PyAV is not installed (as in the Lambda bundle)
    monkeypatch.setitem(sys.modules, "av", None)
    data = (VIDEOS / "clip-mpeg4-112x80.mov").read_bytes()
    asset_id = _library_upload(aws, data, "video/quicktime", kind="video")
    # When ingested, Then the video is ready with its probe and original, and no poster
    run_ingest(client, aws)
    asset = _asset(asset_id)
    assert asset.status == "ready" and asset.video is not None
    assert (asset.video.width, asset.video.height, asset.video.duration_ms, asset.video.poster) == (112, 80, 2000, None)
    assert _keys(aws, f"media/alice/{asset_id}/") == {f"media/alice/{asset_id}/{asset.run_id}/original.mov"}


def test_a_video_uploaded_through_post_media_uploads_is_listed_with_its_poster(client, aws):
    # Given a ticket from POST /media/uploads for a WebM, and the bytes put where the ticket says
    data = (VIDEOS / "clip-vp8-128x72.webm").read_bytes()
    ticket = call(client, "POST", "/media/uploads", {"content_type": "video/webm", "content_length": len(data)})
    assert ticket.status_code == 201, ticket.body
    fields = body_of(ticket)["fields"]
    aws.s3.put_object(Bucket=BUCKET, Key=fields["key"], Body=data, ContentType=fields["Content-Type"])
    # When S3's notification reaches the ingest worker
    run_ingest(client, aws)
    # Then GET /media/{id} answers a ready video with its duration, size, original and poster
    asset_id = body_of(ticket)["asset_id"]
    view = body_of(call(client, "GET", f"/media/{asset_id}"))
    assert (view["type"], view["status"], view["content_type"]) == ("video", "ready", "video/webm")
    assert (view["width"], view["height"], view["duration_ms"]) == (128, 72, 1500)
    assert [(v["kind"], v["format"]) for v in view["variants"]] == [("original", "webm"), ("poster", "jpeg")]
    # And GET /media?type=video lists it
    listed = body_of(call(client, "GET", "/media?type=video"))
    assert [item["id"] for item in listed["items"]] == [asset_id]
