"""ReplicateUpscaler (chalicelib/providers/replicate.py) against FakeReplicate through httpx.MockTransport: the version
lookup and its cache, the create body, 429/401 handling, predictions parsed from documented payloads, cancel, and the
output download rules (https only, no token, a streamed size cap, timeouts)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from chalicelib.local.fake_replicate import FakeReplicate
from chalicelib.local.fake_replicate.fake import DEFAULT_TOKEN, DEFAULT_VERSION
from chalicelib.providers.base import (
    ProviderBadResponseError,
    ProviderNotFoundError,
    ProviderRateLimitedError,
    ProviderUnauthorisedError,
    ProviderUnavailableError,
)
from chalicelib.providers.replicate import ReplicateUpscaler, parse_prediction
from chalicelib.providers.upscaling import PredictionStarted, UpscaleFailedError, UpscaleRequest
from tests.unit.provider_support import FakeTime, provider_settings

API = "https://api.replicate.test/v1"
FILES = "https://replicate.delivery"
IMAGE_URL = "https://sleeve-bucket.s3.amazonaws.com/media/o/a/original.png?X-Amz-Signature=abc"
WEBHOOK = "https://api.sleeve.test/webhooks/replicate?job_id=job1"


def png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 90)).save(out, format="PNG")
    return out.getvalue()


def settings(**values: Any) -> Any:
    defaults = {"replicate_api_url": API, "replicate_api_token": DEFAULT_TOKEN, "provider_max_retries": 2}
    return provider_settings(**{**defaults, **values})


def request(webhook: str | None = WEBHOOK) -> UpscaleRequest:
    return UpscaleRequest(job_id="job1", image=png(), image_url=IMAGE_URL, width=40, height=30, webhook_url=webhook)


class Harness:
    """A FakeReplicate behind a MockTransport that records every request (with its headers)."""

    def __init__(self, **fake: Any) -> None:
        self.fake = FakeReplicate(fetch=lambda url: png(), files_url=FILES, **fake)
        self.calls: list[httpx.Request] = []
        self.time = FakeTime()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        return self.fake.handle(request)

    def upscaler(self, **values: Any) -> ReplicateUpscaler:
        return ReplicateUpscaler(
            settings(**values), transport=httpx.MockTransport(self), sleep=self.time.sleep, clock=self.time.clock
        )

    def paths(self) -> list[str]:
        return [f"{call.method} {call.url.path}" for call in self.calls]


# -- the version and the create --------------------------------------------------------------------------------------


def test_the_latest_version_is_read_once_for_two_creates() -> None:
    # Given an upscaler without a pinned version
    harness = Harness()
    upscaler = harness.upscaler()

    # When it starts two predictions
    first = upscaler.start(request())
    second = upscaler.start(request())

    # Then the model was read once, and both ran its latest version
    assert harness.paths() == [
        "GET /v1/models/nightmareai/real-esrgan",
        "POST /v1/predictions",
        "POST /v1/predictions",
    ]
    assert isinstance(first, PredictionStarted) and isinstance(second, PredictionStarted)
    assert first.model == f"nightmareai/real-esrgan:{DEFAULT_VERSION}"
    assert first.external_id != second.external_id


def test_a_pinned_version_skips_the_model_lookup() -> None:
    harness = Harness()
    started = harness.upscaler(replicate_upscale_version=DEFAULT_VERSION).start(request())

    assert harness.paths() == ["POST /v1/predictions"]
    assert started.model == f"nightmareai/real-esrgan:{DEFAULT_VERSION}"


def test_the_create_body_and_headers_are_exactly_the_documented_ones() -> None:
    # Given a pinned version
    harness = Harness()
    upscaler = harness.upscaler(replicate_upscale_version=DEFAULT_VERSION)

    # When a prediction is started with a webhook, then one without
    upscaler.start(request())
    upscaler.start(request(webhook=None))

    # Then the bodies are exactly the documented create bodies, with the bearer token
    with_webhook, without = harness.calls
    assert json.loads(with_webhook.content) == {
        "version": DEFAULT_VERSION,
        "input": {"image": IMAGE_URL, "scale": 4, "face_enhance": False},
        "webhook": WEBHOOK,
        "webhook_events_filter": ["completed"],
    }
    assert json.loads(without.content) == {
        "version": DEFAULT_VERSION,
        "input": {"image": IMAGE_URL, "scale": 4, "face_enhance": False},
    }
    assert with_webhook.headers["authorization"] == f"Bearer {DEFAULT_TOKEN}"
    assert with_webhook.headers["content-type"] == "application/json"


def test_a_429_is_honoured_with_its_retry_after_then_the_create_succeeds() -> None:
    # Given Replicate throttling the next two creates with Retry-After: 3
    harness = Harness()
    harness.fake.set_faults(rate_limit_creates=2, retry_after_s=3)
    upscaler = harness.upscaler(replicate_upscale_version=DEFAULT_VERSION)

    # When a prediction is started
    started = upscaler.start(request())

    # Then it waited 3 s twice and the third create succeeded
    assert harness.paths() == ["POST /v1/predictions"] * 3
    assert [s for s in harness.time.sleeps if s >= 1] == [3, 3]
    assert started.external_id in {p["id"] for p in harness.fake.predictions()}


def test_a_retry_after_past_the_cap_fails_at_once_as_rate_limited() -> None:
    # Given a 429 asking to wait 120 s (the cap is 30 s)
    harness = Harness()
    harness.fake.set_faults(rate_limit_creates=1, retry_after_s=120)

    # When a prediction is started
    with pytest.raises(ProviderRateLimitedError) as caught:
        harness.upscaler(replicate_upscale_version=DEFAULT_VERSION).start(request())

    # Then it fails rate_limited with the wait, after one request and no sleep that long
    assert caught.value.code == "rate_limited"
    assert caught.value.wait_s == 120
    assert harness.paths() == ["POST /v1/predictions"]
    assert all(s < 120 for s in harness.time.sleeps)


def test_429s_outlasting_the_retries_fail_as_rate_limited() -> None:
    harness = Harness()
    harness.fake.set_faults(rate_limit_creates=10, retry_after_s=1)

    with pytest.raises(ProviderRateLimitedError):
        harness.upscaler(replicate_upscale_version=DEFAULT_VERSION).start(request())

    assert harness.paths() == ["POST /v1/predictions"] * 3  # 1 + provider_max_retries


def test_a_wrong_token_is_unauthorised_with_replicates_message_and_never_the_token() -> None:
    # Given a token Replicate does not know
    harness = Harness()
    upscaler = harness.upscaler(replicate_api_token="r8_wrong_token_value")

    # When a prediction is started
    with pytest.raises(ProviderUnauthorisedError) as caught:
        upscaler.start(request())

    # Then it is unauthorised, with Replicate's detail, and the token is nowhere in the error
    assert caught.value.code == "unauthorised"
    assert "valid authentication token" in caught.value.message
    assert "r8_wrong_token_value" not in json.dumps(caught.value.to_body())


def test_without_a_token_it_is_not_configured_and_sends_nothing() -> None:
    harness = Harness()
    upscaler = harness.upscaler(replicate_api_token=None)

    assert upscaler.unavailable_reason() == "not_configured"
    with pytest.raises(UpscaleFailedError) as caught:
        upscaler.start(request())
    assert caught.value.code == "upscaler_unavailable"
    assert harness.calls == []


# -- predictions ------------------------------------------------------------------------------------------------------

#: The unfinished prediction of Replicate's webhook docs (https://replicate.com/docs/topics/webhooks/receive-webhook).
DOCS_PREDICTION: dict[str, Any] = {
    "id": "ufawqhfynnddngldkgtslldrkq",
    "version": "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa",
    "created_at": "2022-04-26T22:13:06.224088Z",
    "started_at": None,
    "completed_at": None,
    "status": "starting",
    "input": {"text": "Alice"},
    "output": None,
    "error": None,
    "logs": None,
    "metrics": {},
}


def test_parse_prediction_reads_the_documented_unfinished_prediction() -> None:
    state = parse_prediction(DOCS_PREDICTION)

    assert (state.external_id, state.status, state.output_urls, state.error) == (
        "ufawqhfynnddngldkgtslldrkq",
        "starting",
        [],
        None,
    )
    assert not state.terminal


@pytest.mark.parametrize(
    ("output", "urls"),
    [
        ("https://replicate.delivery/pbxt/a/out.png", ["https://replicate.delivery/pbxt/a/out.png"]),
        (["https://replicate.delivery/a/0.png", "https://replicate.delivery/a/1.png"],
         ["https://replicate.delivery/a/0.png", "https://replicate.delivery/a/1.png"]),
    ],
)  # fmt: skip
def test_parse_prediction_reads_a_string_or_a_list_output(output: Any, urls: list[str]) -> None:
    payload = {**DOCS_PREDICTION, "status": "succeeded", "output": output}

    state = parse_prediction(payload)

    assert state.output_urls == urls and state.terminal


@pytest.mark.parametrize("output", [None, [], [None], {"image": "x"}, ""])
def test_a_succeeded_prediction_without_output_urls_is_a_bad_response(output: Any) -> None:
    with pytest.raises(ProviderBadResponseError):
        parse_prediction({**DOCS_PREDICTION, "status": "succeeded", "output": output})


def test_a_failed_prediction_keeps_its_error_and_has_no_output() -> None:
    payload = {**DOCS_PREDICTION, "status": "failed", "error": "CUDA out of memory", "output": None}

    state = parse_prediction(payload)

    assert (state.status, state.error, state.output_urls) == ("failed", "CUDA out of memory", [])


@pytest.mark.parametrize(
    "payload", [None, [], {"id": "x"}, {"id": "x", "status": "exploded"}, {**DOCS_PREDICTION, "id": ""}]
)
def test_a_body_that_is_not_a_prediction_is_a_bad_response(payload: Any) -> None:
    with pytest.raises(ProviderBadResponseError) as caught:
        parse_prediction(payload)
    assert caught.value.code == "bad_response"


def test_a_prediction_advances_to_succeeded_and_its_output_downloads_as_the_upscaled_png() -> None:
    # Given a started prediction
    harness = Harness()
    upscaler = harness.upscaler(replicate_upscale_version=DEFAULT_VERSION)
    started = upscaler.start(request())

    # When it is polled until done
    states = [upscaler.get_prediction(started.external_id) for _ in range(2)]

    # Then it went processing → succeeded with one output URL on the file host, whose bytes are the input ×4
    assert [state.status for state in states] == ["processing", "succeeded"]
    (url,) = states[-1].output_urls
    assert url.startswith(f"{FILES}/_files/")
    data = upscaler.download_output(url)
    assert Image.open(io.BytesIO(data)).size == (160, 120)


def test_a_failed_prediction_reports_its_error() -> None:
    harness = Harness()
    harness.fake.set_faults(fail_with="Input image too large for the GPU")
    upscaler = harness.upscaler(replicate_upscale_version=DEFAULT_VERSION)
    started = upscaler.start(request())

    states = [upscaler.get_prediction(started.external_id) for _ in range(2)]

    assert (states[-1].status, states[-1].error) == ("failed", "Input image too large for the GPU")


def test_cancel_stops_a_running_prediction_and_an_unknown_one_is_not_an_error() -> None:
    harness = Harness()
    upscaler = harness.upscaler(replicate_upscale_version=DEFAULT_VERSION)
    started = upscaler.start(request())

    upscaler.cancel_prediction(started.external_id)
    upscaler.cancel_prediction("doesnotexist")

    assert upscaler.get_prediction(started.external_id).status == "canceled"


def test_an_unknown_prediction_is_not_found() -> None:
    with pytest.raises(ProviderNotFoundError):
        Harness().upscaler().get_prediction("nosuchprediction")


# -- downloads --------------------------------------------------------------------------------------------------------


class FileHost:
    """A MockTransport handler for the output host: ``body`` streamed in 64 KiB chunks (optionally with a declared
    length), recording the requests and how many chunks were produced."""

    def __init__(self, size: int, *, declare: bool = False, status: int = 200) -> None:
        self.size, self.declare, self.status = size, declare, status
        self.requests: list[httpx.Request] = []
        self.chunks_sent = 0

    def _stream(self) -> Iterator[bytes]:
        sent = 0
        while sent < self.size:
            chunk = b"\0" * min(65536, self.size - sent)
            sent += len(chunk)
            self.chunks_sent += 1
            yield chunk

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        headers = {"Content-Length": str(self.size)} if self.declare else {}
        return httpx.Response(self.status, headers=headers, content=self._stream())


def downloader(host: Any, **values: Any) -> ReplicateUpscaler:
    return ReplicateUpscaler(settings(**values), transport=httpx.MockTransport(host))


def test_the_download_sends_no_authorization_header_to_the_output_host() -> None:
    host = FileHost(1000)

    data = downloader(host).download_output(f"{FILES}/pbxt/out.png")

    assert len(data) == 1000
    (sent,) = host.requests
    assert "authorization" not in sent.headers
    assert DEFAULT_TOKEN not in str(sent.headers)


def test_an_output_over_the_cap_is_abandoned_while_streaming() -> None:
    # Given a 10 MB output without a declared length and a 200 kB cap
    host = FileHost(10_000_000)

    # When it is downloaded
    with pytest.raises(UpscaleFailedError) as caught:
        downloader(host, replicate_output_max_bytes=200_000).download_output(f"{FILES}/big.png")

    # Then it fails output_too_large after reading just past the cap, not the whole body
    assert caught.value.code == "output_too_large"
    assert host.chunks_sent <= 5


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    host = FileHost(10_000_000, declare=True)

    with pytest.raises(UpscaleFailedError) as caught:
        downloader(host, replicate_output_max_bytes=200_000).download_output(f"{FILES}/big.png")

    assert caught.value.code == "output_too_large"
    assert host.chunks_sent == 0


def test_an_output_exactly_at_the_cap_is_accepted() -> None:
    assert len(downloader(FileHost(200_000), replicate_output_max_bytes=200_000).download_output(f"{FILES}/x")) == (
        200_000
    )


@pytest.mark.parametrize("url", ["http://replicate.delivery/out.png", "ftp://x/out.png", "file:///etc/passwd", "nope"])
def test_only_https_outputs_are_downloaded(url: str) -> None:
    host = FileHost(10)

    with pytest.raises(UpscaleFailedError) as caught:
        downloader(host).download_output(url)

    assert caught.value.code == "output_url_refused"
    assert host.requests == []


def test_http_outputs_are_allowed_only_with_the_local_setting() -> None:
    host = FileHost(10)

    assert downloader(host, replicate_output_allow_http=True).download_output("http://127.0.0.1:8098/_files/o.png")
    with pytest.raises(UpscaleFailedError):
        downloader(host, replicate_output_allow_http=True).download_output("file:///etc/passwd")


def test_a_redirect_to_http_is_refused() -> None:
    # Given an https output that redirects to plain http
    seen: list[str] = []

    def host(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://replicate.delivery/out.png"})

    # When it is downloaded
    with pytest.raises(UpscaleFailedError) as caught:
        downloader(host).download_output(f"{FILES}/out.png")

    # Then the http hop is never requested
    assert caught.value.code == "output_url_refused"
    assert seen == [f"{FILES}/out.png"]


def test_a_download_timeout_is_unavailable() -> None:
    def host(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    with pytest.raises(ProviderUnavailableError) as caught:
        downloader(host).download_output(f"{FILES}/slow.png")

    assert caught.value.code == "unavailable" and caught.value.transient


def test_a_download_that_outlasts_the_total_timeout_is_unavailable() -> None:
    # Given a clock that moves 20 s per chunk and a 30 s download timeout
    time = FakeTime()

    def clock() -> float:
        time.now += 20
        return time.now

    upscaler = ReplicateUpscaler(
        settings(replicate_output_timeout_s=30), transport=httpx.MockTransport(FileHost(1_000_000)), clock=clock
    )

    # Then the download stops as timed out
    with pytest.raises(ProviderUnavailableError, match="timed out"):
        upscaler.download_output(f"{FILES}/slow.png")


def test_a_deleted_output_is_not_found() -> None:
    with pytest.raises(ProviderNotFoundError):
        downloader(FileHost(10, status=404)).download_output(f"{FILES}/gone.png")
