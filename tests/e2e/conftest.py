"""End-to-end fixtures: one local stack per test session (per pytest-xdist worker), on free loopback ports.

The stack runs in a child process (``python -m chalicelib.local``): it sets ``os.environ`` and moto keeps global state,
so it must not share a process with the ``moto.mock_aws`` tests that the same worker may also run. Its DSP settings
point at a fake DSP served on loopback from this process (``fake_dsp``), so no e2e test ever reaches Spotify, Apple
Music or MusicBrainz. The session's stack has no Replicate token, so its enhancement jobs run on the local Real-ESRGAN
(or Lanczos), as under ``make run``; a stack that should use Replicate takes ``fake_replicate.settings_env()``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
import httpx
import pytest

from chalicelib.config import Settings, stage_resource_name
from chalicelib.local.environment import stage_environment
from chalicelib.local.fake_dsp import FakeCatalogue, FakeDsp, FakeDspServer
from chalicelib.local.fake_replicate import FakeReplicate, FakeReplicateServer
from chalicelib.local.process import StackProcess, spawn_stack
from chalicelib.providers.local_upscaler import LocalRealEsrgan
from tests.conftest import REPO_ROOT

#: The fake DSP's sample catalogue (the README's DSP walkthrough syncs one of its albums).
SAMPLE_CATALOGUE = REPO_ROOT / "chalicelib" / "local" / "fake_dsp" / "sample_catalogue.json"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # Remember each phase's report on the item so fixtures can tell whether the test failed.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@dataclass
class FakeDspService:
    """A fake DSP served on loopback from the test process: ``fake`` (add albums, inject faults, read its request
    log) and ``url`` (``http://127.0.0.1:PORT``)."""

    fake: FakeDsp
    url: str

    def settings_env(self) -> dict[str, str]:
        """The ``SLEEVE_*`` settings that point a stack's providers at this fake (credentials included)."""
        return self.fake.settings_env(self.url)


@dataclass
class FakeReplicateService:
    """A fake Replicate served on loopback from the test process: ``fake`` (faults, progress, its request, prediction
    and webhook logs) and ``url`` (``http://127.0.0.1:PORT``; the API root is ``{url}/v1``)."""

    fake: FakeReplicate
    url: str

    def settings_env(self) -> dict[str, str]:
        """The ``SLEEVE_REPLICATE_*`` settings that point a stack's Replicate provider at this fake (its token, its
        webhook secret, http outputs allowed)."""
        return self.fake.settings_env(self.url)


def stack_environment(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without the developer's own ``SLEEVE_*``/``AWS_*`` variables, plus ``extra``: the
    tests sign tokens with the secret of .chalice/config.json and talk to moto with its dummy keys."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLEEVE_", "AWS_"))}
    # URL imports (and the fuzz run's random URLs) never resolve a public name: only the tests' loopback servers.
    return env | {"SLEEVE_IMPORT_ALLOWED_HOSTS": "127.0.0.1,localhost"} | extra


@pytest.fixture(scope="session")
def fake_dsp() -> Iterator[FakeDspService]:
    """The session's fake DSP (Spotify, Apple Music, MusicBrainz in their documented formats) with the sample
    catalogue loaded. A test that needs its own albums adds them (``fake_dsp.fake.add_album``) with UPCs no other test
    uses."""
    fake = FakeDsp(FakeCatalogue.model_validate_json(SAMPLE_CATALOGUE.read_bytes()))
    with FakeDspServer(fake) as server:
        yield FakeDspService(fake=fake, url=server.url)


@pytest.fixture(scope="session")
def fake_replicate() -> Iterator[FakeReplicateService]:
    """The session's fake Replicate (predictions API, output files, signed webhooks from a background thread).
    Predictions advance by time only (one step per 0.3 s: ``starting`` → ``processing`` → done in about 0.6 s), not
    by GETs, so a test's own reads do not change them; a test that sets faults resets them when it is done."""
    fake = FakeReplicate(gets_per_step=None, seconds_per_step=0.3)
    with FakeReplicateServer(fake) as server:
        yield FakeReplicateService(fake=fake, url=server.url)


@pytest.fixture(scope="session")
def stack(fake_dsp: FakeDspService) -> Iterator[StackProcess]:
    """``python -m chalicelib.local`` on free ports, started once per session and stopped with SIGTERM at the end; its
    DSP providers talk to ``fake_dsp``."""
    process = spawn_stack(env=stack_environment(fake_dsp.settings_env()), retry_delay_s=1)
    try:
        yield process
    finally:
        code = process.stop()
        assert code == 0, f"the stack did not stop cleanly (exit {code}):\n{process.log_tail()}"
        # spawn_stack's own temporary folder (ready file and log): kept only when something went wrong.
        shutil.rmtree(process.log_path.parent, ignore_errors=True)


@pytest.fixture(autouse=True)
def stack_log_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print what the stack logged during a failed e2e test (its worker tracebacks live in the child's log)."""
    if "stack" not in request.fixturenames:
        yield
        return
    process: StackProcess = request.getfixturevalue("stack")
    start = process.log_path.stat().st_size
    yield
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        with open(process.log_path, encoding="utf-8", errors="replace") as handle:
            handle.seek(start)
            print(f"--- local stack log during the test ({process.log_path}) ---\n{handle.read()[-8000:]}")


@pytest.fixture(scope="session")
def jwt_secret() -> str:
    """The local stage's token secret, read from .chalice/config.json like the stack does."""
    return stage_environment(REPO_ROOT, "local")["SLEEVE_JWT_SECRET"]


@dataclass
class Api:
    """An httpx client on the stack's API that signs requests as a given subject."""

    http: httpx.Client
    secret: str

    def headers(self, subject: str = "alice", groups: tuple[str, ...] = ()) -> dict[str, str]:
        """``Authorization: Bearer`` for ``subject`` (a token from ``chalicelib.auth.issue_local_token``)."""
        from chalicelib.auth import issue_local_token

        return {
            "Authorization": f"Bearer {issue_local_token(subject=subject, groups=list(groups), secret=self.secret)}"
        }

    def get(self, path: str, *, subject: str | None = "alice", **kwargs: Any) -> httpx.Response:
        """GET ``path``; ``subject=None`` sends no token."""
        return self.http.get(path, headers=self.headers(subject) if subject else {}, **kwargs)

    def post(self, path: str, body: Any, *, subject: str | None = "alice") -> httpx.Response:
        """POST ``body`` as JSON; ``subject=None`` sends no token."""
        return self.http.post(path, json=body, headers=self.headers(subject) if subject else {})


@pytest.fixture(scope="session")
def api(stack: StackProcess, jwt_secret: str) -> Iterator[Api]:
    """The API client of the session's stack."""
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        yield Api(http=http, secret=jwt_secret)


@dataclass
class Aws:
    """boto3 clients on the stack's moto server, as an operator with the AWS CLI would see it."""

    s3: Any
    sqs: Any
    bucket: str
    ingest_queue_url: str
    dead_letter_queue_url: str

    def queue_is_drained(self, queue_url: str) -> bool:
        """No message waiting, in flight or delayed on the queue."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return all(int(value) == 0 for value in attributes.values())


@pytest.fixture(scope="session")
def aws(stack: StackProcess) -> Aws:
    """boto3 clients on the stack's moto (dummy credentials, us-east-1)."""
    options: dict[str, Any] = {
        "endpoint_url": stack.moto_url,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return Aws(
        s3=boto3.client("s3", **options),
        sqs=boto3.client("sqs", **options),
        bucket=stack.bucket_name,
        ingest_queue_url=stack.queue_urls[stage_resource_name("local", "ingest")],
        dead_letter_queue_url=stack.queue_urls[stage_resource_name("local", "ingest-dlq")],
    )


@dataclass(frozen=True)
class Expected:
    """What the session's stack runs an automatic job with, and how the artwork records it."""

    provider: str
    model_label: str
    ai: bool
    why: str


@cache
def expected_local() -> Expected:
    """The local Real-ESRGAN when its worker can run on this interpreter (the stack's), else Lanczos: the same check
    ``choose_provider`` makes in the stack (``unavailable_reason()``; a subprocess, never the GPU)."""
    reason = LocalRealEsrgan(Settings.model_construct()).unavailable_reason()
    if reason is None:
        return Expected("local", "real-esrgan-x4plus+lanczos", True, "the local Real-ESRGAN works here")
    return Expected("lanczos", "lanczos", False, f"the local Real-ESRGAN is off ({reason})")


def wait_for[T](
    probe: Callable[[], T | None], *, timeout_s: float = 30.0, interval_s: float = 0.2, what: str = ""
) -> T:
    """Call ``probe`` until it returns something truthy and return that; ``AssertionError`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what or probe}; last value: {last!r}")
