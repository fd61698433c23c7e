"""ReplicateImageGenerator (chalicelib/providers/replicate_generate.py) against FakeReplicate through
httpx.MockTransport: the create request (path, token, body) against Replicate's documented official-model endpoint and
flux-schnell's input schema, 429 handling, a failed prediction, the output list downloaded, and no token."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from chalicelib.local.fake_replicate import FakeReplicate
from chalicelib.local.fake_replicate.fake import DEFAULT_TOKEN
from chalicelib.providers.base import ProviderNotFoundError, ProviderRateLimitedError
from chalicelib.providers.generation import GenerateRequest
from chalicelib.providers.replicate_generate import ReplicateImageGenerator
from chalicelib.providers.upscaling import PredictionStarted, UpscaleFailedError
from tests.unit.provider_support import FakeTime, provider_settings

API = "https://api.replicate.test/v1"
FILES = "https://replicate.delivery"
WEBHOOK = "https://api.sleeve.test/webhooks/replicate?job_id=job1"
#: The documented keys of flux-schnell's input (its API schema page).
FLUX_SCHNELL_INPUTS = {
    "prompt", "aspect_ratio", "num_outputs", "num_inference_steps", "seed", "output_format", "output_quality",
    "disable_safety_checker", "go_fast", "megapixels",
}  # fmt: skip


def settings(**values: Any) -> Any:
    defaults = {"replicate_api_url": API, "replicate_api_token": DEFAULT_TOKEN, "provider_max_retries": 2}
    return provider_settings(**{**defaults, **values})


def request(**values: Any) -> GenerateRequest:
    fields: dict[str, Any] = {"job_id": "job1", "prompt": "A lighthouse in a storm", "webhook_url": WEBHOOK}
    return GenerateRequest(**{**fields, **values})


class Harness:
    """A FakeReplicate behind a MockTransport that records every request (with its headers and body)."""

    def __init__(self, **fake: Any) -> None:
        self.fake = FakeReplicate(files_url=FILES, **fake)
        self.calls: list[httpx.Request] = []
        self.time = FakeTime()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        return self.fake.handle(request)

    def generator(self, **values: Any) -> ReplicateImageGenerator:
        return ReplicateImageGenerator(
            settings(**values), transport=httpx.MockTransport(self), sleep=self.time.sleep, clock=self.time.clock
        )


def test_the_create_is_the_documented_official_model_request() -> None:
    # Given a generator with a token, and a request with a seed, a ratio, steps, a negative prompt and a webhook
    harness = Harness()
    generator = harness.generator()

    # When it starts
    started = generator.start(
        request(aspect_ratio="16:9", seed=42, num_inference_steps=4, negative_prompt="blurry, watermark")
    )

    # Then it made ONE request: POST /v1/models/black-forest-labs/flux-schnell/predictions with the bearer token
    assert isinstance(started, PredictionStarted)
    assert started.model == "black-forest-labs/flux-schnell"
    [call] = harness.calls
    assert (call.method, call.url.path) == ("POST", "/v1/models/black-forest-labs/flux-schnell/predictions")
    assert call.headers["authorization"] == f"Bearer {DEFAULT_TOKEN}"

    # And the body is {input, webhook, webhook_events_filter} with no version, and only flux-schnell's inputs (the
    # negative prompt is not one of them, so it is not sent)
    body = json.loads(call.content)
    assert set(body) == {"input", "webhook", "webhook_events_filter"}
    assert body["webhook"] == WEBHOOK and body["webhook_events_filter"] == ["completed"]
    assert set(body["input"]) <= FLUX_SCHNELL_INPUTS
    assert body["input"] == {
        "prompt": "A lighthouse in a storm",
        "aspect_ratio": "16:9",
        "num_outputs": 1,
        "num_inference_steps": 4,
        "seed": 42,
        "output_format": "webp",
        "output_quality": 90,
    }
    # And the fake (which checks the documented schema) took it: the prediction exists, starting
    [prediction] = harness.fake.predictions()
    assert prediction["id"] == started.external_id and prediction["status"] == "starting"


def test_without_a_webhook_url_no_webhook_keys_are_sent() -> None:
    # Given a request without a webhook URL (the poller completes it)
    harness = Harness()

    # When it starts
    harness.generator().start(request(webhook_url=None))

    # Then the body holds the input alone, and the model's defaults apply to what was not given
    body = json.loads(harness.calls[0].content)
    assert set(body) == {"input"}
    assert "seed" not in body["input"] and "num_inference_steps" not in body["input"]


def test_a_succeeded_prediction_gives_its_output_list_and_the_image_downloads_without_the_token() -> None:
    # Given a started prediction that advances one step per GET
    harness = Harness(gets_per_step=1)
    generator = harness.generator(replicate_output_allow_http=False)
    started = generator.start(request(aspect_ratio="3:4"))

    # When it is polled until it ends
    state = generator.get_prediction(started.external_id)
    while not state.terminal:
        state = generator.get_prediction(started.external_id)

    # Then it succeeded with one https output URL, whose bytes are a WebP image, fetched without Authorization
    assert state.status == "succeeded" and len(state.output_urls) == 1
    assert state.output_urls[0].startswith(f"{FILES}/_files/")
    data = generator.download_output(state.output_urls[0])
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert "authorization" not in harness.calls[-1].headers


def test_a_failed_prediction_reports_its_error() -> None:
    # Given the fake fails the next prediction
    harness = Harness(gets_per_step=1)
    harness.fake.set_faults(fail_with="NSFW content detected. Try running it again, or try a different prompt.")
    generator = harness.generator()
    started = generator.start(request())

    # When it is polled until it ends
    state = generator.get_prediction(started.external_id)
    while not state.terminal:
        state = generator.get_prediction(started.external_id)

    # Then it is failed with Replicate's error message and no output
    assert state.status == "failed" and state.output_urls == []
    assert state.error is not None and "NSFW" in state.error


def test_a_429_is_retried_after_retry_after_then_the_create_goes_through() -> None:
    # Given the fake throttles the next create once, asking to wait 2 s
    harness = Harness()
    harness.fake.set_faults(rate_limit_creates=1, retry_after_s=2)

    # When the generator starts
    started = harness.generator().start(request())

    # Then it waited the 2 s asked and sent the create again, which created the prediction
    assert isinstance(started, PredictionStarted)
    assert [c.url.path for c in harness.calls].count("/v1/models/black-forest-labs/flux-schnell/predictions") == 2
    assert 2.0 in harness.time.sleeps


def test_429s_past_the_retries_raise_rate_limited() -> None:
    # Given the fake throttles every create of this test
    harness = Harness()
    harness.fake.set_faults(rate_limit_creates=10, retry_after_s=1)

    # When the generator starts
    # Then ProviderRateLimitedError (transient: the job is re-queued), after 1 + max_retries tries
    with pytest.raises(ProviderRateLimitedError) as raised:
        harness.generator().start(request())
    assert raised.value.transient
    assert len(harness.calls) == 3


def test_an_unknown_model_is_not_found() -> None:
    # Given a model setting the fake does not run
    harness = Harness()

    # When the generator starts
    # Then ProviderNotFoundError (Replicate's 404)
    with pytest.raises(ProviderNotFoundError):
        harness.generator(replicate_generate_model="someone/not-a-model").start(request())


def test_without_a_token_it_is_off_and_sends_nothing() -> None:
    # Given no token
    harness = Harness()
    generator = harness.generator(replicate_api_token=None)

    # When it is asked
    # Then it says not_configured and refuses to start, without a request
    assert generator.unavailable_reason() == "not_configured"
    with pytest.raises(UpscaleFailedError) as raised:
        generator.start(request())
    assert raised.value.code == "generator_unavailable"
    assert harness.calls == []


@pytest.mark.parametrize(
    "body",
    [
        {"input": {}},
        {"input": {"prompt": "x", "aspect_ratio": "7:3"}},
        {"input": {"prompt": "x", "num_inference_steps": 5}},
        {"input": {"prompt": "x", "output_format": "gif"}},
        {"version": "abc", "input": {"prompt": "x"}},
    ],
)
def test_the_fake_refuses_what_flux_schnell_refuses(body: dict[str, Any]) -> None:
    # Given the fake Replicate
    fake = FakeReplicate()

    # When a create breaks flux-schnell's documented input schema (or names a version: an official model has none)
    response = fake.handle(
        httpx.Request(
            "POST",
            f"{API}/models/black-forest-labs/flux-schnell/predictions",
            json=body,
            headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
        )
    )

    # Then 422 in Replicate's problem shape, and no prediction exists
    assert response.status_code == 422 and response.json()["title"] == "Input validation failed"
    assert fake.predictions() == []
