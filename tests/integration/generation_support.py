"""Helpers of the generation tests: the generators the container's generation service uses (the real typographic
cover; the real Replicate text-to-image client over ``httpx.MockTransport(FakeReplicate.handle)``), the
``POST /media/generate`` call, and the generate queue pumped through the real worker handlers in Lambda's event
shapes, with the real ingest handler between them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from chalice.test import Client

from chalicelib.config import get_settings, stage_resource_name
from chalicelib.local.fake_replicate import FakeReplicate
from chalicelib.providers.generation import ImageGenerator
from chalicelib.providers.replicate_generate import ReplicateImageGenerator
from chalicelib.providers.typographic import TypographicGenerator
from tests.integration.conftest import STAGE, Aws, body_of, call, run_ingest
from tests.integration.jobs_support import _env, run_jobs, use_fake_replicate
from tests.integration.sync_helpers import receive_messages, sqs_event

GENERATE_QUEUE = stage_resource_name(STAGE, "generate")
GENERATE_DLQ = stage_resource_name(STAGE, "generate-dlq")
PROMPT = "A lighthouse in a storm, album cover, bold type"


def use_typographic(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """New generate jobs run on the typographic cover (no Replicate token); ``env``: more ``SLEEVE_`` settings."""
    _env(monkeypatch, {"image_generator": "auto", "replicate_api_token": "", **env})


def use_fake_replicate_generation(monkeypatch: pytest.MonkeyPatch, fake: FakeReplicate, **env: str) -> None:
    """New generate jobs run on the real Replicate text-to-image client whose HTTP ``fake`` answers (and the
    upscalers' Replicate client, which the reaper, the poller and cancel use, too); webhooks go to
    ``jobs_support.WEBHOOK_URL``."""
    import chalicelib.container

    use_fake_replicate(monkeypatch, fake, **{"image_generator": "auto", **env})
    built: dict[str, ImageGenerator] = {}

    def no_wait(_: float) -> None:
        return None

    def generators() -> dict[str, ImageGenerator]:
        if not built:
            transport = httpx.MockTransport(fake.handle)
            built["replicate"] = ReplicateImageGenerator(get_settings(), transport=transport, sleep=no_wait)
            built["typographic"] = TypographicGenerator()
        return built

    monkeypatch.setattr(chalicelib.container, "get_image_generators", generators)


def generate(client: Client, body: dict[str, Any] | None = None, *, subject: str = "alice") -> dict[str, Any]:
    """``POST /media/generate`` (202 asserted); the queued job."""
    response = call(client, "POST", "/media/generate", body or {"prompt": PROMPT}, subject=subject)
    assert response.status_code == 202, response.body
    job: dict[str, Any] = body_of(response)
    return job


def generate_messages(name: str = GENERATE_QUEUE) -> list[dict[str, Any]]:
    """Every message waiting on a generate queue (deleted as read)."""
    return receive_messages(name)


def generate_bodies(name: str = GENERATE_QUEUE) -> list[dict[str, Any]]:
    """The JSON bodies of every message waiting on a generate queue (deleted as read)."""
    return [json.loads(message["Body"]) for message in generate_messages(name)]


def run_generate(client: Client) -> int:
    """Deliver every waiting generate message to ``handle_generate``, one Lambda SQS event each; how many."""
    delivered = 0
    while messages := generate_messages():
        for message in messages:
            client.lambda_.invoke("handle_generate", sqs_event([message], GENERATE_QUEUE))
            delivered += 1
    return delivered


def pump_generation(client: Client, aws: Aws) -> tuple[int, int]:
    """Run the generate, jobs and ingest workers until no queue holds a message: ``(generate and jobs messages,
    ingest notifications)`` delivered."""
    steps = ingests = 0
    while True:
        ran = run_generate(client) + run_jobs(client)
        ingested = len(run_ingest(client, aws))
        steps, ingests = steps + ran, ingests + ingested
        if not ran and not ingested:
            return steps, ingests
