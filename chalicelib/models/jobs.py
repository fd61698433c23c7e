"""Asynchronous AI jobs (upscaling now, generation next) and the owner's artwork preferences.

One job record serves every kind (DESIGN.md, "Jobs"): ``queued → running → succeeded | failed | canceled``; every
change is a conditional write on the current status (``chalicelib/store/jobs.py``), so a webhook and a poller that
report the same prediction complete it once, and a late report of a canceled job changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

type JobKind = Literal["upscale", "generate"]
type JobStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]
#: Which upscaler ran (or runs) a job; ``lanczos`` is plain resampling, recorded as not AI.
type UpscalerName = Literal["replicate", "local", "lanczos"]

JOB_KINDS: tuple[JobKind, ...] = ("upscale", "generate")
JOB_STATUSES: tuple[JobStatus, ...] = ("queued", "running", "succeeded", "failed", "canceled")
#: Statuses a job never leaves.
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "canceled"})
#: Statuses the reaper watches (the sparse ``JOBS_OPEN`` index holds exactly these jobs).
OPEN_STATUSES: frozenset[str] = frozenset({"queued", "running"})

#: The model labels an artwork records in ``ai_enhancement_model`` (``+lanczos`` when resampling finished the size).
MODEL_REAL_ESRGAN_X4PLUS = "real-esrgan-x4plus"
MODEL_LANCZOS = "lanczos"


class JobError(BaseModel):
    """Why a job failed: a machine-readable ``code`` (``provider_failed``, ``deadline_exceeded``, ``dead_lettered``,
    ``result_rejected``, ``output_too_large``, ``output_not_image``, ``upscaler_crashed``, ``upscaler_timeout``,
    ``source_missing``…) and a human ``message``."""

    code: str
    message: str


class Job(BaseModel):
    """One asynchronous job, as stored and as ``GET /jobs/{id}`` returns it.

    ``provider``: the upscaler that runs it (``replicate``, ``local``, ``lanczos``). ``model``: what that provider
    runs (``nightmareai/real-esrgan:<version>``, ``realesrgan-x4plus``, ``lanczos``). ``attempts``: runs started (the
    reaper re-queues up to ``job_max_attempts``). ``input``: the kind's parameters; for ``upscale``
    ``{"release_id", "asset_id", "width", "height", "scale", "target_px", "auto"}`` (px; ``auto`` true when started
    by ingest). ``deadline_at``: when the reaper acts if the job is still open. ``external_id``: the provider's
    prediction id. ``result_asset_id``: the asset the result is ingested as (chosen when the job is created, so a
    retried completion writes the same asset).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5f0c6f1e2d3b4a5968778695a4b3c2d1",
                    "owner_id": "alice",
                    "kind": "upscale",
                    "provider": "replicate",
                    "model": "nightmareai/real-esrgan:f121d640bd286e1fdc67f9799164c1d5be36ff74576ee11c803ae5b665dd46aa",
                    "status": "running",
                    "attempts": 1,
                    "input": {
                        "release_id": "0f8e7d6c5b4a39281706f5e4d3c2b1a0",
                        "asset_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
                        "width": 600,
                        "height": 600,
                        "scale": 4,
                        "target_px": 1400,
                        "auto": False,
                    },
                    "error": None,
                    "created_at": "2026-11-26T09:00:00Z",
                    "started_at": "2026-11-26T09:00:01Z",
                    "finished_at": None,
                    "deadline_at": "2026-11-26T09:30:01Z",
                    "result_asset_id": "9a8b7c6d5e4f30211203f4e5d6c7b8a9",
                    "external_id": "ufawqhfynnddngldkgtslldrkq",
                }
            ]
        }
    )

    id: str
    owner_id: str
    kind: JobKind
    provider: str
    model: str
    status: JobStatus
    attempts: int = Field(default=0, ge=0)
    input: dict[str, Any] = Field(default_factory=dict)
    error: JobError | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deadline_at: datetime | None = None
    result_asset_id: str | None = None
    external_id: str | None = None


class ArtworkPreferences(BaseModel):
    """An owner's artwork preferences (``GET|PUT /me/preferences/artwork``); an owner who never set them has these
    defaults.

    ``auto_enhance_low_res``: start an upscaling job by itself after a cover under ``auto_enhance_below_px`` (300 px)
    is ingested. ``prefer_ai_enhancement``: serve (and share) the enhanced version when there is one, else the
    original. ``allow_ai_enhancement``: false refuses every enhancement (409 ``ai_not_allowed``), automatic ones too.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"auto_enhance_low_res": True, "prefer_ai_enhancement": True, "allow_ai_enhancement": True}]
        }
    )

    auto_enhance_low_res: bool = True
    prefer_ai_enhancement: bool = True
    allow_ai_enhancement: bool = True
