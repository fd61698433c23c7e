"""The upscaler interface: what an upscaling job asks for, the two ways a provider answers, and the Protocols.

A provider either finishes in the call (the local Real-ESRGAN subprocess, plain Lanczos resampling: an
``UpscaledImage``) or starts a remote prediction that ends later (Replicate: a ``PredictionStarted``, then a webhook or
the poller reports a ``PredictionState``). Failures are the ``ProviderFailure`` tree of ``base.py`` (Replicate's HTTP
failures) or ``UpscaleFailedError`` (a local run that crashed, hung or produced nothing). Services never see httpx or
subprocess exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from chalicelib.providers.base import ProviderFailure

#: Replicate's prediction statuses (https://replicate.com/docs/reference/http#predictions.get).
type PredictionStatus = Literal["starting", "processing", "succeeded", "failed", "canceled", "aborted"]
#: Prediction statuses that never change again.
TERMINAL_PREDICTION_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "canceled", "aborted"})


@dataclass(frozen=True)
class UpscaleRequest:
    """One upscale: the original's encoded ``image`` bytes (JPEG/PNG/WebP, as stored), a presigned GET ``image_url``
    of the same bytes (for remote providers), its ``width``/``height`` px, the model ``scale`` (4), the ``job_id``, and
    the ``webhook_url`` a remote provider calls on completion (None: no webhook, the poller completes the job)."""

    job_id: str
    image: bytes
    image_url: str
    width: int
    height: int
    scale: int = 4
    webhook_url: str | None = None


@dataclass(frozen=True)
class UpscaledImage:
    """A finished upscale: encoded ``data`` (PNG), ``width``/``height`` px, the ``model`` label
    (``real-esrgan-x4plus``, ``lanczos``), and ``ai`` (False for plain resampling)."""

    data: bytes
    width: int
    height: int
    model: str
    ai: bool


@dataclass(frozen=True)
class PredictionStarted:
    """A remote prediction was created: its ``external_id`` and the ``model`` it runs (``owner/name:version``)."""

    external_id: str
    model: str


@dataclass(frozen=True)
class PredictionState:
    """A remote prediction as the provider reports it (webhook body or ``GET /predictions/{id}``).

    ``output_urls``: the output files (https URLs, deleted by Replicate an hour after completion), empty until
    ``succeeded``. ``error``: the provider's message when ``failed``.
    """

    external_id: str
    status: PredictionStatus
    output_urls: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def terminal(self) -> bool:
        """True once the prediction can no longer change."""
        return self.status in TERMINAL_PREDICTION_STATUSES


class UpscaleFailedError(ProviderFailure):
    """A local upscale that did not produce an image: ``code`` ``upscaler_crashed`` (the subprocess died or exited
    non-zero), ``upscaler_timeout`` (killed after ``local_upscale_timeout_s``), ``upscaler_unavailable`` (not
    installed), ``output_not_image``. Never transient: the job fails with this code."""

    default_code = "upscaler_crashed"


class Upscaler(Protocol):
    """An upscaling provider (``replicate.ReplicateUpscaler``, ``local_upscaler.LocalRealEsrgan``,
    ``lanczos.LanczosUpscaler``)."""

    @property
    def name(self) -> str:
        """``replicate``, ``local`` or ``lanczos`` (the job's ``provider``)."""
        ...

    @property
    def model(self) -> str:
        """What it runs, for the job's ``model`` before a run resolves it (``nightmareai/real-esrgan``,
        ``realesrgan-x4plus``, ``lanczos``)."""
        ...

    def unavailable_reason(self) -> str | None:
        """None when it can run; else why not (``not_configured``: no Replicate token; ``not_installed``: the
        laptop extra is missing, with the install command in the message…). Never raises, never probes a GPU."""
        ...

    def start(self, request: UpscaleRequest) -> UpscaledImage | PredictionStarted:
        """Upscale ``request.image`` by ``request.scale``: an ``UpscaledImage`` when done in the call, a
        ``PredictionStarted`` when a remote prediction will finish later. Raises ``ProviderFailure`` subclasses
        (``ProviderRateLimitedError`` on Replicate's 429 after its ``Retry-After`` cap, ``UpscaleFailedError``…)."""
        ...

    def close(self) -> None:
        """Release the provider's resources (HTTP client)."""
        ...


class PredictionClient(Protocol):
    """The remote half of a provider whose predictions end later (Replicate)."""

    def get_prediction(self, external_id: str) -> PredictionState:
        """The prediction's current state (``GET /predictions/{id}``). Raises the ``ProviderFailure`` tree."""
        ...

    def cancel_prediction(self, external_id: str) -> None:
        """Ask the provider to stop it (``POST /predictions/{id}/cancel``); best effort, idempotent."""
        ...

    def download_output(self, url: str) -> bytes:
        """The output file's bytes: https only (unless the local-fake setting allows http), at most
        ``replicate_output_max_bytes``, within ``replicate_output_timeout_s``. Raises ``UpscaleFailedError`` with
        ``output_too_large``, ``output_url_refused``, or ``ProviderUnavailableError`` on a failed download."""
        ...
