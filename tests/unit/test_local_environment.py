"""The local stack's environment: the variables that need the API's address once it listens."""

from __future__ import annotations

import os

import pytest

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
