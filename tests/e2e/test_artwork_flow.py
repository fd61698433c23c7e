"""The artwork path end to end on the local stack: presigned POST → S3 → SQS → ingest worker → variants → share link.

Everything is real HTTP on loopback: the API through Chalice's local server, the upload as a multipart POST straight to
moto's S3, the S3 → SQS notification, the pump invoking the worker, the presigned GET behind the download redirect.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import httpx
import pytest
from PIL import Image

from chalicelib.local.process import StackProcess
from tests.e2e.conftest import Api, Aws, wait_for

PHOTO = "photo-2725x2225.jpg"
SVG = "not-allowed.svg"
VARIANT_PX = {"tiny": 64, "small": 300, "medium": 640, "large": 1400}  # DESIGN.md, "Storage keys"


def request_upload(
    api: Api, subject: str, release_id: str, data: bytes, content_type: str, filename: str
) -> dict[str, Any]:
    """``POST /releases/{id}/artwork/uploads`` → the presigned POST ticket."""
    response = api.post(
        f"/releases/{release_id}/artwork/uploads",
        {"content_type": content_type, "content_length": len(data), "filename": filename},
        subject=subject,
    )
    assert response.status_code == 201, response.text
    ticket: dict[str, Any] = response.json()
    assert set(ticket) >= {"upload_id", "url", "fields", "expires_at", "max_bytes"}
    return ticket


def post_form(ticket: dict[str, Any], data: bytes, content_type: str, filename: str) -> None:
    """The browser's part: a multipart POST of the presigned fields, then the file as the last field ``file``."""
    response = httpx.post(ticket["url"], data=ticket["fields"], files={"file": (filename, data, content_type)})
    assert response.status_code in (200, 201, 204), response.text


def wait_for_artwork(api: Api, subject: str, release_id: str, until: tuple[str, ...]) -> dict[str, Any]:
    """Poll ``GET /releases/{id}/artwork`` until its status is one of ``until`` (30 s at most)."""

    def probe() -> dict[str, Any] | None:
        response = api.get(f"/releases/{release_id}/artwork", subject=subject)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if body["status"] in until else None

    return wait_for(probe, timeout_s=30, what=f"artwork status in {until}")


def create_release(api: Api, subject: str) -> str:
    response = api.post("/releases", {"title": "Vespertine", "display_artist": "Björk"}, subject=subject)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@dataclass
class Uploaded:
    """A release whose cover went through the whole pipeline."""

    subject: str
    release_id: str
    ticket: dict[str, Any]
    artwork: dict[str, Any]


def upload_photo(api: Api, shared_images: Path) -> Uploaded:
    """A new release of a new subject, its cover uploaded; the S3 event goes wherever the bucket sends it."""
    subject = f"e2e-{uuid.uuid4().hex[:10]}"
    data = (shared_images / PHOTO).read_bytes()
    release_id = create_release(api, subject)
    ticket = request_upload(api, subject, release_id, data, "image/jpeg", "x.jpg")
    post_form(ticket, data, "image/jpeg", "x.jpg")
    return Uploaded(subject, release_id, ticket, {})


@pytest.fixture(scope="module")
def uploaded(api: Api, shared_images: Path) -> Uploaded:
    """The real photo uploaded once for the module, and the artwork view once the worker made it ``ready``."""
    upload = upload_photo(api, shared_images)
    upload.artwork = wait_for_artwork(api, upload.subject, upload.release_id, ("ready", "failed"))
    assert upload.artwork["status"] == "ready", upload.artwork
    return upload


def test_health_needs_no_token_and_releases_do(api: Api) -> None:
    health = api.get("/health", subject=None)
    anonymous = api.get("/releases", subject=None)

    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert anonymous.status_code == 401


def test_upload_is_ingested_into_every_variant(uploaded: Uploaded) -> None:
    # Then: the upload landed at its presigned key, and the artwork view lists every variant with working URLs
    artwork = uploaded.artwork
    assert uploaded.ticket["fields"]["key"] == f"uploads/{uploaded.subject}/{uploaded.ticket['upload_id']}"
    assert set(artwork["variants"]) >= set(VARIANT_PX)
    for name, px in VARIANT_PX.items():
        variant = artwork["variants"][name]
        assert (variant["width"], variant["height"]) == (px, px), name
        fetched = httpx.get(variant["url"])
        assert fetched.status_code == 200, name
        with Image.open(io.BytesIO(fetched.content)) as image:
            assert image.size == (px, px), name
    original = artwork["original"]
    assert (original["width"], original["height"]) == (2725, 2225)
    assert httpx.get(original["url"]).status_code == 200
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", artwork["dominant_color"])
    assert artwork["palette"]
    assert artwork["placeholder"]


def test_share_link_download_redirects_to_a_converted_png(api: Api, uploaded: Uploaded) -> None:
    # Given
    created = api.post(f"/releases/{uploaded.release_id}/share-links", {}, subject=uploaded.subject)
    assert created.status_code == 201, created.text
    link = created.json()
    token = link["token"]
    assert link["url"].endswith(f"/s/{token}")

    # When: anyone, without a token, lists the sizes and asks for the large PNG
    listing = api.get(f"/s/{token}/artwork", subject=None)
    download = api.get(f"/s/{token}/download?size=large&format=png", subject=None)

    # Then: a 302 to a presigned GET whose bytes are a 1400×1400 PNG served as an attachment
    assert listing.status_code == 200, listing.text
    sizes = {size["size"]: size for size in listing.json()["sizes"]}
    assert (sizes["large"]["width"], sizes["large"]["height"]) == (1400, 1400)
    assert download.status_code == 302, download.text
    location = download.headers["Location"]
    fetched = httpx.get(location)
    assert fetched.status_code == 200
    assert fetched.headers["Content-Disposition"].startswith("attachment")
    with Image.open(io.BytesIO(fetched.content)) as image:
        assert image.format == "PNG"
        assert image.size == (1400, 1400)


def _snapshot(api: Api, aws: Aws, uploaded: Uploaded) -> dict[str, Any]:
    """Everything a replay could change: the artwork view (presigned URLs without their signature, which differs per
    request), the upload's state with its timestamps, and every stored media object's ETag and LastModified."""

    def unsigned(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: (urlsplit(item).path if key == "url" else unsigned(item)) for key, item in value.items()}
        if isinstance(value, list):
            return [unsigned(item) for item in value]
        return value

    artwork = api.get(f"/releases/{uploaded.release_id}/artwork", subject=uploaded.subject)
    upload = api.get(
        f"/releases/{uploaded.release_id}/artwork/uploads/{uploaded.ticket['upload_id']}", subject=uploaded.subject
    )
    assert artwork.status_code == upload.status_code == 200
    listing = aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix=f"media/{uploaded.subject}/")
    objects = {item["Key"]: (item["ETag"], item["LastModified"], item["Size"]) for item in listing.get("Contents", [])}
    return {"artwork": unsigned(artwork.json()), "upload": upload.json(), "media": objects}


def capture_upload_event(api: Api, aws: Aws, shared_images: Path) -> tuple[Uploaded, str]:
    """Upload the photo while the bucket notifies a capture queue instead of the ingest queue; return the upload and
    the S3 event body exactly as S3 (moto) delivered it. The bucket's configuration is restored right after."""
    capture_url = aws.sqs.create_queue(QueueName=f"e2e-capture-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    capture_arn = aws.sqs.get_queue_attributes(QueueUrl=capture_url, AttributeNames=["QueueArn"])["Attributes"]
    original = aws.s3.get_bucket_notification_configuration(Bucket=aws.bucket)
    original.pop("ResponseMetadata", None)
    redirected = [
        {**{k: v for k, v in config.items() if k != "Id"}, "QueueArn": capture_arn["QueueArn"]}
        for config in original["QueueConfigurations"]
    ]
    try:
        aws.s3.put_bucket_notification_configuration(
            Bucket=aws.bucket, NotificationConfiguration={**original, "QueueConfigurations": redirected}
        )
        upload = upload_photo(api, shared_images)
    finally:
        aws.s3.put_bucket_notification_configuration(Bucket=aws.bucket, NotificationConfiguration=original)

    def captured() -> str | None:
        response = aws.sqs.receive_message(QueueUrl=capture_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in response.get("Messages", []):
            records = json.loads(message["Body"]).get("Records", [])  # the s3:TestEvent has none
            if any(unquote_plus(r["s3"]["object"]["key"]) == upload.ticket["fields"]["key"] for r in records):
                return str(message["Body"])
        return None

    body = wait_for(captured, timeout_s=10, what="the S3 event on the capture queue")
    aws.sqs.delete_queue(QueueUrl=capture_url)
    return upload, body


def deliver_and_wait(aws: Aws, stack: StackProcess, body: str) -> None:
    """Send ``body`` to the ingest queue, wait until the worker handled it successfully and the queue is empty."""
    log_start = stack.log_path.stat().st_size
    aws.sqs.send_message(QueueUrl=aws.ingest_queue_url, MessageBody=body)

    def handled() -> bool:
        with open(stack.log_path, encoding="utf-8", errors="replace") as handle:
            handle.seek(log_start)
            return "sqs sleeve-local-ingest → handle_ingest: 1 message(s) ok" in handle.read()

    wait_for(handled, timeout_s=30, what="the worker to handle the event")
    wait_for(lambda: aws.queue_is_drained(aws.ingest_queue_url), timeout_s=10, what="the ingest queue to drain")


def test_replayed_notification_changes_nothing(api: Api, aws: Aws, stack: StackProcess, shared_images: Path) -> None:
    # Given: an upload whose S3 event was delivered once and made the artwork ready
    upload, body = capture_upload_event(api, aws, shared_images)
    deliver_and_wait(aws, stack, body)
    upload.artwork = wait_for_artwork(api, upload.subject, upload.release_id, ("ready", "failed"))
    assert upload.artwork["status"] == "ready", upload.artwork
    before = _snapshot(api, aws, upload)
    assert before["media"], "the ingest wrote no media objects"

    # When: SQS delivers the very same message again (at-least-once delivery)
    deliver_and_wait(aws, stack, body)

    # Then: the worker succeeded without changing the record, the variants or their timestamps
    assert _snapshot(api, aws, upload) == before
    assert aws.queue_is_drained(aws.dead_letter_queue_url)


def test_unsupported_upload_fails_with_a_reason_and_keeps_the_object(api: Api, aws: Aws, shared_images: Path) -> None:
    # Given: SVG bytes declared as PNG
    subject = f"e2e-{uuid.uuid4().hex[:10]}"
    data = (shared_images / SVG).read_bytes()
    release_id = create_release(api, subject)
    ticket = request_upload(api, subject, release_id, data, "image/png", "cover.png")

    # When
    post_form(ticket, data, "image/png", "cover.png")
    artwork = wait_for_artwork(api, subject, release_id, ("failed", "ready"))

    # Then
    assert artwork["status"] == "failed", artwork
    assert artwork["error"]["code"] == "unsupported_format"
    head = aws.s3.head_object(Bucket=aws.bucket, Key=ticket["fields"]["key"])
    assert head["ContentLength"] == len(data)


def test_cors_preflight_allows_browser_apps(api: Api) -> None:
    # Given: a browser app on another origin. When: it preflights a POST with a bearer token.
    response = api.http.options(
        "/releases",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    # Then: the API allows it without a token.
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "Authorization" in response.headers["access-control-allow-headers"]
