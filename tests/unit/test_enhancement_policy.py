"""The enhancement policy and the jobs queue's messages, pure: thresholds, provider choice, labels, webhook URLs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.config import Settings
from chalicelib.models.jobs import ArtworkPreferences
from chalicelib.providers.upscaling import PredictionState, UpscaledImage, UpscaleRequest
from chalicelib.services.enhancement_policy import (
    MESSAGE,
    PredictionMessage,
    RunMessage,
    choose_provider,
    prediction_message,
    refusal,
    result_label,
    run_message,
    starts_automatically,
    webhook_url,
)


def _settings(monkeypatch: pytest.MonkeyPatch, **values: Any) -> Settings:
    for name in ("SLEEVE_UPSCALER", "SLEEVE_REPLICATE_API_TOKEN", "SLEEVE_PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return Settings(**{"bucket_name": "b", "jwt_secret": "s", **values})


class _Upscaler:
    def __init__(self, name: str, reason: str | None = None) -> None:
        self.name, self.model, self._reason = name, name, reason

    def unavailable_reason(self) -> str | None:
        return self._reason

    def start(self, request: UpscaleRequest) -> UpscaledImage:
        raise NotImplementedError

    def close(self) -> None:
        return None


ALLOW = ArtworkPreferences()


@pytest.mark.parametrize(
    ("side", "code", "auto"),
    [(64, None, True), (299, None, True), (300, None, False), (1399, None, False), (1400, "not_needed", False)],
)
def test_the_thresholds_on_the_short_side(
    monkeypatch: pytest.MonkeyPatch, side: int, code: str | None, auto: bool
) -> None:
    settings = _settings(monkeypatch)
    refused = refusal(side, ALLOW, settings)
    assert (refused.code if refused else None) == code
    assert starts_automatically(side, ALLOW, settings) is auto


def test_the_owners_preferences_refuse_or_stop_the_automatic_start(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(monkeypatch)
    forbidden = refusal(128, ArtworkPreferences(allow_ai_enhancement=False), settings)
    assert forbidden is not None and (forbidden.status, forbidden.code) == (409, "ai_not_allowed")
    assert not starts_automatically(128, ArtworkPreferences(allow_ai_enhancement=False), settings)
    assert not starts_automatically(128, ArtworkPreferences(auto_enhance_low_res=False), settings)


@pytest.mark.parametrize(
    ("values", "local_reason", "chosen"),
    [
        ({"replicate_api_token": "r8_x"}, None, "replicate"),
        ({}, None, "local"),
        ({}, "not_installed: pip install -r requirements-laptop.txt", "lanczos"),
        ({"upscaler": "lanczos", "replicate_api_token": "r8_x"}, None, "lanczos"),
        ({"upscaler": "local"}, "not_installed", "local"),  # asked for: the run says why it cannot
    ],
)
def test_the_provider_of_a_new_job(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, Any], local_reason: str | None, chosen: str
) -> None:
    settings = _settings(monkeypatch, **values)
    upscalers = {
        "replicate": _Upscaler("replicate", None if settings.replicate_api_token else "not_configured"),
        "local": _Upscaler("local", local_reason),
        "lanczos": _Upscaler("lanczos"),
    }
    assert choose_provider(settings, upscalers) == chosen


def test_labels_say_when_lanczos_finished_the_size() -> None:
    assert result_label("real-esrgan-x4plus", provider="replicate", resampled=True) == "real-esrgan-x4plus+lanczos"
    assert result_label("real-esrgan-x4plus", provider="local", resampled=False) == "real-esrgan-x4plus"
    assert result_label("lanczos", provider="lanczos", resampled=True) == "lanczos"


def test_the_webhook_url_names_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    assert webhook_url(_settings(monkeypatch), "j1") is None
    public = _settings(monkeypatch, public_base_url="https://api.sleeve.test/")
    assert webhook_url(public, "j1") == "https://api.sleeve.test/webhooks/replicate?job_id=j1"
    explicit = _settings(monkeypatch, replicate_webhook_url="https://hooks.test/r?x=1")
    assert webhook_url(explicit, "j1") == "https://hooks.test/r?x=1&job_id=j1"


def test_messages_round_trip_and_malformed_ones_are_refused() -> None:
    run = MESSAGE.validate_json(json.dumps(run_message("j1")))
    assert run == RunMessage(type="job.run", job_id="j1")
    state = PredictionState(external_id="p1", status="succeeded", output_urls=["https://x.test/o.png"])
    reported = MESSAGE.validate_json(json.dumps(prediction_message("j1", state)))
    assert isinstance(reported, PredictionMessage) and reported.prediction.state() == state
    for body in ("", "[]", '{"type": "job.run"}', '{"type": "job.run", "job_id": "../x"}', '{"type": "other"}'):
        with pytest.raises(ValidationError):
            MESSAGE.validate_json(body)
