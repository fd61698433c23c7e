"""The media library's routes: uploads of images and videos, metadata assets, names, PATCH semantics, visibility,
album art imports, and records made before the library."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib import container
from chalicelib.models.domain import Asset
from tests.integration.conftest import BUCKET, TABLE, Aws, body_of, call, run_ingest
from tests.integration.media_support import create_media, list_all, media_upload


def _policy(fields: dict[str, str]) -> dict[str, Any]:
    return dict(json.loads(base64.b64decode(fields["policy"])))


def test_an_uploaded_image_becomes_a_ready_asset_with_its_checksum(client: Client, aws: Aws, shared_images: Path):
    # Given an image uploaded into the library with a title and tags
    data = (shared_images / "portrait-450x600.jpg").read_bytes()
    asset_id = media_upload(client, aws, data, title="Portrait", tags=["press", " Press ", "teal"])
    # When the ingest worker has run
    run_ingest(client, aws)
    # Then the asset is ready, an image, with the original first and its variants by size
    view = body_of(call(client, "GET", f"/media/{asset_id}"))
    assert (view["status"], view["type"], view["source"], view["visibility"]) == ("ready", "image", "upload", "private")
    kinds = [variant["kind"] for variant in view["variants"]]
    assert kinds[0] == "original" and kinds[1:] == [k for k in ("tiny", "small", "medium", "large") if k in kinds]
    assert len(kinds) > 2
    assert view["url"] == view["variants"][0]["url"] and view["url_expires_at"] is not None
    # And its checksum is the SHA-256 of the stored original's bytes
    original_key = container.get_asset_repository().get(asset_id).media.original.key  # type: ignore[union-attr]
    stored = aws.s3.get_object(Bucket=BUCKET, Key=original_key)["Body"].read()
    assert view["checksum_sha256"] == hashlib.sha256(stored).hexdigest()
    # And tags were trimmed and de-duplicated (case-insensitively), the first spelling kept
    assert view["tags"] == ["press", "teal"] and view["title"] == "Portrait"


def test_a_video_upload_gets_a_video_ticket_with_its_own_size_limit(client: Client, monkeypatch):
    # Given a video size limit above the image limit
    monkeypatch.setenv("SLEEVE_VIDEO_MAX_BYTES", "300000000")
    container.reset_container()
    # When a video upload larger than any image may be is asked for
    response = call(
        client, "POST", "/media/uploads", {"content_type": "Video/MP4; codecs=avc1", "content_length": 26_000_000}
    )
    # Then the ticket pins the exact key, the declared type and the video limit
    assert response.status_code == 201, response.body
    ticket = body_of(response)
    conditions = _policy(ticket["fields"])["conditions"]
    assert {"key": f"uploads/alice/{ticket['asset_id']}"} in conditions
    assert {"Content-Type": "video/mp4"} in conditions
    assert ["content-length-range", 1, 300_000_000] in conditions and ticket["max_bytes"] == 300_000_000
    # And the pending asset is a video
    assert body_of(call(client, "GET", f"/media/{ticket['asset_id']}"))["type"] == "video"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"content_type": "image/svg+xml", "content_length": 10}, 415, "unsupported_media_type"),
        ({"content_type": "image/png", "content_length": 25_000_001}, 413, "too_large"),
        ({"content_type": "video/webm", "content_length": 200_000_001}, 413, "too_large"),
        ({"content_type": "image/png", "content_length": 0}, 400, "invalid_content_length"),
        ({"content_type": "image/png", "content_length": 10, "layer": "L"}, 422, "name_parts_incomplete"),
    ],
)
def test_refused_uploads_write_nothing(client: Client, body: dict[str, Any], status: int, code: str):
    # When an upload is refused
    response = call(client, "POST", "/media/uploads", body)
    # Then it answers the code, and the library stays empty
    assert (response.status_code, body_of(response)["error"]["code"]) == (status, code)
    assert body_of(call(client, "GET", "/media"))["items"] == []


def test_a_metadata_asset_is_ready_without_bytes(client: Client):
    # When an asset is made from metadata alone
    view = create_media(client, creator_description="Night drive", type="image", source="playground")
    # Then it is ready with no bytes, no URL and no presigned POST ever issued for it
    assert (view["status"], view["source"], view["bytes"], view["url"], view["variants"]) == (
        "ready",
        "playground",
        None,
        None,
        [],
    )
    stored = container.get_asset_repository().get(view["id"])
    assert stored is not None and stored.declared_bytes == 0 and stored.upload_key == f"uploads/alice/{view['id']}"


def test_names_count_per_owner_and_per_prefix(client: Client):
    # Given name parts in mixed case
    parts = {"layer": "L", "category": "cas", "subcategory": "Atl"}
    # When alice names two assets with one prefix, one with another prefix, and bob one with the first prefix
    first = create_media(client, **parts)["name"]
    second = create_media(client, **parts)["name"]
    other_prefix = create_media(client, layer="L", category="CAS", subcategory="SEA")["name"]
    bobs = create_media(client, subject="bob", **parts)["name"]
    # Then each owner and each prefix counts from 001
    assert (first, second, other_prefix, bobs) == ("L.CAS.ATL.001", "L.CAS.ATL.002", "L.CAS.SEA.001", "L.CAS.ATL.001")


def test_patch_changes_only_what_it_names_and_keeps_the_creators_text_verbatim(client: Client):
    # Given an asset with a title, tags and a description
    asset = create_media(client, title="Atlantis", tags=["teal"], description="First draft")
    # When the creator sends a description with accents, combining marks, emoji, newlines and surrounding spaces
    typed = "  Ünïcødé 🌊 cafe\u0301 —\n  second line\t "
    response = call(client, "PATCH", f"/media/{asset['id']}", {"creator_description": typed, "description": None})
    # Then it is stored exactly as typed, the cleared field is gone, and the rest is untouched
    assert response.status_code == 200, response.body
    view = body_of(response)
    assert view["creator_description"] == typed
    assert view["description"] is None and view["title"] == "Atlantis" and view["tags"] == ["teal"]
    assert body_of(call(client, "GET", f"/media/{asset['id']}"))["creator_description"] == typed
    # And a null clears the creator's text too, and null tags clear the tags
    cleared = body_of(call(client, "PATCH", f"/media/{asset['id']}", {"creator_description": None, "tags": None}))
    assert cleared["creator_description"] is None and cleared["tags"] == []


def test_patch_names_an_unnamed_asset_once(client: Client):
    # Given an asset without a name
    asset = create_media(client, title="Untitled")
    parts = {"layer": "G", "category": "AB", "subcategory": "CD"}
    # When a PATCH names it
    named = body_of(call(client, "PATCH", f"/media/{asset['id']}", parts))
    # Then it has the generated name; naming it again is refused and changes nothing
    assert named["name"] == "G.AB.CD.001"
    again = call(client, "PATCH", f"/media/{asset['id']}", parts)
    assert again.status_code == 409 and body_of(again)["error"]["code"] == "name_already_assigned"
    assert body_of(call(client, "GET", f"/media/{asset['id']}"))["name"] == "G.AB.CD.001"
    # And the refused request did not take a number
    assert create_media(client, **parts)["name"] == "G.AB.CD.002"
    # And incomplete parts are refused
    partial = call(client, "PATCH", f"/media/{asset['id']}", {"layer": "G", "category": "AB"})
    assert partial.status_code == 422 and body_of(partial)["error"]["details"]["missing"] == ["subcategory"]


def test_visibility_defaults_to_private_and_filters_the_list(client: Client):
    # Given three assets, one made public and one shared
    private = create_media(client, title="a")
    public = create_media(client, title="b", visibility="public")
    shared = create_media(client, title="c")
    call(client, "PATCH", f"/media/{shared['id']}", {"visibility": "shared"})
    # Then each view says its visibility
    assert private["visibility"] == "private" and public["visibility"] == "public"
    # And the list filters by it
    for visibility, expected in (("private", private), ("public", public), ("shared", shared)):
        items = body_of(call(client, "GET", f"/media?visibility={visibility}"))["items"]
        assert [item["id"] for item in items] == [expected["id"]]
    # And a null visibility makes an asset private again
    call(client, "PATCH", f"/media/{public['id']}", {"visibility": None})
    assert body_of(call(client, "GET", f"/media/{public['id']}"))["visibility"] == "private"


def test_a_public_asset_is_delivered_from_the_cdn(client: Client, aws: Aws, shared_images: Path, monkeypatch):
    # Given a CDN in front of the bucket and a ready public image
    monkeypatch.setenv("SLEEVE_MEDIA_PUBLIC_BASE_URL", "https://cdn.example.com")
    container.reset_container()
    data = (shared_images / "portrait-450x600.jpg").read_bytes()
    asset_id = media_upload(client, aws, data, visibility="public")
    run_ingest(client, aws)
    # When it is read
    view = body_of(call(client, "GET", f"/media/{asset_id}"))
    # Then its URLs are stable CDN URLs of its keys, without expiry
    assert all(v["url"].startswith(f"https://cdn.example.com/media/alice/{asset_id}/") for v in view["variants"])
    assert view["url_expires_at"] is None


class _RecordingImports:
    """Stands in for P4's ImportService.start: records the call and creates the pending import asset as it does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None]] = []

    def start(self, owner_id: str, source_url: str, *, album_art_of: str | None = None) -> Asset:
        self.calls.append((owner_id, source_url, album_art_of))
        asset_id = uuid.uuid4().hex
        return container.get_asset_repository().create_pending(
            asset_id=asset_id,
            owner_id=owner_id,
            upload_key=f"uploads/{owner_id}/{asset_id}",
            declared_content_type="",
            declared_bytes=0,
            max_bytes=25_000_000,
            filename=None,
            attach_to=None,
            source="import",
        )


def test_album_art_with_a_source_url_is_imported_and_linked_at_once(client: Client, monkeypatch):
    # Given the import service
    imports = _RecordingImports()
    monkeypatch.setattr(container, "get_import_service", lambda: imports)
    container.reset_container()
    url = "https://is1-ssl.mzstatic.com/image/thumb/Music/cover/1400x1400bb.jpg"
    # When an asset is made with album art from a URL
    view = create_media(client, creator_description="Night drive", album_art={"source_url": url, "source": "iTunes"})
    # Then the import was started for this asset, and the asset names the import's asset at once
    assert imports.calls == [("alice", url, view["id"])]
    imported_id = view["album_art"]["asset_id"]
    assert imported_id and imported_id != view["id"]
    assert view["album_art"]["source"] == "iTunes" and view["album_art"]["source_url"] == url
    assert body_of(call(client, "GET", f"/media/{imported_id}"))["source"] == "import"


def test_a_record_made_before_the_library_reads_and_edits_fine(client: Client, aws: Aws):
    # Given an asset item written before the library existed (none of its attributes, no gsi3/gsi4 keys)
    asset_id = uuid.uuid4().hex
    created = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC).isoformat()
    boto3.client("dynamodb", region_name="us-east-1").put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": f"ASSET#{asset_id}"},
            "sk": {"S": "ASSET"},
            "gsi1pk": {"S": "OWNER#alice#ASSETS"},
            "gsi1sk": {"S": f"{created}#{asset_id}"},
            "asset_id": {"S": asset_id},
            "owner_id": {"S": "alice"},
            "status": {"S": "failed"},
            "upload_key": {"S": f"uploads/alice/{asset_id}"},
            "declared_content_type": {"S": "image/png"},
            "declared_bytes": {"N": "10"},
            "max_bytes": {"N": "25000000"},
            "error": {"M": {"code": {"S": "corrupt_image"}, "message": {"S": "Not an image."}}},
            "created_at": {"S": "2025-01-02T03:04:05.000000+0000"},
            "updated_at": {"S": "2025-01-02T03:04:05.000000+0000"},
        },
    )
    # When it is read, listed and edited
    view = body_of(call(client, "GET", f"/media/{asset_id}"))
    listed = body_of(call(client, "GET", "/media"))["items"]
    edited = call(client, "PATCH", f"/media/{asset_id}", {"title": "Old cover", "tags": ["legacy"]})
    # Then it reads as a private uploaded image with no library fields
    assert (view["type"], view["source"], view["visibility"], view["tags"], view["name"]) == (
        "image",
        "upload",
        "private",
        [],
        None,
    )
    assert [item["id"] for item in listed] == [asset_id]
    assert edited.status_code == 200 and body_of(edited)["title"] == "Old cover"


def test_the_tag_filter_lists_tagged_assets_newest_first_with_the_other_filters(client: Client):
    # Given assets tagged "Press" in various spellings, one untagged, one public, and bob's tagged one
    first = create_media(client, tags=["press"])
    create_media(client, tags=["other"])
    second = create_media(client, tags=["Press", "teal"], visibility="public")
    third = create_media(client, tags=[" PRESS "])
    create_media(client, subject="bob", tags=["press"])
    # When the library is listed by tag (case-insensitively), one per page
    pages = list_all(client, "tag=Press", limit=1)
    # Then the tagged ones come newest first, every page full but the last, bob's never
    assert [asset_id for page in pages for asset_id in page] == [third["id"], second["id"], first["id"]]
    assert all(len(page) == 1 for page in pages[:-1])
    # And the other filters apply on top of the tag
    assert list_all(client, "tag=press&visibility=public") == [[second["id"]]]
    # And an untagged asset leaves the list at once
    call(client, "PATCH", f"/media/{second['id']}", {"tags": ["teal"]})
    assert [a for page in list_all(client, "tag=press") for a in page] == [third["id"], first["id"]]
