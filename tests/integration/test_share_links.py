"""Share links: creation, listing, revocation, the public listing and downloads in any size and format."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from PIL import Image

from tests.integration.conftest import BUCKET, body_of, call, create_release, run_ingest, upload


@pytest.fixture
def shared_release(client, aws, shared_images):
    """A release with ready artwork (a 450×600 portrait: tiny and small exist) and a share link to it."""
    release = create_release(client, title="Vespertine / Live", display_artist="Björk")
    upload(client, aws, release["id"], (shared_images / "portrait-450x600.jpg").read_bytes())
    run_ingest(client, aws)
    created = call(client, "POST", f"/releases/{release['id']}/share-links", {"expires_in": 3600})
    assert created.status_code == 201
    return release, body_of(created)


def _download(client, token: str, query: str):
    return client.http.request("GET", f"/s/{token}/download?{query}", headers={})


def _object_of(location: str) -> str:
    """The S3 key a presigned GET points at."""
    path = urlparse(location).path
    return unquote(path.split(f"/{BUCKET}/", 1)[-1] if f"/{BUCKET}/" in path else path.lstrip("/"))


def test_tokens_are_long_random_and_stored_hashed(client, aws, shared_release):
    _, created = shared_release
    token_id, _, secret = created["token"].partition(".")
    assert len(secret) >= 43  # 32 random bytes, base64url: 256 bits
    assert created["url"].endswith(f"/s/{created['token']}")
    table = aws.s3  # noqa: F841 - the token must not be stored anywhere in clear
    from chalicelib.store.records import ShareLinkRecord

    record = ShareLinkRecord.get(f"SHARE#{token_id}", "SHARE")
    assert secret not in record.secret_sha256 and len(record.secret_sha256) == 64


def test_the_public_listing_has_sizes_but_no_keys_or_owner(client, shared_release):
    _, created = shared_release
    response = client.http.request("GET", f"/s/{created['token']}/artwork", headers={})
    assert response.status_code == 200
    listing = body_of(response)
    assert listing["release"] == {"title": "Vespertine / Live", "artist": "Björk"}
    assert [s["size"] for s in listing["sizes"]][-1] == "original"
    text = response.body.decode()
    assert "alice" not in text and "media/" not in text and "uploads/" not in text


def test_download_redirects_to_a_presigned_get_with_an_attachment_filename(client, shared_release):
    _, created = shared_release
    response = _download(client, created["token"], "size=tiny&format=webp")
    assert response.status_code == 302
    location = response.headers["Location"]
    query = parse_qs(urlparse(location).query)
    disposition = query["response-content-disposition"][0]
    assert disposition.startswith('attachment; filename="Bjork - Vespertine Live (tiny).webp"')
    assert "filename*=UTF-8''Bj%C3%B6rk%20-%20Vespertine%20Live%20%28tiny%29.webp" in disposition
    assert int(query["X-Amz-Expires"][0]) <= 300
    assert _object_of(location).endswith("/tiny.webp")


def test_another_format_is_the_derived_object_made_at_ingest(client, aws, shared_release):
    _, created = shared_release
    bucket_before = _bucket_keys(aws)
    # When a visitor downloads small as PNG
    first = _download(client, created["token"], "size=small&format=png")
    # Then the redirect points at the PNG the ingest worker made, and the API wrote nothing
    key = _object_of(first.headers["Location"])
    assert key.startswith("derived/alice/") and key.endswith("/small.png")
    image = Image.open(io.BytesIO(aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))
    assert (image.format, image.size) == ("PNG", (300, 300))
    assert _bucket_keys(aws) == bucket_before


def _bucket_keys(aws) -> set[str]:
    return {o["Key"] for o in aws.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_a_download_redirects_to_the_derived_object_recorded_in_media(client, aws, shared_images):
    # Given a cover whose record names a derived PNG of its small variant (and no other derived image)
    release = create_release(client)
    asset_id = upload(client, aws, release["id"], (shared_images / "portrait-450x600.jpg").read_bytes())
    run_ingest(client, aws)
    recorded = {
        "key": f"derived/alice/{asset_id}/run-1/small.png",
        "width": 300,
        "height": 300,
        "bytes": 9,
        "format": "png",
    }
    _rewrite_media(asset_id, lambda media: media.update(derived={"small": {"png": recorded}}))
    token = body_of(call(client, "POST", f"/releases/{release['id']}/share-links", {}))["token"]
    bucket_before = _bucket_keys(aws)
    # When a visitor downloads small as PNG, and tiny as PNG
    recorded_png = _download(client, token, "size=small&format=png")
    missing_png = _download(client, token, "size=tiny&format=png")
    # Then the first redirects to the recorded object, the second is 404 naming the formats tiny has
    assert recorded_png.status_code == 302
    assert _object_of(recorded_png.headers["Location"]) == recorded["key"]
    assert recorded_png.headers["Location"].split("?")[0].endswith(".png")
    assert missing_png.status_code == 404
    assert body_of(missing_png)["error"] == {
        "code": "format_not_available",
        "message": "The tiny size is not available as png.",
        "details": {"size": "tiny", "format": "png", "available": ["webp"]},
    }
    # and nothing was converted or written by the API
    assert _bucket_keys(aws) == bucket_before
    # The listing offers per size what exists; the page's picker the formats every size has
    listing = body_of(client.http.request("GET", f"/s/{token}/artwork", headers={}))
    assert {s["size"]: s["formats"] for s in listing["sizes"]} == {
        "tiny": ["webp"],
        "small": ["webp", "png"],
        "original": ["jpeg"],
    }
    assert listing["formats"] == [] and listing["default_size"] == "original"
    html = client.http.request("GET", f"/s/{token}", headers={}).body.decode()
    assert 'value="png"' not in html and '<option value="">As stored</option>' in html
    # and "As stored" (an empty format) downloads the stored format
    as_stored = _download(client, token, "size=tiny&format=")
    assert _object_of(as_stored.headers["Location"]).endswith("/tiny.webp")


_NO_PILLOW_SCRIPT = """
import json, sys
import boto3
from moto import mock_aws
from chalice.test import Client
from chalicelib.container import reset_container
from tests.integration.conftest import auth, provision_local

def image(name, side, fmt):
    return {"key": "media/alice/x/r/" + name, "width": side, "height": side, "bytes": 1, "format": fmt}

MEDIA = {
    "original": image("original.png", 1600, "png"),
    "variants": {"large": image("large.webp", 1400, "webp")},
    "derived": {
        "large": {"png": image("large.png", 1400, "png"), "jpeg": image("large.jpg", 1400, "jpeg")},
        "original": {"jpeg": image("original.jpg", 1600, "jpeg"), "webp": image("original.webp", 1600, "webp")},
    },
    "source_format": "png", "source_width": 1600, "source_height": 1600, "cropped": False,
    "dominant_color": "#000000", "palette": ["#000000"], "placeholder": "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
}
QUERIES = ("size=large&format=png", "size=large&format=jpeg", "size=original&format=jpeg", "format=png")

with mock_aws():
    provision_local(boto3.Session(region_name="us-east-1"))
    reset_container()
    from app import app
    from chalicelib.store.assets import AssetRepository
    from chalicelib.store.attachments import AttachmentRepository
    from chalicelib.store.records import AssetRecord

    with Client(app, stage_name="test", project_dir=".") as client:
        headers = auth("alice")
        created = client.http.post("/releases", headers=headers, body=b'{"title": "T", "display_artist": "A"}')
        target = "RELEASE#" + json.loads(created.body)["id"]
        asset = AssetRepository().create_pending(
            asset_id="a" * 32, owner_id="alice", upload_key="uploads/alice/" + "a" * 32,
            declared_content_type="image/png", declared_bytes=1, max_bytes=10, filename=None,
            attach_to=target + "#cover",
        )
        AssetRecord(pk="ASSET#" + asset.id, sk="ASSET").update(
            actions=[AssetRecord.status.set("ready"), AssetRecord.media.set(MEDIA)]
        )
        AttachmentRepository().attach_if_newer(target, "cover", asset=asset)
        path = "/releases/" + target.removeprefix("RELEASE#") + "/share-links"
        token = json.loads(client.http.post(path, headers=headers, body=b"{}").body)["token"]
        statuses = [client.http.get("/s/" + token + "/download?" + q).status_code for q in QUERIES]
print(json.dumps({"statuses": statuses, "pillow_imported": "PIL" in sys.modules}))
"""


def test_the_api_never_imports_pillow_for_a_download():
    # Given a fresh interpreter running the API in-process on moto, with a cover whose derived images are recorded
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT
    from tests.integration.conftest import TEST_ENV

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLEEVE_")} | TEST_ENV
    # When it serves PNG and JPEG downloads of several sizes
    run = subprocess.run(
        [sys.executable, "-c", _NO_PILLOW_SCRIPT], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    # Then every download redirects, and Pillow was never imported
    assert result == {"statuses": [302, 302, 302, 302], "pillow_imported": False}


def test_no_location_metadata_in_any_public_download(client, aws, shared_images, monkeypatch):
    from chalicelib.container import reset_container

    # Given the 8×8 px photo with a GPS IFD, accepted once the too-small limit is lowered
    monkeypatch.setenv("SLEEVE_MIN_SOURCE_PX", "1")
    reset_container()
    release = create_release(client)
    upload(client, aws, release["id"], (shared_images / "exif-gps.jpg").read_bytes())
    run_ingest(client, aws)
    created = body_of(call(client, "POST", f"/releases/{release['id']}/share-links", {}))
    assert 0x8825 in Image.open(shared_images / "exif-gps.jpg").getexif()  # the source does carry GPS
    for query in (
        "size=original",
        "size=original&format=png",
        "size=original&format=jpeg",
        "size=original&format=webp",
    ):
        key = _object_of(_download(client, created["token"], query).headers["Location"])
        data = aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        exif = Image.open(io.BytesIO(data)).getexif()
        assert 0x8825 not in exif, f"GPS IFD pointer in {key}"
        assert not exif.get_ifd(0x8825), f"GPS data in {key}"


def test_download_counters_per_size(client, shared_release):
    release, created = shared_release
    for query in ("size=tiny", "size=tiny&format=png", "size=original"):
        assert _download(client, created["token"], query).status_code == 302
    links = body_of(call(client, "GET", f"/releases/{release['id']}/share-links"))["items"]
    assert links[0]["downloads"] == {"tiny": 2, "original": 1}
    assert "token" not in links[0]


def test_bad_size_and_format_are_400_and_missing_sizes_404(client, aws, shared_images, shared_release):
    _, created = shared_release
    bad_size = _download(client, created["token"], "size=huge")
    assert (bad_size.status_code, body_of(bad_size)["error"]["code"]) == (400, "invalid_size")
    bad_format = _download(client, created["token"], "format=gif")
    assert (bad_format.status_code, body_of(bad_format)["error"]["code"]) == (400, "invalid_format")
    # a 450 px source: the large variant does not exist
    missing = _download(client, created["token"], "size=large")
    assert (missing.status_code, body_of(missing)["error"]["code"]) == (404, "size_not_available")


def test_unknown_expired_and_revoked_tokens_answer_the_same_404(client, aws, shared_release, monkeypatch):
    release, created = shared_release
    token_id = created["token_id"]
    unknown = client.http.request("GET", "/s/nope.nope/artwork", headers={})
    tampered = client.http.request("GET", f"/s/{token_id}.{'A' * 43}/artwork", headers={})
    assert call(client, "DELETE", f"/releases/{release['id']}/share-links/{token_id}").status_code == 204
    revoked = client.http.request("GET", f"/s/{created['token']}/artwork", headers={})
    revoked_download = _download(client, created["token"], "size=tiny")
    bodies = {r.body for r in (unknown, tampered, revoked, revoked_download)}
    assert {r.status_code for r in (unknown, tampered, revoked, revoked_download)} == {404}
    assert len(bodies) == 1

    from datetime import timedelta

    from chalicelib.services import share_links
    from chalicelib.store import dynamo

    short = body_of(call(client, "POST", f"/releases/{release['id']}/share-links", {"expires_in": 60}))
    later = dynamo.utcnow() + timedelta(seconds=61)
    monkeypatch.setattr(share_links, "utcnow", lambda: later)
    expired = client.http.request("GET", f"/s/{short['token']}/artwork", headers={})
    assert expired.status_code == 404 and expired.body in bodies


def test_only_the_owner_manages_links(client, shared_release):
    release, created = shared_release
    assert call(client, "GET", f"/releases/{release['id']}/share-links", subject="mallory").status_code == 404
    assert (
        call(
            client, "DELETE", f"/releases/{release['id']}/share-links/{created['token_id']}", subject="mallory"
        ).status_code
        == 404
    )
    other = create_release(client)
    assert call(client, "DELETE", f"/releases/{other['id']}/share-links/{created['token_id']}").status_code == 404


def test_expires_in_bounds(client):
    release = create_release(client)
    response = call(client, "POST", f"/releases/{release['id']}/share-links", {"expires_in": 5})
    assert (response.status_code, body_of(response)["error"]["code"]) == (400, "invalid_expires_in")


def test_a_release_without_artwork_shares_an_empty_listing(client):
    release = create_release(client)
    token = body_of(call(client, "POST", f"/releases/{release['id']}/share-links", {}))["token"]
    listing = body_of(client.http.request("GET", f"/s/{token}/artwork", headers={}))
    assert listing["sizes"] == []
    response = _download(client, token, "size=tiny")
    assert (response.status_code, body_of(response)["error"]["code"]) == (404, "artwork_not_ready")


def test_the_share_page_offers_every_size_and_format(client, shared_release):
    release, created = shared_release
    page = client.http.request("GET", f"/s/{created['token']}", headers={})
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.body.decode()
    assert "Björk – Vespertine / Live" in html
    assert 'value="original"' in html and 'value="png"' in html and 'value="jpeg"' in html
    assert f'action="{created["token"]}/download"' in html
    assert "/original.jpg?" in html  # a 450 px cover without medium: the preview is its largest image, presigned
    # Viewing the page is not a download.
    links = body_of(call(client, "GET", f"/releases/{release['id']}/share-links"))["items"]
    assert links[0]["downloads"] == {}
    dead = client.http.request("GET", "/s/unknown.token", headers={})
    assert dead.status_code == 404 and "does not exist" in dead.body.decode()


def test_the_share_page_escapes_what_artists_typed(client, aws):
    release = create_release(client, title="<script>alert(1)</script>", display_artist='"><img src=x onerror=alert(1)>')
    token = body_of(call(client, "POST", f"/releases/{release['id']}/share-links", {}))["token"]
    html = client.http.request("GET", f"/s/{token}", headers={}).body.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


# -- covers missing some sizes, default sizes --------------------------------------------------------------------------


def _rewrite_media(asset_id: str, change) -> None:
    """Rewrite an asset's stored ``media`` map as an older ingest would have left it (test-only direct write)."""
    from chalicelib.store.records import AssetRecord

    record = AssetRecord.get(f"ASSET#{asset_id}", "ASSET")
    media = record.media.as_dict()
    change(media)
    record.update(actions=[AssetRecord.media.set(media)])


def test_a_cover_without_variants_still_shows_its_original(client, aws, shared_images):
    # Given a cover recorded without any variant (an asset ingested before too-small images were refused)
    release = create_release(client, title="Debut")
    asset_id = upload(client, aws, release["id"], (shared_images / "portrait-450x600.jpg").read_bytes())
    run_ingest(client, aws)
    _rewrite_media(asset_id, lambda media: media.update(variants={}))
    token = body_of(call(client, "POST", f"/releases/{release['id']}/share-links", {}))["token"]
    # When a visitor opens the page and the listing
    html = client.http.request("GET", f"/s/{token}", headers={}).body.decode()
    listing = body_of(client.http.request("GET", f"/s/{token}/artwork", headers={}))
    # Then the original is the preview and the only size offered
    assert "/original.jpg?" in html
    assert 'value="original"' in html and 'value="large"' not in html and 'value="tiny"' not in html
    assert [s["size"] for s in listing["sizes"]] == ["original"]
    # and a download without a size answers the original, not a 404
    response = _download(client, token, "")
    assert response.status_code == 302
    assert _object_of(response.headers["Location"]).endswith("/original.jpg")


def test_a_download_without_size_picks_the_largest_when_large_is_missing(client, aws, shared_release):
    # Given a 450×600 cover: tiny (64²) and small (300²) exist, large does not; the original has the most pixels
    release, created = shared_release
    # When a visitor downloads without naming a size
    response = _download(client, created["token"], "")
    # Then the original is answered and counted
    assert response.status_code == 302
    assert _object_of(response.headers["Location"]).endswith("/original.jpg")
    links = body_of(call(client, "GET", f"/releases/{release['id']}/share-links"))["items"]
    assert links[0]["downloads"] == {"original": 1}


def test_a_download_without_size_picks_large_when_it_exists(client, aws, shared_images):
    # Given a 2725×2225 cover (every variant exists; the original has more pixels than large)
    release = create_release(client)
    upload(client, aws, release["id"], (shared_images / "photo-2725x2225.jpg").read_bytes())
    run_ingest(client, aws)
    token = body_of(call(client, "POST", f"/releases/{release['id']}/share-links", {}))["token"]
    # When a visitor downloads without naming a size
    response = _download(client, token, "")
    # Then large is answered
    assert response.status_code == 302
    assert _object_of(response.headers["Location"]).endswith("/large.webp")


# -- no N+1 when listing links ---------------------------------------------------------------------------------------


def _count_dynamodb_calls(monkeypatch) -> list[str]:
    """Every DynamoDB operation any botocore client makes from now on, by name."""
    import botocore.client

    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        if self.meta.service_model.service_name == "dynamodb":
            calls.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return calls


def test_listing_links_reads_every_counter_in_one_query(client, aws, shared_release, monkeypatch):
    # Given a release with four links, each downloaded in two sizes
    release, first = shared_release
    tokens = [first["token"]]
    for _ in range(3):
        tokens.append(body_of(call(client, "POST", f"/releases/{release['id']}/share-links", {}))["token"])
    for token in tokens:
        for query in ("size=tiny", "size=small", "size=small"):
            assert _download(client, token, query).status_code == 302
    # When the owner lists the links
    calls = _count_dynamodb_calls(monkeypatch)
    response = call(client, "GET", f"/releases/{release['id']}/share-links")
    # Then one read of the release and one Query of the links with their counters, whatever the number of links
    assert response.status_code == 200
    assert calls == ["GetItem", "Query"]
    items = body_of(response)["items"]
    assert len(items) == 4
    assert all(item["downloads"] == {"tiny": 1, "small": 2} for item in items)
