"""Media asset views: variants in order, delivery URLs (presigned vs CDN), and old records without library fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from botocore.config import Config

from chalicelib.config import Settings
from chalicelib.models.domain import Asset, AssetMedia, StoredImage
from chalicelib.models.media import StoredFile, VideoMedia
from chalicelib.services.media_views import MediaViews
from chalicelib.store.objects import ObjectStore

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ASSET_ID = "0123456789abcdef0123456789abcdef"


def _image(name: str, size: int, fmt: str = "webp") -> StoredImage:
    return StoredImage(
        key=f"media/alice/{ASSET_ID}/run/{name}.{fmt}", width=size, height=size, bytes=size * 10, format=fmt
    )


def _media() -> AssetMedia:
    return AssetMedia(
        original=_image("original", 2000, "jpeg"),
        # Stored out of order on purpose: the view sorts by size
        variants={name: _image(name, px) for name, px in (("large", 1400), ("tiny", 64), ("medium", 640))},
        source_format="jpeg",
        source_width=2000,
        source_height=2000,
        cropped=False,
        dominant_color="#102030",
        palette=["#102030"],
        placeholder="LKO2?U%2Tw=w]~RBVZRi};RPxuwH",
    )


def _asset(**fields: object) -> Asset:
    values: dict[str, object] = {
        "id": ASSET_ID,
        "owner_id": "alice",
        "status": "ready",
        "upload_key": f"uploads/alice/{ASSET_ID}",
        "declared_content_type": "image/jpeg",
        "declared_bytes": 1000,
        "max_bytes": 25_000_000,
        "created_at": NOW,
        "updated_at": NOW,
        "media": _media(),
    }
    values.update(fields)
    return Asset.model_validate(values)


def _views(base_url: str | None = None) -> MediaViews:
    settings = Settings(
        bucket_name="media-bucket", jwt_secret="s", artwork_url_ttl_s=600, media_public_base_url=base_url
    )
    # Presigning is local signing: no request leaves the process.
    s3 = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test").client(
        "s3", region_name="us-east-1", config=Config(signature_version="s3v4")
    )
    return MediaViews(settings=settings, objects=ObjectStore(s3, "media-bucket"), clock=lambda: NOW)


def test_an_image_lists_its_original_first_then_its_variants_by_size():
    # Given a ready image with three variants
    view = _views().view(_asset())
    # Then the original comes first, then tiny, medium, large
    assert [variant.kind for variant in view.variants] == ["original", "tiny", "medium", "large"]
    # And the asset's own fields describe the original
    assert (view.content_type, view.width, view.height, view.bytes) == ("image/jpeg", 2000, 2000, 20000)
    assert view.url == view.variants[0].url


@pytest.mark.parametrize("visibility", ["private", "shared"])
def test_private_and_shared_assets_get_presigned_urls_even_with_a_cdn(visibility: str):
    # Given a CDN base URL and a private or shared asset
    view = _views("https://cdn.example.com").view(_asset(visibility=visibility))
    # Then every URL is a presigned GET of the bucket that expires after artwork_url_ttl_s
    for variant in view.variants:
        query = parse_qs(urlsplit(variant.url).query)
        assert "X-Amz-Signature" in query and query["X-Amz-Expires"] == ["600"]
        assert not variant.url.startswith("https://cdn.example.com")
        assert variant.url_expires_at == NOW + timedelta(seconds=600)
    assert view.url_expires_at == NOW + timedelta(seconds=600)


def test_a_public_asset_behind_a_cdn_gets_stable_cdn_urls():
    # Given a CDN base URL (with a trailing slash) and a public asset
    view = _views("https://cdn.example.com/").view(_asset(visibility="public", owner_id="auth0|alice"))
    # Then its URLs are {base}/{key}, unsigned, with no expiry
    assert view.url == f"https://cdn.example.com/media/alice/{ASSET_ID}/run/original.jpeg"
    assert all(variant.url_expires_at is None for variant in view.variants)
    assert view.url_expires_at is None


def test_a_public_asset_without_a_cdn_is_presigned():
    # Given no CDN base URL
    view = _views(None).view(_asset(visibility="public"))
    # Then even a public asset is delivered by presigned GETs
    assert "X-Amz-Signature" in view.url  # type: ignore[operator]
    assert view.url_expires_at is not None


def test_a_video_lists_its_original_then_its_poster():
    # Given a ready video with a poster
    video = VideoMedia(
        original=StoredFile(key=f"media/alice/{ASSET_ID}/run/original.mp4", bytes=123456, content_type="video/mp4"),
        container="mp4",
        video_codec="h264",
        width=640,
        height=360,
        duration_ms=2500,
        poster=_image("poster", 640, "jpeg").model_dump() | {"height": 360},
    )
    view = _views().view(_asset(kind="video", media=None, video=video))
    # Then the variants are the original (mp4) and the poster (jpeg), and the duration is shown
    assert [(v.kind, v.format) for v in view.variants] == [("original", "mp4"), ("poster", "jpeg")]
    assert (view.type, view.content_type, view.duration_ms, view.width, view.height) == (
        "video",
        "video/mp4",
        2500,
        640,
        360,
    )


@pytest.mark.parametrize("status", ["pending", "processing", "failed"])
def test_an_asset_not_ready_has_no_urls_nor_byte_facts(status: str):
    view = _views().view(_asset(status=status, media=None))
    assert view.variants == [] and view.url is None
    assert (view.content_type, view.bytes, view.width, view.height) == (None, None, None, None)


def test_a_tombstoned_asset_has_no_urls():
    # Given an asset whose delete is under way
    view = _views().view(_asset(deleted_at=NOW))
    # Then no URL is issued for its objects
    assert view.variants == [] and view.url is None and view.deleted_at == NOW


def test_an_old_record_without_library_fields_reads_as_a_private_uploaded_image():
    # Given an asset made before the library (none of its fields set)
    view = _views().view(_asset())
    # Then it reads as a private image from an upload, with no creator metadata
    assert (view.type, view.visibility, view.source, view.tags) == ("image", "private", "upload", [])
    assert view.name is None and view.creator_description is None and view.ai_metadata is None
