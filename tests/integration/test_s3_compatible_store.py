"""Sleeve's S3 client against "another S3-compatible store": a moto server on loopback reached only through
``SLEEVE_AWS_ENDPOINT_URL`` (MinIO and Cloudflare R2 cannot run here: no network). What is checked is what such a
store receives from Sleeve: path-style URLs on the configured host for every call, presigned POST and GET URLs on
that host that work over plain HTTP, and no flexible-checksum headers that stores other than AWS S3 may refuse
(botocore ≥ 1.36 sends them by default: ``request_checksum_calculation``/``response_checksum_validation``
``when_supported``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from chalicelib.local.moto_server import MotoServer, start_moto_server

BUCKET = "sleeve-compatible-media"
#: Headers of botocore's flexible checksums (``x-amz-checksum-crc32``… on a request, ``x-amz-checksum-mode`` asking
#: the store to send and check one back, ``x-amz-trailer`` with ``aws-chunked`` bodies).
_CHECKSUM_HEADERS = ("x-amz-checksum-", "x-amz-sdk-checksum-algorithm", "x-amz-trailer")


@pytest.fixture
def store_server() -> Iterator[MotoServer]:
    """A second moto server on a free loopback port: the stand-in S3-compatible store."""
    server = start_moto_server(port=0)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def compatible(store_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Sleeve's container configured with nothing but ``SLEEVE_AWS_ENDPOINT_URL`` (and credentials and a bucket name,
    as for AWS), the bucket created on the store, and every request Sleeve's S3 client sends recorded."""
    from chalicelib.container import get_object_store, get_s3_client, reset_container

    for name, value in {
        "SLEEVE_AWS_ENDPOINT_URL": store_server.url,
        "SLEEVE_BUCKET_NAME": BUCKET,
        "SLEEVE_JWT_SECRET": "s3-compatible-test-secret-of-32-bytes-or-more",
        "AWS_ACCESS_KEY_ID": "compatible-key",
        "AWS_SECRET_ACCESS_KEY": "compatible-secret",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    reset_container()
    client = get_s3_client()
    sent: list[dict[str, Any]] = []

    def record(request: Any, **_: Any) -> None:
        sent.append({"method": request.method, "url": request.url, "headers": dict(request.headers.items())})

    client.meta.events.register("before-send.s3", record)
    client.create_bucket(Bucket=BUCKET)
    yield {"objects": get_object_store(), "sent": sent, "url": store_server.url}
    reset_container()


def _checksum_headers(headers: dict[str, Any]) -> set[str]:
    return {name.lower() for name in headers if name.lower().startswith(_CHECKSUM_HEADERS)}


def test_every_call_goes_path_style_to_the_configured_endpoint(compatible):
    objects, sent = compatible["objects"], compatible["sent"]
    # When Sleeve writes, reads, lists and deletes through its object store
    objects.put_bytes("media/alice/a1/original.png", b"\x89PNG...", content_type="image/png")
    assert objects.get_bytes("media/alice/a1/original.png") == b"\x89PNG..."
    assert objects.head("media/alice/a1/original.png") is not None
    assert objects.list_keys("media/alice/") == ["media/alice/a1/original.png"]
    assert objects.delete_prefixes(["media/alice/"]) == ["media/alice/a1/original.png"]
    # Then every request went to the endpoint's host, the bucket in the path (never a bucket subdomain)
    endpoint = urlparse(compatible["url"])
    assert {urlparse(request["url"]).netloc for request in sent} == {endpoint.netloc}
    assert all(urlparse(request["url"]).path.startswith(f"/{BUCKET}") for request in sent)


def test_no_flexible_checksum_headers_where_the_api_does_not_require_one(compatible):
    objects, sent = compatible["objects"], compatible["sent"]
    # When Sleeve puts and gets an object (what ingest and the workers do)
    objects.put_bytes("derived/alice/a1/small.png", b"png bytes", content_type="image/png")
    objects.get_bytes("derived/alice/a1/small.png")
    # Then neither request carries botocore's default CRC32 header, algorithm header or checksum mode
    put = next(r for r in sent if r["method"] == "PUT" and r["url"].endswith("/small.png"))
    get = next(r for r in sent if r["method"] == "GET" and r["url"].endswith("/small.png"))
    assert _checksum_headers(put["headers"]) == set()
    assert _checksum_headers(get["headers"]) == set()
    # And the body is sent whole (no aws-chunked encoding, which some stores refuse)
    assert "aws-chunked" not in str(put["headers"].get("Content-Encoding", ""))


def test_a_presigned_post_uploads_to_the_store_over_http(compatible):
    objects = compatible["objects"]
    # Given a presigned POST for an upload (the artwork and media upload tickets)
    url, fields = objects.presign_post("uploads/alice/u1", content_type="image/jpeg", max_bytes=1000, expires_in=600)
    # Then it targets the endpoint, path-style
    assert url == f"{compatible['url']}/{BUCKET}"
    assert fields["key"] == "uploads/alice/u1" and fields["Content-Type"] == "image/jpeg"
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    # When a browser posts the form and the file
    response = httpx.post(url, data=fields, files={"file": ("cover.jpg", b"\xff\xd8\xff jpeg", "image/jpeg")})
    # Then the store keeps the object under the key, with the declared type
    assert response.status_code in (200, 201, 204), response.text
    head = objects.head("uploads/alice/u1")
    assert head is not None and head.size == len(b"\xff\xd8\xff jpeg") and head.content_type == "image/jpeg"


def test_a_presigned_get_downloads_from_the_store_as_an_attachment(compatible):
    objects = compatible["objects"]
    objects.put_bytes("media/alice/a1/large.webp", b"RIFF webp", content_type="image/webp")
    # When a share-link download's presigned GET is fetched
    url = objects.presign_get(
        "media/alice/a1/large.webp",
        expires_in=300,
        content_disposition='attachment; filename="Night drive (large).webp"',
        content_type="image/webp",
    )
    response = httpx.get(url)
    # Then it is the store's URL, path-style, and answers the bytes with the asked disposition and type
    assert url.startswith(f"{compatible['url']}/{BUCKET}/media/alice/a1/large.webp?")
    assert response.status_code == 200 and response.content == b"RIFF webp"
    assert response.headers["content-disposition"] == 'attachment; filename="Night drive (large).webp"'
    assert response.headers["content-type"] == "image/webp"


def test_against_aws_the_checksum_defaults_stay(monkeypatch):
    from chalicelib.container import get_s3_client, reset_container

    # Given no endpoint (AWS S3 itself)
    monkeypatch.delenv("SLEEVE_AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("SLEEVE_BUCKET_NAME", BUCKET)
    monkeypatch.setenv("SLEEVE_JWT_SECRET", "s3-compatible-test-secret-of-32-bytes-or-more")
    reset_container()
    config = get_s3_client().meta.config
    reset_container()
    # Then botocore's integrity defaults are kept (a CRC32 on every PUT, checked responses)
    assert (config.request_checksum_calculation, config.response_checksum_validation) == (
        "when_supported",
        "when_supported",
    )
