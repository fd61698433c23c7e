"""The whole local stack in one process: moto server, provisioning from infra/, environment, API and pump."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from chalice.app import Chalice

from chalicelib.local.devserver import ApiServer, start_api_server
from chalicelib.local.environment import (
    PROJECT_DIR,
    EnvironPatch,
    StackError,
    api_environment,
    build_environment,
    check_environment,
    load_chalice_config,
)
from chalicelib.local.moto_server import MotoServer, start_moto_server
from chalicelib.local.provision import LOCAL_ACCOUNT_ID, ProvisionResult, provision
from chalicelib.local.pump import EventPump

log = logging.getLogger(__name__)

TEMPLATE_PATH = Path("infra") / "template.json"

__all__ = ["PROJECT_DIR", "Stack", "StackError", "load_app", "start_stack"]


def load_app(project_dir: Path) -> Chalice:
    """Import ``project_dir/app.py`` (module ``app``) and return its ``app``, as `chalice local` does.

    Raises :class:`StackError` when it has no Chalice ``app``; import errors propagate unchanged.
    """
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    module = importlib.import_module("app")
    app = getattr(module, "app", None)
    if not isinstance(app, Chalice):
        raise StackError(f"{module.__file__} defines no Chalice `app`")
    return app


class Stack:
    """A running local stack. Use as a context manager, or call :meth:`stop`.

    ``api_url`` / ``moto_url``: base URLs on loopback. ``resources``: what :func:`provision` created (table, bucket,
    queue URLs). ``environment``: the variables set in ``os.environ`` for the app while the stack runs (restored by
    :meth:`stop`). ``app``: the Chalice app served. ``pump``: the SQS/schedule pump (``pump.trigger_schedule(name)``
    runs a schedule now).
    """

    def __init__(
        self,
        *,
        moto: MotoServer,
        api: ApiServer,
        pump: EventPump,
        resources: ProvisionResult,
        environment: dict[str, str],
        app: Chalice,
        environ_patch: EnvironPatch,
    ) -> None:
        self.moto = moto
        self.api = api
        self.pump = pump
        self.resources = resources
        self.environment = environment
        self.app = app
        self._environ_patch = environ_patch
        self._stopped = False

    @property
    def api_url(self) -> str:
        """e.g. ``http://127.0.0.1:8000``"""
        return self.api.url

    @property
    def moto_url(self) -> str:
        """e.g. ``http://127.0.0.1:5000`` (the endpoint for boto3 clients)"""
        return self.moto.url

    @property
    def bucket_name(self) -> str:
        """The media bucket provisioned from the template."""
        return str(self.resources["bucket_name"])

    def boto3_client(self, service: str) -> Any:
        """A boto3 client on this stack's moto with the stage's dummy credentials."""
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name=self.environment["AWS_DEFAULT_REGION"],
            aws_access_key_id=self.environment.get("AWS_ACCESS_KEY_ID", "testing"),
            aws_secret_access_key=self.environment.get("AWS_SECRET_ACCESS_KEY", "testing"),
        )

    def stop(self) -> None:
        """Stop the API (no new requests), then the pump (running handlers finish), then moto; restore the
        environment. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self.api.stop()
            self.pump.stop()
            self.moto.stop()
        finally:
            self._environ_patch.restore()
        log.info("stack stopped")

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_stack(
    *,
    api_port: int = 0,
    moto_port: int = 0,
    host: str = "127.0.0.1",
    project_dir: str | Path | None = None,
    stage: str = "local",
    app: Chalice | None = None,
    environment: Mapping[str, str] | None = None,
    inherit_shell: bool = True,
    retry_delay_s: int = 1,
    schedule_time_scale: float = 1.0,
) -> Stack:
    """Start moto on ``host:moto_port``, provision infra/template.json, set the app's environment, serve the API on
    ``host:api_port`` and start the pump; return the running :class:`Stack` (a context manager).

    Ports: 0 picks a free port (read the real ones from ``stack.api_url`` / ``stack.moto_url``), which is what tests
    and parallel pytest-xdist workers should use. ``app``: a Chalice app to serve instead of ``project_dir/app.py``
    (imported after the environment is set). ``environment``: extra variables, applied after config.json and the
    shell. ``inherit_shell``: whether ``SLEEVE_*`` variables of ``os.environ`` override config.json.
    ``retry_delay_s`` / ``schedule_time_scale``: see :class:`~chalicelib.local.pump.EventPump`.

    The process environment is changed while the stack runs (the app reads it), so run one stack per process.
    Raises ``OSError`` when a port is taken, :class:`StackError` when config.json and the template disagree; whatever
    started before the failure is stopped again.
    """
    root = Path(project_dir).resolve() if project_dir is not None else PROJECT_DIR
    started: list[Any] = []
    patch: EnvironPatch | None = None
    try:
        moto = start_moto_server(host, moto_port)
        started.append(moto)
        env = build_environment(
            root, stage, moto.url, shell=os.environ if inherit_shell else None, overrides=environment
        )
        # Before any boto3 session exists: botocore reads AWS_PROFILE & co. when a session is created.
        patch = EnvironPatch(env)
        patch.apply()
        region = env["AWS_DEFAULT_REGION"]
        session = boto3.Session(
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID", "testing"),
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY", "testing"),
            region_name=region,
        )
        # The template's names carry the stage (sleeve-local-…), as .chalice/config.json's do.
        resources = provision(
            root / TEMPLATE_PATH,
            session,
            account_id=LOCAL_ACCOUNT_ID,
            region=region,
            endpoint_url=moto.url,
            parameters={"Stage": env["SLEEVE_STAGE"]},
        )
        check_environment(env, resources)
        chalice_app = app if app is not None else load_app(root)
        config = load_chalice_config(root, stage, chalice_app)

        api = start_api_server(chalice_app, config, host, api_port)
        started.append(api)
        # The API's port is known now (0 = a free one): point Replicate's webhooks at it.
        late = api_environment(env, api.url)
        env.update(late)
        patch.update(late)
        pump = EventPump(
            chalice_app,
            session.client("sqs", endpoint_url=moto.url),
            region=region,
            account_id=LOCAL_ACCOUNT_ID,
            config=config,
            retry_delay_s=retry_delay_s,
            schedule_time_scale=schedule_time_scale,
        )
        pump.start()
        started.append(pump)
    except BaseException:
        for part in reversed(started):
            part.stop()
        if patch is not None:
            patch.restore()
        raise
    return Stack(
        moto=moto,
        api=api,
        pump=pump,
        resources=resources,
        environment=env,
        app=chalice_app,
        environ_patch=patch,
    )
