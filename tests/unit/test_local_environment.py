"""The local stack's environment: the variables that need the API's address once it listens, and the banner's line
about the upscaler new jobs run on."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from chalicelib.local.__main__ import upscaler_line
from chalicelib.local.environment import EnvironPatch, api_environment


def test_the_webhook_url_points_at_the_local_api_by_default() -> None:
    # Given a stage environment that names neither a webhook URL nor a public base URL
    env = {"SLEEVE_STAGE": "local", "SLEEVE_REPLICATE_API_TOKEN": "r8_fake"}

    # When the API listens on a free port
    late = api_environment(env, "http://127.0.0.1:41234")

    # Then Replicate's webhooks are sent to that API's route
    assert late == {"SLEEVE_REPLICATE_WEBHOOK_URL": "http://127.0.0.1:41234/webhooks/replicate"}


@pytest.mark.parametrize(
    "configured",
    [
        {"SLEEVE_REPLICATE_WEBHOOK_URL": "https://tunnel.example/webhooks/replicate"},
        {"SLEEVE_PUBLIC_BASE_URL": "https://tunnel.example"},
    ],
)
def test_a_configured_webhook_or_public_url_wins(configured: dict[str, str]) -> None:
    # Given the developer's own webhook URL, or a public base URL the app derives it from (a tunnel)
    # When / Then the stack leaves it alone
    assert api_environment(configured, "http://127.0.0.1:8000") == {}


def test_variables_set_after_apply_are_restored_too(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a shell without the variable, and a patch applied
    monkeypatch.delenv("SLEEVE_REPLICATE_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("SLEEVE_UPLOAD_MAX_BYTES", "1234")
    patch = EnvironPatch({"SLEEVE_UPLOAD_MAX_BYTES": "99"})
    patch.apply()

    # When the stack adds the webhook URL once the API listens
    patch.update({"SLEEVE_REPLICATE_WEBHOOK_URL": "http://127.0.0.1:1/webhooks/replicate"})
    during = os.environ.get("SLEEVE_REPLICATE_WEBHOOK_URL")
    patch.restore()

    # Then it was set while the stack ran and is gone afterwards, like the others
    assert during == "http://127.0.0.1:1/webhooks/replicate"
    assert "SLEEVE_REPLICATE_WEBHOOK_URL" not in os.environ
    assert os.environ["SLEEVE_UPLOAD_MAX_BYTES"] == "1234"


class StubUpscaler:
    """An upscaler that is off for ``reason`` (None: it can run)."""

    def __init__(self, reason: str | None) -> None:
        self.reason = reason

    def unavailable_reason(self) -> str | None:
        return self.reason


@pytest.fixture
def banner_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """A clean SLEEVE_* environment with the required settings; settings and container reset around the test."""
    from chalicelib.container import reset_container

    for name in [n for n in os.environ if n.startswith("SLEEVE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SLEEVE_BUCKET_NAME", "b")
    monkeypatch.setenv("SLEEVE_JWT_SECRET", "s")
    reset_container()
    yield monkeypatch
    reset_container()


def stub_upscalers(monkeypatch: pytest.MonkeyPatch, local_reason: str | None) -> None:
    import chalicelib.container

    upscalers = {"replicate": StubUpscaler("not_configured"), "local": StubUpscaler(local_reason)}
    monkeypatch.setattr(chalicelib.container, "get_upscalers", lambda: upscalers)


def test_the_banner_names_the_local_real_esrgan_when_it_can_run(banner_env: pytest.MonkeyPatch) -> None:
    # Given no Replicate token and a local Real-ESRGAN that can run
    stub_upscalers(banner_env, None)

    # When / Then make run's banner says new jobs run on it
    assert upscaler_line() == "local Real-ESRGAN x4plus on the CPU"


def test_the_banner_says_why_jobs_fall_back_to_lanczos(banner_env: pytest.MonkeyPatch) -> None:
    # Given no Replicate token and the laptop extra missing
    stub_upscalers(banner_env, "not_installed: pip install -r requirements-laptop.txt")

    # When / Then the banner says Lanczos, and why the local model is off
    assert upscaler_line() == (
        "lanczos: plain resampling, recorded as not AI (the local Real-ESRGAN is off: "
        "not_installed: pip install -r requirements-laptop.txt)"
    )


def test_the_banner_names_replicate_and_where_its_webhooks_go(banner_env: pytest.MonkeyPatch) -> None:
    # Given the fake Replicate's settings and the webhook URL the stack sets once its API listens
    banner_env.setenv("SLEEVE_REPLICATE_API_URL", "http://127.0.0.1:8098/v1")
    banner_env.setenv("SLEEVE_REPLICATE_API_TOKEN", "r8_fake")
    banner_env.setenv("SLEEVE_REPLICATE_WEBHOOK_URL", "http://127.0.0.1:8000/webhooks/replicate")
    stub_upscalers(banner_env, None)

    # When / Then
    assert upscaler_line() == (
        "replicate at http://127.0.0.1:8098/v1, webhooks to http://127.0.0.1:8000/webhooks/replicate?job_id=…"
    )
