"""``POST /webhooks/replicate`` through ``chalice.test.Client`` (every answer checked against the OpenAPI document).

The signature is built here from the secret by the Standard Webhooks rules Replicate documents
(https://replicate.com/docs/topics/webhooks/verify-webhook): HMAC-SHA256, keyed with the base64-decoded part of the
``whsec_`` secret, over ``{webhook-id}.{webhook-timestamp}.{raw body}``, sent as ``v1,<base64>``. A valid delivery is
queued for the jobs worker; a bad, stale, missing or replayed one is not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.container import reset_container
from chalicelib.openapi import openapi_document
from tests.integration.conftest import Aws, auth, body_of
from tests.integration.enhancement_support import (  # noqa: F401
    enhance,
    jobs_messages,
    lanczos_upscaler,
    ready_cover,
)

KEY = b"sleeve-test-webhook-signing-key!"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
PATH = "/webhooks/replicate"


def prediction(status: str = "succeeded", prediction_id: str = "ufawqhfynnddngldkgtslldrkq") -> dict[str, Any]:
    """A completed prediction as Replicate's webhook body carries it (the shape of ``GET /predictions/{id}``)."""
    return {
        "id": prediction_id,
        "version": "f121d640bd286e1fdc67f9799164c1d5be36ff74576ee11c803ae5b665dd46aa",
        "status": status,
        "input": {"image": "https://example.com/cover.png", "scale": 4, "face_enhance": False},
        "output": "https://replicate.delivery/pbxt/abc/out.png" if status == "succeeded" else None,
        "error": "CUDA out of memory" if status == "failed" else None,
        "created_at": "2026-11-26T09:00:01.000Z",
        "completed_at": "2026-11-26T09:00:09.000Z",
    }


def sign(body: bytes, *, webhook_id: str, timestamp: int, key: bytes = KEY) -> str:
    """The ``webhook-signature`` header of one delivery."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(
    body: bytes,
    *,
    webhook_id: str,
    timestamp: int,
    signature: str | None = None,
    content_type: str = "application/json",
) -> dict[str, str]:
    """The headers of one delivery of ``body``: ``Content-Type`` and the three Standard Webhooks headers, signed with
    ``KEY`` unless ``signature`` is given."""
    return {
        "Content-Type": content_type,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature or sign(body, webhook_id=webhook_id, timestamp=timestamp),
    }


def deliver(
    client: Client,
    job_id: str | None,
    body: bytes,
    *,
    webhook_id: str | None = None,
    timestamp: int | None = None,
    signature: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """POST ``body`` as Replicate does: signed with ``SECRET`` unless ``signature`` or ``headers`` say otherwise."""
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    if headers is None:
        headers = signed_headers(body, webhook_id=webhook_id, timestamp=timestamp, signature=signature)
    query = f"?job_id={job_id}" if job_id else ""
    return client.http.request("POST", f"{PATH}{query}", headers=headers, body=body)


@pytest.fixture
def secret(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> str:
    """The API's webhook secret is ``SECRET``."""
    monkeypatch.setenv("SLEEVE_REPLICATE_WEBHOOK_SECRET", SECRET)
    reset_container()
    return SECRET


@pytest.fixture
def job(client: Client, aws: Aws, shared_images, secret: str) -> dict[str, Any]:
    """alice's queued enhancement job (its job.run message taken off the queue)."""
    queued = enhance(client, ready_cover(client, aws, shared_images))
    assert jobs_messages() == [{"type": "job.run", "job_id": queued["id"]}]
    return queued


def _refused(response: Any, reason: str) -> None:
    assert response.status_code == 401, response.body
    error = body_of(response)["error"]
    assert (error["code"], error["details"]) == ("invalid_webhook_signature", {"reason": reason})
    assert "WWW-Authenticate" not in response.headers


def test_a_signed_webhook_is_queued_for_the_jobs_worker(client: Client, job: dict[str, Any]) -> None:
    # Given a prediction's completion, signed with the secret, for alice's job; no bearer token
    body = json.dumps(prediction()).encode()
    # When Replicate delivers it
    response = deliver(client, job["id"], body)
    # Then 200 queued, and one job.prediction message carries the prediction to the jobs worker
    assert response.status_code == 200, response.body
    assert body_of(response) == {"status": "queued"}
    (message,) = jobs_messages()
    assert (message["type"], message["job_id"]) == ("job.prediction", job["id"])
    assert message["prediction"]["external_id"] == "ufawqhfynnddngldkgtslldrkq"
    assert message["prediction"]["status"] == "succeeded"
    assert message["prediction"]["output_urls"] == ["https://replicate.delivery/pbxt/abc/out.png"]


def test_a_replayed_webhook_id_is_a_duplicate_and_queues_nothing(client: Client, job: dict[str, Any]) -> None:
    # Given a delivered webhook
    body = json.dumps(prediction("failed")).encode()
    webhook_id = "msg_replayed"
    assert body_of(deliver(client, job["id"], body, webhook_id=webhook_id)) == {"status": "queued"}
    assert len(jobs_messages()) == 1
    # When the same webhook-id comes again (Replicate's retry, or a captured delivery replayed), freshly signed
    again = deliver(client, job["id"], body, webhook_id=webhook_id, timestamp=int(time.time()) + 1)
    # Then 200 duplicate (so a retry stops), and nothing more is queued
    assert again.status_code == 200, again.body
    assert body_of(again) == {"status": "duplicate"}
    assert jobs_messages() == []


def test_a_wrong_signature_is_refused(client: Client, job: dict[str, Any]) -> None:
    body = json.dumps(prediction()).encode()
    webhook_id, now = "msg_forged", int(time.time())
    # Given deliveries signed with another key, or whose body changed after signing (even only its white space)
    forged = sign(body, webhook_id=webhook_id, timestamp=now, key=b"another-key-of-32-bytes-length!!")
    reformatted = json.dumps(prediction(), indent=1).encode()
    for payload, signature in [(body, forged), (reformatted, sign(body, webhook_id=webhook_id, timestamp=now))]:
        # When they arrive
        response = deliver(client, job["id"], payload, webhook_id=webhook_id, timestamp=now, signature=signature)
        # Then 401 invalid_webhook_signature (bad_signature), without a bearer challenge
        _refused(response, "bad_signature")
    # And the signature of one webhook-id does not pass for another
    _refused(
        deliver(
            client,
            job["id"],
            body,
            webhook_id="msg_other",
            timestamp=now,
            signature=sign(body, webhook_id=webhook_id, timestamp=now),
        ),
        "bad_signature",
    )
    # And nothing was queued
    assert jobs_messages() == []


@pytest.mark.parametrize("offset_s", [-301, 301, -86_400])
def test_a_stale_timestamp_is_refused_though_signed(client: Client, job: dict[str, Any], offset_s: int) -> None:
    # Given a correctly signed delivery whose timestamp is more than 5 minutes from now (either way)
    body = json.dumps(prediction()).encode()
    # When it arrives, Then 401 stale_timestamp, and nothing is queued
    _refused(deliver(client, job["id"], body, timestamp=int(time.time()) + offset_s), "stale_timestamp")
    assert jobs_messages() == []


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_delivery_without_its_headers_is_refused(client: Client, job: dict[str, Any], missing: str) -> None:
    # Given a signed delivery with one of the three headers left out
    body = json.dumps(prediction()).encode()
    headers = signed_headers(body, webhook_id="msg_1", timestamp=int(time.time()))
    del headers[missing]
    # When it arrives, Then 401 missing_headers, and nothing is queued
    _refused(deliver(client, job["id"], body, headers=headers), "missing_headers")
    assert jobs_messages() == []


def test_a_bearer_token_is_no_substitute_for_the_signature(client: Client, job: dict[str, Any]) -> None:
    # Given alice's valid bearer token but no signature
    headers = {**auth(), "Content-Type": "application/json"}
    # When it is sent to the webhook, Then 401 missing_headers
    _refused(deliver(client, job["id"], json.dumps(prediction()).encode(), headers=headers), "missing_headers")


def test_without_a_configured_secret_every_webhook_is_refused(client: Client, aws: Aws, shared_images) -> None:
    # Given an API with no SLEEVE_REPLICATE_WEBHOOK_SECRET, and a job
    job = enhance(client, ready_cover(client, aws, shared_images))
    jobs_messages()
    # When a delivery arrives signed with some secret, Then 401 not_configured, and nothing is queued
    _refused(deliver(client, job["id"], json.dumps(prediction()).encode()), "not_configured")
    assert jobs_messages() == []


@pytest.mark.parametrize(
    ("job_id", "body"),
    [
        (None, json.dumps(prediction()).encode()),
        ("0" * 32, json.dumps(prediction()).encode()),
        ("job", b"not json"),
        ("job", json.dumps({"hello": "world"}).encode()),
    ],
    ids=["no job_id", "an unknown job", "not JSON", "not a prediction"],
)
def test_a_signed_webhook_no_job_waits_for_is_ignored(client: Client, job: dict[str, Any], job_id, body) -> None:
    # Given a correctly signed delivery for no job of Sleeve's, or whose body is not a prediction
    target = job["id"] if job_id == "job" else job_id
    # When it arrives, Then 200 ignored (Replicate stops retrying), and nothing is queued
    response = deliver(client, target, body)
    assert response.status_code == 200, response.body
    assert body_of(response) == {"status": "ignored"}
    assert jobs_messages() == []


def test_another_content_type_is_refused_before_anything_is_read(client: Client, job: dict[str, Any]) -> None:
    # Given a signed delivery sent as text/plain
    body = json.dumps(prediction()).encode()
    headers = signed_headers(body, webhook_id="msg_text", timestamp=int(time.time()), content_type="text/plain")
    # When it arrives, Then 415 unsupported_media_type, and nothing is queued
    response = deliver(client, job["id"], body, headers=headers)
    assert response.status_code == 415, response.body
    assert body_of(response)["error"]["code"] == "unsupported_media_type"
    assert jobs_messages() == []


def test_the_document_declares_the_webhook_public_signed_and_refusing_with_401() -> None:
    # Given the OpenAPI document's webhook operation
    spec = openapi_document()["paths"][PATH]["post"]
    # Then it takes no bearer token, requires the three Standard Webhooks headers and any JSON body
    assert spec["security"] == [] and spec["x-sleeve-auth"] == "none"
    headers = {p["name"]: p["required"] for p in spec["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id": True, "webhook-timestamp": True, "webhook-signature": True}
    assert spec["requestBody"]["required"] is True
    # And its 401 names invalid_webhook_signature only, with no WWW-Authenticate (there is no scheme to name)
    unauthorised = spec["responses"]["401"]
    assert unauthorised["content"]["application/json"]["schema"]["properties"]["error"]["properties"]["code"][
        "enum"
    ] == ["invalid_webhook_signature"]
    assert "WWW-Authenticate" not in unauthorised["headers"]
    assert set(spec["responses"]) == {"200", "400", "401", "415", "500", "503"}
