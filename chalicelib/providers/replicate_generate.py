"""Replicate's text-to-image (https://replicate.com/docs/reference/http) as an ``ImageGenerator``: an official model
(default ``black-forest-labs/flux-schnell``, settings ``replicate_generate_model``) run as an asynchronous prediction.

Requests, with ``Authorization: Bearer <SLEEVE_REPLICATE_API_TOKEN>``:

1. ``POST /models/{owner}/{name}/predictions`` ``{"input": {...}, "webhook", "webhook_events_filter": ["completed"]}``
   → 201 with the prediction (``status`` ``starting``). Official models are run by name, without a version
   ("Create a prediction using an official model", https://replicate.com/docs/reference/http#models.predictions.create).
2. Later the same prediction calls as an upscale, through ``ReplicateUpscaler`` (``providers/replicate.py``): the
   webhook or ``GET /predictions/{id}``, ``POST /predictions/{id}/cancel``, and the output download (https only, size
   cap, no token). flux-schnell's ``output`` is a list of file URLs, one per image (``num_outputs`` 1 here).

flux-schnell's inputs (its API page, https://replicate.com/black-forest-labs/flux-schnell/api/schema): ``prompt``;
``aspect_ratio`` (``1:1`` default, ``16:9``, ``21:9``, ``3:2``, ``2:3``, ``4:5``, ``5:4``, ``3:4``, ``4:3``,
``9:16``, ``9:21``); ``num_outputs`` 1–4; ``num_inference_steps`` 1–4 (default 4); ``seed``; ``output_format``
``webp`` (default), ``jpg``, ``png``; ``output_quality`` 0–100 (default 80); ``megapixels`` ``1`` (default) or
``0.25``; ``go_fast`` (default true: fp8, so outputs are "not deterministic … even if you set a seed");
``disable_safety_checker``. It takes no negative prompt: ``negative_prompt`` is not sent.

Rate limits and retries are ``ProviderHttp``'s (600 prediction creates per minute, ``Retry-After`` honoured up to
``SLEEVE_PROVIDER_RETRY_AFTER_CAP_S``; https://replicate.com/docs/topics/predictions/rate-limits).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.providers import parsing
from chalicelib.providers.base import NOT_CONFIGURED, ProviderBadResponseError
from chalicelib.providers.generation import GenerateRequest
from chalicelib.providers.http import HttpPolicy, ProviderHttp
from chalicelib.providers.replicate import MIN_INTERVAL_S, SERVICE, WEBHOOK_EVENTS, ReplicateUpscaler, error_message
from chalicelib.providers.replicate_models import ReplicatePrediction
from chalicelib.providers.upscaling import PredictionStarted, PredictionState, UpscaleFailedError

if TYPE_CHECKING:
    from chalicelib.config import Settings

log = logging.getLogger(__name__)

#: What Sleeve asks flux-schnell for: one image, WebP at quality 90 (the model's default format; ingest keeps it as
#: the original and makes the variants from it).
OUTPUT_FORMAT: Literal["webp", "jpg", "png"] = "webp"
OUTPUT_QUALITY = 90
STRATEGY = "text-to-image"


class FluxSchnellInput(BaseModel):
    """The ``input`` of ``black-forest-labs/flux-schnell`` that Sleeve sends (see the module docstring); dump it with
    ``exclude_none`` so the model's defaults apply to what is not given."""

    model_config = ConfigDict(frozen=True)

    prompt: str = Field(min_length=1)
    aspect_ratio: str = "1:1"
    num_outputs: int = Field(default=1, ge=1, le=4)
    num_inference_steps: int | None = Field(default=None, ge=1, le=4)
    seed: int | None = Field(default=None, ge=0)
    output_format: Literal["webp", "jpg", "png"] = OUTPUT_FORMAT
    output_quality: int = Field(default=OUTPUT_QUALITY, ge=0, le=100)


class ModelPredictionBody(BaseModel):
    """The body of ``POST /models/{owner}/{name}/predictions``: ``input`` and, with a public webhook URL, ``webhook``
    with ``webhook_events_filter: ["completed"]`` (no ``version``: an official model runs its current one)."""

    model_config = ConfigDict(frozen=True)

    input: FluxSchnellInput
    webhook: str | None = None
    webhook_events_filter: list[str] | None = None


class ReplicateImageGenerator:
    """Replicate's text-to-image as an ``ImageGenerator`` (``start`` returns ``PredictionStarted``) and a
    ``PredictionClient`` (``get_prediction``, ``cancel_prediction``, ``download_output``: ``ReplicateUpscaler``'s,
    which speak to the same API with the same token and download rules).

    ``settings``: ``replicate_api_url``, ``replicate_api_token``, ``replicate_generate_model`` (``owner/name``), the
    ``replicate_output_*`` download rules and the ``provider_*`` timeouts and retries. ``transport`` replaces the
    network in tests (``httpx.MockTransport``); ``sleep``/``clock`` the waits. Without a token it makes no request and
    ``unavailable_reason()`` says ``not_configured``. Thread-safe.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._predictions = ReplicateUpscaler(settings, transport=transport, sleep=sleep, clock=clock)
        token = parsing.secret_or_none(settings.replicate_api_token, strip=True)
        self._http: ProviderHttp | None = None
        if token is not None:
            self._http = ProviderHttp(
                SERVICE,
                settings.replicate_api_url,
                HttpPolicy.from_settings(settings, min_interval_s=MIN_INTERVAL_S),
                headers={"Authorization": f"Bearer {token.get_secret_value().strip()}", "Accept": "application/json"},
                transport=transport,
                error_message=error_message,
                sleep=sleep,
                clock=clock,
            )

    @property
    def name(self) -> str:
        """``replicate``."""
        return SERVICE

    @property
    def model(self) -> str:
        """The official model it runs, ``owner/name`` (settings ``replicate_generate_model``)."""
        return self._settings.replicate_generate_model

    def unavailable_reason(self) -> str | None:
        """``not_configured`` without ``SLEEVE_REPLICATE_API_TOKEN``, else None."""
        return NOT_CONFIGURED if self._http is None else None

    def close(self) -> None:
        """Close the HTTP clients."""
        if self._http is not None:
            self._http.close()
        self._predictions.close()

    def body_of(self, request: GenerateRequest) -> ModelPredictionBody:
        """The create body of ``request`` (no webhook keys without ``request.webhook_url``: the poller completes
        it)."""
        return ModelPredictionBody(
            input=FluxSchnellInput(
                prompt=request.prompt,
                aspect_ratio=request.aspect_ratio,
                num_inference_steps=request.num_inference_steps,
                seed=request.seed,
            ),
            webhook=request.webhook_url,
            webhook_events_filter=list(WEBHOOK_EVENTS) if request.webhook_url else None,
        )

    def start(self, request: GenerateRequest) -> PredictionStarted:
        """Create the prediction (``POST /models/{owner}/{name}/predictions``); its id and ``model`` (``owner/name``).

        Raises ``UpscaleFailedError`` ``generator_unavailable`` without a token, ``ProviderBadResponseError`` for a
        model setting that is not ``owner/name`` or an answer that is not a prediction, ``ProviderRateLimitedError``
        when 429s outlast the retries or ask to wait past the cap, ``ProviderUnauthorisedError`` (401/403),
        ``ProviderNotFoundError`` (an unknown model), and the rest of the ``ProviderFailure`` tree.
        """
        if self._http is None:
            raise UpscaleFailedError(
                SERVICE, "Replicate is not configured (SLEEVE_REPLICATE_API_TOKEN)", code="generator_unavailable"
            )
        owner, _, name = self.model.partition("/")
        if not owner or not name or "/" in name:
            raise ProviderBadResponseError(SERVICE, f"the Replicate model {self.model!r} is not owner/name")
        path = f"models/{quote(owner, safe='')}/{quote(name, safe='')}/predictions"
        body = self.body_of(request).model_dump(mode="json", exclude_none=True)
        response = self._http.request("POST", path, json=body)
        payload = parsing.json_body(SERVICE, "Replicate", response, "the prediction request")
        prediction = parsing.parse_payload(SERVICE, "Replicate", ReplicatePrediction, payload, "the prediction")
        log.info(
            "replicate: prediction %s of %s created for job %s (%s)",
            prediction.id,
            self.model,
            request.job_id,
            "webhook" if request.webhook_url else "no webhook, polled",
            extra={"prediction_id": prediction.id, "job_id": request.job_id},
        )
        return PredictionStarted(external_id=prediction.id, model=self.model)

    # -- the prediction client: the same calls as an upscale's ------------------------------------------------------

    def get_prediction(self, external_id: str) -> PredictionState:
        """``GET /predictions/{id}`` (``ReplicateUpscaler.get_prediction``)."""
        return self._predictions.get_prediction(external_id)

    def cancel_prediction(self, external_id: str) -> None:
        """``POST /predictions/{id}/cancel``, best effort (``ReplicateUpscaler.cancel_prediction``)."""
        self._predictions.cancel_prediction(external_id)

    def download_output(self, url: str) -> bytes:
        """One output file's bytes under the download rules (``ReplicateUpscaler.download_output``)."""
        return self._predictions.download_output(url)
