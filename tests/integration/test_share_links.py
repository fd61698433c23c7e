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


def test_another_format_is_converted_once_under_derived(client, aws, shared_release):
    _, created = shared_release
    first = _download(client, created["token"], "size=small&format=png")
    key = _object_of(first.headers["Location"])
    assert key.startswith("derived/alice/") and key.endswith("/small.png")
    stored = aws.s3.get_object(Bucket=BUCKET, Key=key)
    image = Image.open(io.BytesIO(stored["Body"].read()))
    assert (image.format, image.size) == ("PNG", (300, 300))
    modified = stored["LastModified"]
    second = _download(client, created["token"], "size=small&format=png")
    assert _object_of(second.headers["Location"]) == key
    assert aws.s3.head_object(Bucket=BUCKET, Key=key)["LastModified"] == modified


def test_no_location_metadata_in_any_public_download(client, aws, shared_images):
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
    assert "/small.webp?" in html  # a 450 px cover: the preview is the largest variant made, presigned
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
