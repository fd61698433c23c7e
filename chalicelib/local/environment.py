"""The environment the app reads locally: .chalice/config.json's stage variables, the developer's overrides, and the
values that describe the running emulator; checked against what infra/template.json provisioned."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chalice.app import Chalice
from chalice.config import Config

from chalicelib.local.provision import LOCAL_REGION, ProvisionResult

PROJECT_DIR = Path(__file__).resolve().parents[2]


class StackError(Exception):
    """The local stack cannot start: .chalice/config.json and infra/template.json disagree, or app.py has no app."""


# Set by the stack whatever .chalice/config.json or the shell says: they describe the emulator that was just started.
_STACK_OWNED = ("SLEEVE_STAGE", "SLEEVE_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL")
#: The API route Replicate's webhooks are POSTed to (``POST /webhooks/replicate``).
REPLICATE_WEBHOOK_PATH = "/webhooks/replicate"
#: Local work only: URL imports may use http and reach private addresses (the embedded stack, fake servers and a
#: developer's own files on loopback). Deployed stages never get them; a developer's shell may still set them false.
LOCAL_IMPORT_ALLOWANCES = {"SLEEVE_IMPORT_ALLOW_HTTP": "true", "SLEEVE_IMPORT_ALLOW_PRIVATE": "true"}
# Never let a developer's real AWS identity leak into the local stack (the config's dummy keys must win).
_CLEARED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def load_chalice_config(project_dir: Path, stage: str, app: Chalice | None = None) -> Config:
    """The Chalice ``Config`` of ``stage`` read from ``project_dir/.chalice/config.json`` (as `chalice local` builds
    it). Raises ``OSError`` / ``json.JSONDecodeError`` when the file is missing or broken."""
    with open(project_dir / ".chalice" / "config.json", encoding="utf-8") as handle:
        from_disk = json.load(handle)
    params: dict[str, Any] = {"project_dir": str(project_dir)}
    if app is not None:
        params["chalice_app"] = app
    return Config(
        chalice_stage=stage,
        user_provided_params=params,
        config_from_disk=from_disk,
        default_params={"project_dir": str(project_dir), "api_gateway_stage": "api", "autogen_policy": True},
    )


def stage_environment(project_dir: Path, stage: str = "local") -> dict[str, str]:
    """The environment variables ``chalice deploy`` would give the stage's Lambdas (top level merged with the stage)."""
    return {key: str(value) for key, value in load_chalice_config(project_dir, stage).environment_variables.items()}


def build_environment(
    project_dir: Path,
    stage: str,
    moto_url: str,
    *,
    shell: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables the app reads: the stage's values from .chalice/config.json (the ``local`` stage also gets
    ``LOCAL_IMPORT_ALLOWANCES`` unless config.json sets them), then ``SLEEVE_*`` values set in
    ``shell`` (the developer's overrides), then ``overrides``, then the stack-owned values (stage, moto endpoint,
    ``AWS_REGION``) on top.
    """
    env = stage_environment(project_dir, stage)
    if stage == "local":
        for key, value in LOCAL_IMPORT_ALLOWANCES.items():
            env.setdefault(key, value)
    for key, value in (shell or {}).items():
        if key.startswith("SLEEVE_") and key not in _STACK_OWNED:
            env[key] = value
    env.update(overrides or {})
    region = env.setdefault("AWS_DEFAULT_REGION", LOCAL_REGION)
    env.update(
        {
            "SLEEVE_STAGE": stage,
            "SLEEVE_AWS_ENDPOINT_URL": moto_url,
            # botocore's own variable: a client built without endpoint_url still lands on moto, never on AWS.
            "AWS_ENDPOINT_URL": moto_url,
            "AWS_REGION": region,
        }
    )
    return env


def api_environment(env: Mapping[str, str], api_url: str) -> dict[str, str]:
    """The variables that need the local API's address, known only once it listens (``api_url``, e.g.
    ``http://127.0.0.1:8000``): ``SLEEVE_REPLICATE_WEBHOOK_URL`` = ``{api_url}/webhooks/replicate``, so that Replicate
    (locally: the fake Replicate server on loopback) can call the stack back. Empty when ``env`` already names a
    webhook URL or a ``SLEEVE_PUBLIC_BASE_URL`` (the app derives the webhook URL from that one, e.g. a tunnel's).
    """
    if env.get("SLEEVE_REPLICATE_WEBHOOK_URL") or env.get("SLEEVE_PUBLIC_BASE_URL"):
        return {}
    return {"SLEEVE_REPLICATE_WEBHOOK_URL": api_url.rstrip("/") + REPLICATE_WEBHOOK_PATH}


def check_environment(env: Mapping[str, str], resources: ProvisionResult) -> None:
    """Fail fast when config.json names a table, bucket or queue that infra/template.json does not declare.

    Raises :class:`StackError` naming the variable and what the template provisioned.
    """
    problems = []
    if "SLEEVE_TABLE_NAME" in env and env["SLEEVE_TABLE_NAME"] != resources["table_name"]:
        problems.append(
            f"SLEEVE_TABLE_NAME={env['SLEEVE_TABLE_NAME']} but the template's table is {resources['table_name']}"
        )
    if "SLEEVE_BUCKET_NAME" in env and env["SLEEVE_BUCKET_NAME"] != resources["bucket_name"]:
        problems.append(
            f"SLEEVE_BUCKET_NAME={env['SLEEVE_BUCKET_NAME']} but the template's bucket is {resources['bucket_name']}"
        )
    for key, value in env.items():
        if key.startswith("SLEEVE_") and key.endswith("_QUEUE_NAME") and value not in resources["queue_urls"]:
            problems.append(f"{key}={value} is not a queue of the template ({', '.join(resources['queue_urls'])})")
    if problems:
        raise StackError("; ".join(problems))


class EnvironPatch:
    """Sets variables in ``os.environ`` (clearing real AWS profile/session variables) and puts everything back."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)
        self._saved: dict[str, str | None] = {}

    def apply(self) -> None:
        self._saved = {key: os.environ.get(key) for key in (*self._values, *_CLEARED)}
        for key in _CLEARED:
            os.environ.pop(key, None)
        os.environ.update(self._values)
        _reset_app_caches()

    def update(self, values: Mapping[str, str]) -> None:
        """Set more variables after :meth:`apply` (restored with the others) and drop the app's cached settings."""
        for key in values:
            if key not in self._saved:
                self._saved[key] = os.environ.get(key)
        self._values.update(values)
        os.environ.update(values)
        _reset_app_caches()

    def restore(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved = {}
        _reset_app_caches()


def _reset_app_caches() -> None:
    # Settings and clients are built lazily and cached (clients hold the moto endpoint): a process that built them
    # before this stack started, e.g. for an earlier stack on other ports, must build them again.
    try:
        from chalicelib.container import reset_container
    except ImportError:
        from chalicelib.config import reset_settings as reset_container
    reset_container()
