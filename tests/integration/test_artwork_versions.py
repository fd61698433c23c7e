"""The served version of a cover (issue 10, SPEC "Served version") through ``chalice.test.Client``: after an
enhancement (Lanczos here, through the jobs worker and the one ingest path) the artwork view serves the enhanced
version when the owner prefers it, ``?version=`` picks either, share links serve and download the served version,
and a locked release refuses an enhancement. Every answer is checked against the OpenAPI document."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from chalice.test import Client

from tests.integration.conftest import BUCKET, Aws, body_of, call, create_release, run_ingest, upload
from tests.integration.enhancement_support import (  # noqa: F401
    enhance,
    enhanced,
    jobs_messages,
    lanczos_upscaler,
    ready_cover,
)

PREFERENCES = "/me/preferences/artwork"


def _artwork(client: Client, release_id: str, query: str = "") -> dict[str, Any]:
    response = call(client, "GET", f"/releases/{release_id}/artwork{query}")
    assert response.status_code == 200, response.body
    return dict(body_of(response))


def _key(url: str) -> str:
    """The S3 key a presigned GET points at."""
    path = unquote(urlparse(url).path)
    return path.split(f"/{BUCKET}/", 1)[-1] if f"/{BUCKET}/" in path else path.lstrip("/")


@pytest.fixture
def enhanced_release(client: Client, aws: Aws, shared_images) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """alice's release with a 450×600 cover enhanced by Lanczos: (release id, the original's view, the job)."""
    release_id = ready_cover(client, aws, shared_images)
    before = _artwork(client, release_id)
    return release_id, before, enhanced(client, aws, release_id)


def test_before_an_enhancement_the_original_is_served_and_enhanced_is_404(client: Client, aws: Aws, shared_images):
    # Given a release with a ready 450×600 cover and no enhancement
    release_id = ready_cover(client, aws, shared_images)
    # When its artwork is read, Then the original is shown, not upscaled, and an enhancement is offered
    artwork = _artwork(client, release_id)
    assert (artwork["version"], artwork["versions"], artwork["upscaled"]) == ("original", ["original"], False)
    assert (artwork["is_ai_enhanced"], artwork["ai_enhancement_model"], artwork["ai_enhanced_at"]) == (
        False,
        None,
        None,
    )
    assert artwork["enhancement_job"] is None and artwork["enhancement_offered"] is True
    assert (artwork["original"]["width"], artwork["original"]["height"]) == (450, 600)
    # And ?version=original is the same view, while ?version=enhanced answers 404 enhancement_not_found
    assert _artwork(client, release_id, "?version=original")["asset_id"] == artwork["asset_id"]
    response = call(client, "GET", f"/releases/{release_id}/artwork?version=enhanced")
    assert response.status_code == 404, response.body
    error = body_of(response)["error"]
    assert (error["code"], error["details"]) == ("enhancement_not_found", {"versions": ["original"]})


def test_a_release_without_artwork_has_no_versions(client: Client, aws: Aws) -> None:
    # Given a release with no cover at all
    release_id = create_release(client)["id"]
    # When its artwork is read, Then no version, nothing offered; enhanced answers 404, original the same view
    artwork = _artwork(client, release_id)
    assert (artwork["status"], artwork["version"], artwork["versions"]) == ("none", None, [])
    assert artwork["enhancement_offered"] is False and artwork["upscaled"] is False
    assert _artwork(client, release_id, "?version=original") == artwork
    response = call(client, "GET", f"/releases/{release_id}/artwork?version=enhanced")
    assert body_of(response)["error"]["code"] == "enhancement_not_found"


def test_the_enhanced_version_is_served_when_the_owner_prefers_it(client: Client, enhanced_release) -> None:
    release_id, before, job = enhanced_release
    # Given a cover enhanced by Lanczos (default preferences: prefer_ai_enhancement)
    # When the artwork is read
    artwork = _artwork(client, release_id)
    # Then the enhanced asset is shown: ×4 (1800×2400), with every variant up to large, marked as an upscale that is
    # not AI, naming the model and when
    assert (artwork["version"], artwork["versions"]) == ("enhanced", ["original", "enhanced"])
    assert artwork["asset_id"] == job["result_asset_id"] != before["asset_id"]
    assert (artwork["original"]["width"], artwork["original"]["height"]) == (1800, 2400)
    assert set(artwork["variants"]) == {"tiny", "small", "medium", "large"}
    assert artwork["upscaled"] is True and artwork["is_ai_enhanced"] is False
    assert artwork["ai_enhancement_model"] == "lanczos" and artwork["ai_enhanced_at"] is not None
    # And the job that made it, and no offer of another
    assert artwork["enhancement_job"]["id"] == job["id"]
    assert artwork["enhancement_job"]["status"] == "succeeded"
    assert artwork["enhancement_offered"] is False
    # And the upload the release's cover came from is unchanged
    assert artwork["upload_id"] == before["upload_id"]


def test_version_original_shows_the_upload_with_the_enhancement_listed(client: Client, enhanced_release) -> None:
    release_id, before, job = enhanced_release
    # Given an enhanced cover, When ?version=original is asked for
    artwork = _artwork(client, release_id, "?version=original")
    # Then the original upload's images are shown, not marked upscaled, with both versions listed
    assert (artwork["version"], artwork["versions"]) == ("original", ["original", "enhanced"])
    assert artwork["asset_id"] == before["asset_id"]
    assert (artwork["original"]["width"], artwork["original"]["height"]) == (450, 600)
    assert set(artwork["variants"]) == set(before["variants"])
    assert (artwork["upscaled"], artwork["is_ai_enhanced"], artwork["ai_enhancement_model"]) == (False, False, None)
    assert artwork["enhancement_job"]["id"] == job["id"]
    # And ?version=enhanced is the served view's images
    chosen = _artwork(client, release_id, "?version=enhanced")
    assert chosen["asset_id"] == job["result_asset_id"] and chosen["upscaled"] is True


def test_without_the_preference_the_original_is_served_and_the_enhanced_stays_reachable(
    client: Client, enhanced_release
) -> None:
    release_id, before, job = enhanced_release
    # Given an enhanced cover whose owner turns prefer_ai_enhancement off
    assert call(client, "PUT", PREFERENCES, {"prefer_ai_enhancement": False}).status_code == 200
    # When the artwork is read, Then the original is served
    artwork = _artwork(client, release_id)
    assert (artwork["version"], artwork["asset_id"], artwork["upscaled"]) == ("original", before["asset_id"], False)
    # And the enhanced version is still there to compare
    assert _artwork(client, release_id, "?version=enhanced")["asset_id"] == job["result_asset_id"]
    # And turning it back on serves the enhanced one again
    assert call(client, "PUT", PREFERENCES, {}).status_code == 200
    assert _artwork(client, release_id)["version"] == "enhanced"


def test_a_share_link_serves_and_downloads_the_served_version(client: Client, enhanced_release) -> None:
    release_id, before, job = enhanced_release
    # Given an enhanced cover and a share link to it
    link = body_of(call(client, "POST", f"/releases/{release_id}/share-links", {}))
    token = link["token"]
    # When a visitor lists it and downloads without a size
    listing = body_of(client.http.request("GET", f"/s/{token}/artwork", headers={}))
    download = client.http.request("GET", f"/s/{token}/download", headers={})
    # Then the enhanced version is offered (large exists: 1400 px) and the download is its large variant
    assert listing["default_size"] == "large"
    assert {size["size"]: size["width"] for size in listing["sizes"]}["original"] == 1800
    assert download.status_code == 302
    key = _key(download.headers["Location"])
    assert f"/{job['result_asset_id']}/" in key and key.endswith("/large.webp"), key
    # And with prefer_ai_enhancement off, the same link serves the original (no large: its original is the default)
    assert call(client, "PUT", PREFERENCES, {"prefer_ai_enhancement": False}).status_code == 200
    listing = body_of(client.http.request("GET", f"/s/{token}/artwork", headers={}))
    assert listing["default_size"] == "original"
    key = _key(client.http.request("GET", f"/s/{token}/download", headers={}).headers["Location"])
    assert f"/{before['asset_id']}/" in key and "/original." in key, key


def _lock(client: Client, release_id: str) -> None:
    assert call(client, "POST", f"/releases/{release_id}/tracks", {"title": "Hunter"}).status_code == 201
    for target in ("mixed", "mastered", "released", "locked"):
        response = call(client, "POST", f"/releases/{release_id}/transition", {"to": target})
        assert response.status_code == 200, response.body


def test_a_locked_release_refuses_an_enhancement(client: Client, aws: Aws, shared_images) -> None:
    # Given a release with a 450×600 cover, then locked
    release_id = ready_cover(client, aws, shared_images)
    _lock(client, release_id)
    # When its artwork is read, Then no enhancement is offered
    assert _artwork(client, release_id)["enhancement_offered"] is False
    # And a request answers 409 release_locked, and no job is made
    response = call(client, "POST", f"/releases/{release_id}/artwork/enhance")
    assert response.status_code == 409, response.body
    assert body_of(response)["error"]["code"] == "release_locked"
    assert body_of(call(client, "GET", "/jobs"))["items"] == [] and jobs_messages() == []


def test_a_new_upload_replaces_the_enhanced_cover(client: Client, aws: Aws, shared_images, enhanced_release) -> None:
    release_id, _before, _job = enhanced_release
    # Given an enhanced cover, When a new cover (1000×1000) is uploaded and ingested
    upload(client, aws, release_id, (shared_images / "gradients-1000.png").read_bytes(), content_type="image/png")
    run_ingest(client, aws)
    # Then the new upload is served, with no enhancement of its own, and offered for one
    artwork = _artwork(client, release_id)
    assert (artwork["version"], artwork["versions"], artwork["upscaled"]) == ("original", ["original"], False)
    assert artwork["original"]["width"] == 1000
    assert artwork["enhancement_job"] is None and artwork["enhancement_offered"] is True
