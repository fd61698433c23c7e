"""Outside services' payloads that Sleeve's routes receive but never validate as a Sleeve input: they are
authenticated by their signature over the raw bytes and parsed by the provider's client. The models here only
document them in the OpenAPI document (the text-field rules of ``models/api.py`` do not apply to a provider's ids)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ReplicateWebhookBody(BaseModel):
    """``POST /webhooks/replicate``: the prediction Replicate sends when it completes (the shape of ``GET
    /predictions/{id}``; https://replicate.com/docs/topics/webhooks). Documented only: the route verifies the
    signature over the raw bytes first, and the jobs worker parses the prediction (``providers/replicate.py``)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "id": "ufawqhfynnddngldkgtslldrkq",
                    "version": "f121d640bd286e1fdc67f9799164c1d5be36ff74576ee11c803ae5b665dd46aa",
                    "status": "succeeded",
                    "input": {"image": "https://example.com/cover.png", "scale": 4, "face_enhance": False},
                    "output": "https://replicate.delivery/pbxt/abc/out.png",
                    "error": None,
                    "created_at": "2026-11-26T09:00:01.000Z",
                    "completed_at": "2026-11-26T09:00:09.000Z",
                }
            ]
        },
    )

    id: str | None = None
    status: str | None = None
    output: object = None
    error: object = None
