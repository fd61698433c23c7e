"""The enhancement policy and the jobs queue's messages: pure functions over models, tested without AWS.

Policy (issue 10, "Policy", from the product plan), on the original's short side in px:
``>= enhance_not_needed_px`` (1400) → nothing to do (409 ``not_needed``); ``auto_enhance_below_px`` (300) ..
``enhance_not_needed_px - 1`` → offered, started on request; below ``auto_enhance_below_px`` → also started by
itself after ingest when the owner's ``auto_enhance_low_res`` and ``allow_ai_enhancement`` are on. ``allow`` off
refuses every enhancement (409 ``ai_not_allowed``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from chalicelib.config import Settings
from chalicelib.errors import ConflictError
from chalicelib.models.domain import Asset
from chalicelib.models.jobs import MODEL_LANCZOS, ArtworkPreferences
from chalicelib.providers.upscaling import PredictionState, PredictionStatus, Upscaler

#: The model scale every provider is asked for (Real-ESRGAN x4plus).
UPSCALE_SCALE = 4
_ID = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


def short_side(asset: Asset) -> int | None:
    """The short side (px) of the asset's stored original, None while it is not ready."""
    if asset.status != "ready" or asset.media is None:
        return None
    return min(asset.media.original.width, asset.media.original.height)


def refusal(side: int, preferences: ArtworkPreferences, settings: Settings) -> ConflictError | None:
    """Why a cover of short side ``side`` px may not be enhanced (409 ``ai_not_allowed`` / ``not_needed``), or None."""
    if not preferences.allow_ai_enhancement:
        return ConflictError(
            "The owner does not allow AI enhancement (preferences: allow_ai_enhancement).", code="ai_not_allowed"
        )
    if side >= settings.enhance_not_needed_px:
        return ConflictError(
            f"The cover is {side} px on its short side; only covers under {settings.enhance_not_needed_px} px are "
            "enhanced.",
            code="not_needed",
            details={"short_side_px": side, "not_needed_px": settings.enhance_not_needed_px},
        )
    return None


def starts_automatically(side: int, preferences: ArtworkPreferences, settings: Settings) -> bool:
    """Whether ingest of a cover of short side ``side`` px starts an enhancement by itself."""
    return (
        side < settings.auto_enhance_below_px
        and preferences.auto_enhance_low_res
        and preferences.allow_ai_enhancement
        and refusal(side, preferences, settings) is None
    )


def choose_provider(settings: Settings, upscalers: Mapping[str, Upscaler]) -> str:
    """The provider of a NEW job: ``settings.upscaler``, or for ``auto`` Replicate when its token is set, else the
    local Real-ESRGAN when it can run, else ``lanczos``. A job keeps the provider it was created with."""
    if settings.upscaler != "auto":
        return settings.upscaler
    if settings.replicate_api_token is not None and "replicate" in upscalers:
        return "replicate"
    local = upscalers.get("local")
    if local is not None and local.unavailable_reason() is None:
        return "local"
    return "lanczos"


def result_label(model: str, *, provider: str, resampled: bool) -> str:
    """The ``ai_enhancement_model`` of a result: ``lanczos`` for the lanczos provider, else the model's label with
    ``+lanczos`` when resampling finished the size (``real-esrgan-x4plus+lanczos``)."""
    if provider == "lanczos":
        return MODEL_LANCZOS
    return f"{model}+lanczos" if resampled else model


def webhook_url(settings: Settings, job_id: str) -> str | None:
    """Where Replicate reports a job's prediction: ``replicate_webhook_url`` or ``{public_base_url}/webhooks/replicate``
    with ``?job_id=``; None with neither (the poller completes the job)."""
    base = settings.replicate_webhook_url
    if base is None and settings.public_base_url:
        base = f"{settings.public_base_url.rstrip('/')}/webhooks/replicate"
    if base is None:
        return None
    return f"{base}{'&' if '?' in base else '?'}job_id={job_id}"


# -- the jobs queue's messages ----------------------------------------------------------------------------------------


class PredictionReport(BaseModel):
    """A prediction's state as a queue message carries it (``PredictionState``'s fields)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    external_id: str = Field(min_length=1, max_length=256)
    status: PredictionStatus
    output_urls: list[str] = Field(default_factory=list, max_length=16)
    error: str | None = Field(default=None, max_length=4000)

    @classmethod
    def of(cls, state: PredictionState) -> PredictionReport:
        """The report of ``state``."""
        return cls(
            external_id=state.external_id, status=state.status, output_urls=list(state.output_urls), error=state.error
        )

    def state(self) -> PredictionState:
        """The ``PredictionState`` it carries."""
        return PredictionState(
            external_id=self.external_id, status=self.status, output_urls=list(self.output_urls), error=self.error
        )


class RunMessage(BaseModel):
    """``{"type": "job.run", "job_id"}``: run a queued job (sent when it is created and by the reaper)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: Literal["job.run"]
    job_id: _ID


class PredictionMessage(BaseModel):
    """``{"type": "job.prediction", "job_id", "prediction"}``: a prediction reported by a webhook or the poller."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: Literal["job.prediction"]
    job_id: _ID
    prediction: PredictionReport


JobMessage = Annotated[RunMessage | PredictionMessage, Field(discriminator="type")]
MESSAGE = TypeAdapter[RunMessage | PredictionMessage](JobMessage)


def run_message(job_id: str) -> dict[str, Any]:
    """The message that runs a job."""
    return {"type": "job.run", "job_id": job_id}


def prediction_message(job_id: str, state: PredictionState) -> dict[str, Any]:
    """The message that reports a job's prediction."""
    return {"type": "job.prediction", "job_id": job_id, "prediction": PredictionReport.of(state).model_dump()}
