"""The image-generator interface (issue 11): what a generation job asks for, the two ways a generator answers, and
the Protocol.

A generator either finishes in the call (the local typographic cover: a ``GeneratedImage``) or starts a remote
prediction that ends later (Replicate's text-to-image: a ``PredictionStarted`` from ``providers.upscaling``, then a
webhook or the poller reports a ``PredictionState`` and the output is downloaded through the same
``PredictionClient``). Failures are the ``ProviderFailure`` tree; services never see httpx or Pillow exceptions.
A generator records honestly what it is: ``generated_by`` names the model or the program that made the image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chalicelib.providers.upscaling import PredictionStarted

#: The aspect ratios a request may ask for (flux-schnell's ``aspect_ratio`` input; the typographic cover uses it too).
ASPECT_RATIOS: tuple[str, ...] = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "4:5", "5:4")
#: ``generated_by`` of the local typographic cover: a program, not a model.
TYPOGRAPHIC_GENERATOR = "sleeve-typographic"


@dataclass(frozen=True)
class GenerateRequest:
    """One generation: the creator's ``prompt`` (≤ 1000 characters), an optional ``negative_prompt`` (ignored by
    models that take none, flux-schnell among them), ``aspect_ratio`` (one of ``ASPECT_RATIOS``), ``seed`` (None:
    random), ``num_inference_steps`` (None: the model's default), the ``job_id`` and the ``webhook_url`` a remote
    provider calls on completion (None: the poller completes the job)."""

    job_id: str
    prompt: str
    negative_prompt: str | None = None
    aspect_ratio: str = "1:1"
    seed: int | None = None
    num_inference_steps: int | None = None
    webhook_url: str | None = None


@dataclass(frozen=True)
class GeneratedImage:
    """A finished generation: encoded ``data`` (PNG/WebP/JPEG), ``content_type``, ``width``/``height`` px,
    ``generated_by`` (the model or program: ``sleeve-typographic``), ``generation_strategy`` (how: ``typographic``,
    ``text-to-image``) and ``processing_time_ms``."""

    data: bytes
    content_type: str
    width: int
    height: int
    generated_by: str
    generation_strategy: str
    processing_time_ms: int


class ImageGenerator(Protocol):
    """A text-to-image provider (``replicate_generate.ReplicateImageGenerator``,
    ``typographic.TypographicGenerator``)."""

    @property
    def name(self) -> str:
        """``replicate`` or ``typographic`` (the job's ``provider``)."""
        ...

    @property
    def model(self) -> str:
        """What it runs (the job's ``model``): ``black-forest-labs/flux-schnell``, ``sleeve-typographic``."""
        ...

    def unavailable_reason(self) -> str | None:
        """None when it can run; else why not (``not_configured``: no Replicate token). Never raises."""
        ...

    def start(self, request: GenerateRequest) -> GeneratedImage | PredictionStarted:
        """Generate an image for ``request``: a ``GeneratedImage`` when done in the call, a ``PredictionStarted`` when
        a remote prediction finishes later. Raises ``ProviderFailure`` subclasses (``ProviderRateLimitedError`` on
        Replicate's 429 past its ``Retry-After`` cap…)."""
        ...

    def close(self) -> None:
        """Release the provider's resources (HTTP client)."""
        ...
