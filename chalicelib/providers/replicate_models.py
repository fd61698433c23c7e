"""Replicate's documented HTTP shapes (https://replicate.com/docs/reference/http), only the fields Sleeve reads or
sends; others are ignored. The fake Replicate server (chalicelib/local/fake_replicate) answers in the same shapes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.providers.upscaling import PredictionStatus


class ReplicateModelVersion(BaseModel):
    """A model version (``GET /models/{owner}/{name}`` → ``latest_version``): its 64-hex ``id``."""

    id: str = Field(min_length=1)
    created_at: str | None = None
    cog_version: str | None = None


class ReplicateModel(BaseModel):
    """A model (``GET /models/{owner}/{name}``); ``latest_version`` is null for a model with no version pushed."""

    owner: str
    name: str
    latest_version: ReplicateModelVersion | None = None


class ReplicatePredictionUrls(BaseModel):
    """A prediction's ``urls``: ``get`` (poll it), ``cancel`` (POST to stop it); ``stream``/``web`` when given."""

    get: str | None = None
    cancel: str | None = None
    stream: str | None = None
    web: str | None = None


class ReplicatePrediction(BaseModel):
    """A prediction object: the answer of ``POST /predictions`` and ``GET /predictions/{id}``, and the body of every
    webhook ("The request body is a prediction object … the same structure as the object returned by the get a
    prediction API", https://replicate.com/docs/topics/webhooks/receive-webhook).

    ``status``: ``starting`` → ``processing`` → ``succeeded`` | ``failed`` | ``canceled`` (| ``aborted``);
    ``output``: model-specific, for real-esrgan one file URL (a string), for other models a list of URLs, null until it
    succeeds; ``error``: the failure message when ``failed``; times are ISO 8601 strings.
    """

    id: str = Field(min_length=1)
    status: PredictionStatus
    model: str | None = None
    version: str | None = None
    input: dict[str, Any] | None = None
    output: Any = None
    error: Any = None
    logs: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    urls: ReplicatePredictionUrls | None = None
    metrics: dict[str, Any] | None = None


class ReplicateUpscaleInput(BaseModel):
    """The input of ``nightmareai/real-esrgan``: the image URL, the scale factor (its schema allows 0–10, Sleeve asks
    for 4) and GFPGAN face enhancement (off: covers are not portraits to retouch)."""

    model_config = ConfigDict(frozen=True)

    image: str
    scale: int = Field(default=4, ge=1, le=10)
    face_enhance: bool = False


class ReplicateCreatePrediction(BaseModel):
    """The body of ``POST /predictions``: the model ``version`` id, its ``input``, and, when Sleeve has a public
    webhook URL, ``webhook`` with ``webhook_events_filter: ["completed"]`` (one call when the prediction reaches a
    terminal state; https://replicate.com/docs/topics/webhooks/setup-webhook). Dump it with ``exclude_none``."""

    model_config = ConfigDict(frozen=True)

    version: str
    input: ReplicateUpscaleInput
    webhook: str | None = None
    webhook_events_filter: list[str] | None = None


class ReplicateProblem(BaseModel):
    """An error body: ``{"detail": …}`` (a 429: "Request was throttled. Your rate limit resets in ~30s.",
    https://replicate.com/docs/topics/predictions/rate-limits), with ``title``/``status`` on most other errors."""

    detail: str | None = None
    title: str | None = None
    status: int | None = None
