"""Share links of a media asset or a collection (an owner object's attached media): creation and its refusals, the
public listing, page and downloads, visibility (only shared and public assets are reachable), revocation, and
release links left as they were."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from tests.integration.conftest import BUCKET, body_of, call, create_release, run_ingest, upload


def _set(asset_id: str, **values: Any) -> None:
    """Change stored attributes of an asset (as a PATCH or a delete in progress would leave them)."""
    from chalicelib.store.records import AssetRecord

    record = AssetRecord(pk=f"ASSET#{asset_id}", sk="ASSET")
    record.update(actions=[getattr(AssetRecord, name).set(value) for name, value in values.items()])


def _ready_assets(client, aws, shared_images, count: int, *, subject: str = "alice") -> tuple[str, list[str]]:
    """``count`` ready images of ``subject`` (artwork uploads of one release, 450×600: tiny, small and the original
    exist), oldest first, all private; the release id and the asset ids."""
    release = create_release(client, subject=subject)
    ids = [
        upload(client, aws, release["id"], (shared_images / "portrait-450x600.jpg").read_bytes(), subject=subject)
        for _ in range(count)
    ]
    run_ingest(client, aws)
    return release["id"], ids


def _get(client, path: str):
    return client.http.request("GET", path, headers={})


def _object_of(location: str) -> str:
    """The S3 key a presigned GET points at."""
    path = urlparse(location).path
    return unquote(path.split(f"/{BUCKET}/", 1)[-1] if f"/{BUCKET}/" in path else path.lstrip("/"))


def _share_asset(client, asset_id: str, *, subject: str = "alice") -> dict[str, Any]:
    created = call(client, "POST", f"/media/{asset_id}/share-links", {"expires_in": 3600}, subject=subject)
    assert created.status_code == 201, created.body
    return body_of(created)


def _attach(client, asset_id: str, owner_type: str, owner_id: str, *, role: str = "gallery", order: int = 0) -> None:
    body = {"owner_type": owner_type, "owner_id": owner_id, "role": role, "sort_order": order}
    response = call(client, "POST", f"/media/{asset_id}/attach", body)
    assert response.status_code == 201, response.body


@pytest.fixture
def shared_asset(client, aws, shared_images):
    """A ready image titled "Night drive", shared, with a link to it."""
    _, (asset_id,) = _ready_assets(client, aws, shared_images, 1)
    _set(asset_id, visibility="shared", title="Night drive")
    return asset_id, _share_asset(client, asset_id)


# -- asset links ----------------------------------------------------------------------------------------------------


def test_an_asset_link_shows_the_asset_and_downloads_it_as_an_attachment(client, aws, shared_asset):
    asset_id, created = shared_asset
    token = created["token"]
    assert (created["target"], created["asset_id"]) == ("asset", asset_id)
    assert created["url"].endswith(f"/s/{token}")
    # When a visitor reads the listing
    listing = _get(client, f"/s/{token}/media")
    # Then it shows the asset's sizes and formats, and nothing of its keys or owner
    assert listing.status_code == 200 and listing.headers["Cache-Control"] == "no-store"
    shown = body_of(listing)
    assert shown["target"] == "asset" and [item["id"] for item in shown["items"]] == [asset_id]
    item = shown["items"][0]
    assert (item["title"], item["width"], item["height"]) == ("Night drive", 450, 600)
    assert [s["size"] for s in item["sizes"]] == ["tiny", "small", "original"]
    assert "alice" not in listing.body.decode() and "media/" not in listing.body.decode()
    # When they download small as PNG
    response = _get(client, f"/s/{token}/download?size=small&format=png")
    # Then a presigned GET of the PNG made at ingest, named after the asset, as an attachment
    assert response.status_code == 302
    location = response.headers["Location"]
    query = parse_qs(urlparse(location).query)
    assert query["response-content-disposition"][0].startswith('attachment; filename="Night drive (small).png"')
    assert query["response-content-type"] == ["image/png"]
    assert int(query["X-Amz-Expires"][0]) <= 300
    assert _object_of(location).startswith(f"derived/alice/{asset_id}/") and location.split("?")[0].endswith(".png")
    # And the owner sees the download counted (and never the token)
    links = body_of(call(client, "GET", f"/media/{asset_id}/share-links"))["items"]
    assert [(link["token_id"], link["downloads"]) for link in links] == [(created["token_id"], {"small": 1})]
    assert "token" not in links[0]


def test_the_page_of_an_asset_link_previews_it_and_downloads_through_a_form(client, shared_asset):
    asset_id, created = shared_asset
    page = _get(client, f"/s/{created['token']}")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.body.decode()
    assert "<h1>Night drive</h1>" in html
    assert f'action="{created["token"]}/download"' in html
    assert f'<input type="hidden" name="asset" value="{asset_id}">' in html
    assert 'value="original"' in html and 'value="png"' in html and 'value="jpeg"' in html
    assert "/original.jpg?" in html  # no medium variant: the preview is the largest image, presigned
    # Viewing the page is not a download
    assert body_of(call(client, "GET", f"/media/{asset_id}/share-links"))["items"][0]["downloads"] == {}


def test_a_private_asset_cannot_be_shared(client, aws, shared_images):
    # Given a ready asset left private (the default)
    _, (asset_id,) = _ready_assets(client, aws, shared_images, 1)
    # When its owner asks for a link
    response = call(client, "POST", f"/media/{asset_id}/share-links", {})
    # Then 409 media_private, and no link exists
    assert response.status_code == 409
    assert body_of(response)["error"]["code"] == "media_private"
    assert body_of(response)["error"]["details"] == {"id": asset_id, "visibility": "private"}
    assert body_of(call(client, "GET", f"/media/{asset_id}/share-links"))["items"] == []


def test_an_asset_made_private_after_sharing_answers_the_dead_link_404_until_shared_again(client, shared_asset):
    asset_id, created = shared_asset
    token = created["token"]
    dead = _get(client, "/s/nope.nope/media")
    # When the owner makes the asset private
    _set(asset_id, visibility="private")
    answers = [_get(client, f"/s/{token}/media"), _get(client, f"/s/{token}/download?size=tiny")]
    page = _get(client, f"/s/{token}")
    # Then the listing and the download answer exactly what an unknown link answers, and the page is the 404 page
    assert {r.status_code for r in answers} == {404}
    assert {r.body for r in answers} == {dead.body}
    assert page.status_code == 404 and "does not exist" in page.body.decode()
    # And once it is public again, the same link opens it
    _set(asset_id, visibility="public")
    assert _get(client, f"/s/{token}/media").status_code == 200


def test_an_asset_being_deleted_is_not_served(client, shared_asset):
    asset_id, created = shared_asset
    _set(asset_id, deleted_at=datetime.now(UTC))
    assert _get(client, f"/s/{created['token']}/media").status_code == 404
    assert _get(client, f"/s/{created['token']}/download").status_code == 404


def test_a_public_asset_previews_from_the_cdn_but_downloads_by_presigned_get(client, shared_asset, monkeypatch):
    from chalicelib.container import reset_container

    # Given a CDN in front of the bucket and the shared asset made public
    monkeypatch.setenv("SLEEVE_MEDIA_PUBLIC_BASE_URL", "https://cdn.example.com/")
    reset_container()
    asset_id, created = shared_asset
    _set(asset_id, visibility="public")
    # When a visitor opens the page and downloads
    html = _get(client, f"/s/{created['token']}").body.decode()
    download = _get(client, f"/s/{created['token']}/download?size=original")
    # Then the preview is the stable CDN URL, and the download a presigned GET with the attachment filename
    assert f'src="https://cdn.example.com/media/alice/{asset_id}/' in html
    assert "X-Amz-Signature" not in html.split('src="https://cdn.example.com/', 1)[1].split('"', 1)[0]
    assert download.status_code == 302 and "X-Amz-Signature" in download.headers["Location"]
    assert "response-content-disposition=attachment" in download.headers["Location"]


def test_a_video_downloads_as_stored(client, aws, shared_asset):
    # Given the shared asset recorded as a ready 3 s MP4 with a poster
    asset_id, created = shared_asset
    key = f"media/alice/{asset_id}/run-1/original.mp4"
    poster = {"key": f"media/alice/{asset_id}/run-1/poster.jpg", "width": 640, "height": 360, "bytes": 9}
    video = {
        "original": {"key": key, "bytes": 1234, "content_type": "video/mp4"},
        "container": "mp4",
        "video_codec": "h264",
        "width": 640,
        "height": 360,
        "duration_ms": 3000,
        "poster": {**poster, "format": "jpeg"},
    }
    _set(asset_id, kind="video", video=video)
    token = created["token"]
    # When a visitor reads the listing, opens the page and downloads
    item = body_of(_get(client, f"/s/{token}/media"))["items"][0]
    html = _get(client, f"/s/{token}").body.decode()
    download = _get(client, f"/s/{token}/download")
    as_png = _get(client, f"/s/{token}/download?format=png")
    # Then the original is the one size, in its container; the page plays it with its poster
    assert (item["type"], item["duration_ms"], item["default_size"]) == ("video", 3000, "original")
    assert item["sizes"] == [{"size": "original", "width": 640, "height": 360, "stored_format": "mp4", "formats": []}]
    assert "<video controls" in html and "/original.mp4?" in html and "/poster.jpg?" in html
    assert download.status_code == 302 and _object_of(download.headers["Location"]) == key
    query = parse_qs(urlparse(download.headers["Location"]).query)
    assert query["response-content-type"] == ["video/mp4"]
    assert query["response-content-disposition"][0].startswith('attachment; filename="Night drive (original).mp4"')
    assert (as_png.status_code, body_of(as_png)["error"]["code"]) == (404, "format_not_available")


def test_a_metadata_only_asset_shows_but_has_nothing_to_download(client, shared_asset):
    asset_id, created = shared_asset
    _set(asset_id, media=None)
    item = body_of(_get(client, f"/s/{created['token']}/media"))["items"][0]
    assert item["sizes"] == [] and item["default_size"] is None
    response = _get(client, f"/s/{created['token']}/download")
    assert (response.status_code, body_of(response)["error"]["code"]) == (404, "artwork_not_ready")


def test_asset_links_are_revoked_on_their_own_path_only(client, aws, shared_images, shared_asset):
    asset_id, created = shared_asset
    _, (other_id,) = _ready_assets(client, aws, shared_images, 1)
    # A link revoked through another asset's path is not found, and stays active
    wrong = call(client, "DELETE", f"/media/{other_id}/share-links/{created['token_id']}")
    assert (wrong.status_code, body_of(wrong)["error"]["code"]) == (404, "share_link_not_found")
    assert _get(client, f"/s/{created['token']}/media").status_code == 200
    # Revoked through its own, every public route answers 404 and the owner's list shows when
    assert call(client, "DELETE", f"/media/{asset_id}/share-links/{created['token_id']}").status_code == 204
    assert _get(client, f"/s/{created['token']}/media").status_code == 404
    assert _get(client, f"/s/{created['token']}/download").status_code == 404
    assert body_of(call(client, "GET", f"/media/{asset_id}/share-links"))["items"][0]["revoked_at"] is not None


def test_only_the_owner_manages_an_assets_links(client, shared_asset):
    asset_id, created = shared_asset
    for method, path in (
        ("POST", f"/media/{asset_id}/share-links"),
        ("GET", f"/media/{asset_id}/share-links"),
        ("DELETE", f"/media/{asset_id}/share-links/{created['token_id']}"),
    ):
        response = call(client, method, path, {} if method == "POST" else None, subject="mallory")
        assert (response.status_code, body_of(response)["error"]["code"]) == (404, "media_not_found"), path


def test_the_media_page_escapes_what_owners_typed(client, shared_asset):
    asset_id, created = shared_asset
    _set(asset_id, title='<script>alert(1)</script>"><img src=x onerror=alert(1)>')
    html = _get(client, f"/s/{created['token']}").body.decode()
    assert "<script>alert" not in html and "<img src=x" not in html and "&lt;script&gt;" in html


# -- collection links -----------------------------------------------------------------------------------------------


def test_a_collection_link_shows_its_shared_and_public_assets_and_leaves_private_ones_out(client, aws, shared_images):
    # Given three assets in a scene's gallery: shared, private, public (in that order)
    _, ids = _ready_assets(client, aws, shared_images, 3)
    for order, (asset_id, visibility) in enumerate(zip(ids, ("shared", "private", "public"), strict=True)):
        _set(asset_id, visibility=visibility, title=f"Still {order}")
        _attach(client, asset_id, "scene", "act1-scene3", order=order)
    created = call(client, "POST", "/owners/scene/act1-scene3/share-links", {})
    assert created.status_code == 201, created.body
    link = body_of(created)
    assert (link["target"], link["collection_type"], link["collection_id"]) == ("collection", "scene", "act1-scene3")
    token = link["token"]
    # When a visitor reads the listing and opens the page
    shown = body_of(_get(client, f"/s/{token}/media"))
    html = _get(client, f"/s/{token}").body.decode()
    # Then the shared and public assets show in gallery order, the private one nowhere
    assert shown["target"] == "collection"
    assert [item["id"] for item in shown["items"]] == [ids[0], ids[2]]
    assert ids[1] not in html and html.count('name="asset"') == 2 and "<h1>Shared collection</h1>" in html
    # And downloads name the asset: the private one and one outside the collection are not found
    private = _get(client, f"/s/{token}/download?asset={ids[1]}")
    unnamed = _get(client, f"/s/{token}/download?size=tiny")
    shared = _get(client, f"/s/{token}/download?asset={ids[2]}&size=tiny")
    assert (private.status_code, body_of(private)["error"]["code"]) == (404, "media_not_found")
    assert (unnamed.status_code, body_of(unnamed)["error"]["code"]) == (400, "asset_required")
    assert shared.status_code == 302 and _object_of(shared.headers["Location"]).startswith(f"media/alice/{ids[2]}/")
    # And the collection's links count it
    links = body_of(call(client, "GET", "/owners/scene/act1-scene3/share-links"))["items"]
    assert [link["downloads"] for link in links] == [{"tiny": 1}]


def test_a_collection_link_follows_what_is_attached_when_it_is_opened(client, aws, shared_images):
    # Given an empty collection's link
    token = body_of(call(client, "POST", "/owners/character/mara/share-links", {}))["token"]
    assert body_of(_get(client, f"/s/{token}/media"))["items"] == []
    assert "Nothing is shared here yet" in _get(client, f"/s/{token}").body.decode()
    # When a shared asset is attached afterwards
    _, (asset_id,) = _ready_assets(client, aws, shared_images, 1)
    _set(asset_id, visibility="shared")
    _attach(client, asset_id, "character", "mara", role="reference")
    # Then the same link shows it
    assert [item["id"] for item in body_of(_get(client, f"/s/{token}/media"))["items"]] == [asset_id]


def test_a_release_collection_link_shows_its_cover(client, aws, shared_images):
    # Given a release whose artwork upload is its cover, made shared
    release_id, (cover_id,) = _ready_assets(client, aws, shared_images, 1)
    _set(cover_id, visibility="shared")
    # When its owner shares the release's media and a visitor reads the listing
    token = body_of(call(client, "POST", f"/owners/release/{release_id}/share-links", {}))["token"]
    shown = body_of(_get(client, f"/s/{token}/media"))
    # Then the cover is there (set by the artwork upload, not an attach)
    assert [item["id"] for item in shown["items"]] == [cover_id]


def test_a_deleted_releases_collection_link_answers_the_dead_link_404(client, aws, shared_images):
    # Given a link to a release's media
    release_id, (cover_id,) = _ready_assets(client, aws, shared_images, 1)
    _set(cover_id, visibility="shared")
    token = body_of(call(client, "POST", f"/owners/release/{release_id}/share-links", {}))["token"]
    dead = _get(client, "/s/nope.nope/media")
    # When the release is deleted
    assert call(client, "DELETE", f"/releases/{release_id}").status_code == 204
    # Then the link answers what an unknown link answers (not the release's own 404)
    gone = [_get(client, f"/s/{token}/media"), _get(client, f"/s/{token}/download?asset={cover_id}")]
    assert {r.status_code for r in gone} == {404} and {r.body for r in gone} == {dead.body}
    assert _get(client, f"/s/{token}").status_code == 404


def test_collection_links_of_known_owner_types_need_the_callers_object(client, aws, shared_images):
    release = create_release(client)
    for path in (f"/owners/release/{release['id']}/share-links", "/owners/release/0123456789abcdef/share-links"):
        response = call(client, "POST", path, {}, subject="mallory")
        assert (response.status_code, body_of(response)["error"]["code"]) == (404, "release_not_found")
    track = call(client, "POST", "/owners/track/nope.nope/share-links", {})
    assert (track.status_code, body_of(track)["error"]["code"]) == (404, "track_not_found")
    malformed = call(client, "POST", "/owners/Scene%23x/act1/share-links", {})
    assert (malformed.status_code, body_of(malformed)["error"]["code"]) == (400, "invalid_owner")


def test_collections_are_namespaced_by_their_owner(client, aws, shared_images):
    # Given alice's shared asset in her scene, and mallory's link to a scene with the same name
    _, (asset_id,) = _ready_assets(client, aws, shared_images, 1)
    _set(asset_id, visibility="shared")
    _attach(client, asset_id, "scene", "intro")
    token = body_of(call(client, "POST", "/owners/scene/intro/share-links", {}, subject="mallory"))["token"]
    # Then mallory's link shows nothing of alice's, and neither lists the other's links
    assert body_of(_get(client, f"/s/{token}/media"))["items"] == []
    assert body_of(call(client, "GET", "/owners/scene/intro/share-links"))["items"] == []


def test_a_collection_link_is_revoked_through_its_collection_only(client):
    created = body_of(call(client, "POST", "/owners/scene/intro/share-links", {}))
    other = call(client, "DELETE", f"/owners/scene/outro/share-links/{created['token_id']}")
    assert (other.status_code, body_of(other)["error"]["code"]) == (404, "share_link_not_found")
    assert call(client, "DELETE", f"/owners/scene/intro/share-links/{created['token_id']}").status_code == 204
    assert _get(client, f"/s/{created['token']}/media").status_code == 404


# -- release links stay as they were --------------------------------------------------------------------------------


def test_release_links_are_stored_and_served_as_before(client, aws, shared_images):
    from chalicelib.store.records import ShareLinkRecord

    # Given a release link made now
    release_id, _ = _ready_assets(client, aws, shared_images, 1)
    created = body_of(call(client, "POST", f"/releases/{release_id}/share-links", {}))
    # Then its record has no target attribute (as every link before media links), its view says "release"
    record = ShareLinkRecord.get(f"SHARE#{created['token_id']}", "SHARE")
    assert record.target is None and record.release_id == release_id and record.asset_id is None
    assert created["target"] == "release" and created["asset_id"] is None
    # And the release routes serve it, the media listing does not
    assert _get(client, f"/s/{created['token']}/artwork").status_code == 200
    assert _get(client, f"/s/{created['token']}/download?asset=whatever&size=tiny").status_code == 302
    assert _get(client, f"/s/{created['token']}/media").status_code == 404
    # And a media link is not opened by the release routes
    _, (asset_id,) = _ready_assets(client, aws, shared_images, 1)
    _set(asset_id, visibility="shared")
    media_token = _share_asset(client, asset_id)["token"]
    assert _get(client, f"/s/{media_token}/artwork").status_code == 404
    revoke = call(client, "DELETE", f"/releases/{release_id}/share-links/{media_token.split('.')[0]}")
    assert revoke.status_code == 404
