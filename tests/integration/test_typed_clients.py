"""The typed Python client an app developer generates from docs/openapi.json works against the app.

openapi-python-client (pinned in requirements-dev.txt, the command the README's "Typed clients" gives) generates the
client into a temporary folder, refusing any warning about the document; the generated client then drives the app
in-process: its httpx transport hands each request to ``chalice.test.Client`` (so the contract check of
tests/conftest.py sees every answer too). mypy --strict checks the README's example and that an answer's enum types
as the one the next request takes (finding F1 of the notes' clients-findings.md).
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from chalice.test import Client

from chalicelib.auth import issue_local_token
from tests.conftest import REPO_ROOT
from tests.integration.conftest import SECRET

DOCUMENT = REPO_ROOT / "docs" / "openapi.json"
PACKAGE = "sleeve_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
BASE_URL = "http://sleeve.test"

# F1 (clients-findings.md): an enum from one answer types as the same enum in the next request. Before the enums were
# named components, each place had its own class (EditableFieldsTransitionsItem is not TransitionRequestTo).
FEEDS_THE_NEXT_REQUEST = """
from sleeve_client import AuthenticatedClient
from sleeve_client.api.lifecycle import transition_release
from sleeve_client.api.releases import editable_fields
from sleeve_client.models import EditableFields, TransitionRequest


def advance(client: AuthenticatedClient, release_id: str) -> None:
    fields = editable_fields.sync(release_id, client=client)
    assert isinstance(fields, EditableFields)
    transition_release.sync(release_id, client=client, body=TransitionRequest(to=fields.transitions[0]))
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding the package ``sleeve_client`` generated from docs/openapi.json (fails on any warning)."""
    assert GENERATOR.exists(), f"{GENERATOR} is missing: openapi-python-client is pinned in requirements-dev.txt"
    folder = tmp_path_factory.mktemp("typed-client")
    # No post-hooks: they only run ruff to format the output (and warn when ruff is not on PATH).
    config = folder / "config.yml"
    config.write_text("post_hooks: []\n")
    command = [str(GENERATOR), "generate", "--path", str(DOCUMENT), "--meta", "none", "--fail-on-warning"]
    command += ["--output-path", str(folder / PACKAGE), "--config", str(config)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"openapi-python-client refused the document:\n{result.stdout}{result.stderr}"
    return folder


@pytest.fixture
def sleeve_client(generated: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The generated package, importable for one test."""
    monkeypatch.syspath_prepend(str(generated))
    yield importlib.import_module(PACKAGE)
    for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


def operation(tag: str, name: str) -> Any:
    """The generated module of one operation, ``sleeve_client.api.<tag>.<operationId>``."""
    return importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")


def through_the_app(client: Client) -> httpx.MockTransport:
    """An httpx transport that answers each request with the app, through ``chalice.test.Client``."""

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode("ascii")
        reply = client.http.request(request.method, path, headers=dict(request.headers), body=request.content)
        return httpx.Response(reply.status_code, headers=reply.headers, content=reply.body)

    return httpx.MockTransport(answer)


def api(sleeve_client: ModuleType, client: Client, subject: str = "alice") -> Any:
    """The generated ``AuthenticatedClient`` for ``subject``, answered by the app."""
    token = issue_local_token(subject=subject, groups=(), secret=SECRET)
    return sleeve_client.AuthenticatedClient(
        base_url=BASE_URL,
        token=token,
        raise_on_unexpected_status=True,
        httpx_args={"transport": through_the_app(client)},
    )


def readme_usage() -> str:
    """The Python example of the README's "Typed clients" section, with a ``token`` to run on."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme[readme.index("### Typed clients") :]
    example = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert example is not None, "the README's Typed clients section has no Python example"
    return 'token = "a bearer token"\n' + example.group(1)


def mypy_errors(generated: Path, source: str, name: str) -> str:
    """mypy --strict's output on ``source`` (a module beside the generated package); empty when it type-checks."""
    module = generated / f"{name}.py"
    module.write_text(source)
    command = [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--config-file", os.devnull]
    command += ["--cache-dir", str(generated / ".mypy_cache"), str(module)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=generated, timeout=180, check=False)
    return "" if result.returncode == 0 else result.stdout + result.stderr


def test_a_generated_client_creates_a_release_adds_a_track_and_reads_it_back(
    sleeve_client: ModuleType, client: Client
) -> None:
    # Given the client generated from the document, answered by the app
    create_release, get_release = operation("releases", "create_release"), operation("releases", "get_release")
    add_track, get_track = operation("tracks", "add_track"), operation("tracks", "get_track")
    list_tracks = operation("tracks", "list_tracks")
    models = importlib.import_module(f"{PACKAGE}.models")
    with api(sleeve_client, client) as alice:
        # When it creates a release and adds a track with an ISRC in its display form
        body = models.CreateReleaseRequest(title="Blue", display_artist="Ana")
        created = create_release.sync_detailed(client=alice, body=body)
        release = created.parsed
        added = add_track.sync(
            release.id, client=alice, body=models.CreateTrackRequest(title="One", isrc="US-RC1-76-07839")
        )
        # Then the answers parse into the documented models, headers included
        assert created.status_code == 201
        assert isinstance(release, models.ReleaseView)
        assert created.headers["ETag"] == '"1"'
        assert created.headers["Location"] == f"/releases/{release.id}"
        assert isinstance(added, models.Track)
        # And reading back answers the track, normalised, and the release counts it
        read = get_track.sync(release.id, added.id, client=alice)
        listed = list_tracks.sync(release.id, client=alice)
        again = get_release.sync(release.id, client=alice)
        assert isinstance(read, models.Track)
        assert (read.title, read.isrc) == ("One", "USRC17607839")
        assert [track.id for track in listed.items] == [added.id]
        assert isinstance(again, models.ReleaseView)
        assert (again.track_count, again.release_type.value) == (1, "single")


def test_a_generated_client_parses_errors_and_moves_a_release_along_its_lifecycle(
    sleeve_client: ModuleType, client: Client
) -> None:
    # Given a release alice created with the generated client
    create_release, get_release = operation("releases", "create_release"), operation("releases", "get_release")
    editable_fields, update_release = operation("releases", "editable_fields"), operation("releases", "update_release")
    transition_release, health = operation("lifecycle", "transition_release"), operation("meta", "health")
    models = importlib.import_module(f"{PACKAGE}.models")
    with api(sleeve_client, client) as alice, api(sleeve_client, client, subject="bob") as bob:
        release = create_release.sync(
            client=alice, body=models.CreateReleaseRequest(title="Blue", display_artist="Ana")
        )
        # When bob reads it, and alice moves it to the first transition its editable fields offer
        foreign = get_release.sync_detailed(release.id, client=bob)
        fields = editable_fields.sync(release.id, client=alice)
        moved = transition_release.sync(
            release.id, client=alice, body=models.TransitionRequest(to=fields.transitions[0])
        )
        stale = update_release.sync_detailed(
            release.id, client=alice, body=models.UpdateReleaseRequest(title="Red"), if_match='"1"'
        )
        # Then another owner's release is a 404 in the error model, with its code
        assert foreign.status_code == 404
        assert isinstance(foreign.parsed, models.ErrorBody)
        assert foreign.parsed.error.code == "release_not_found"
        # And the answer's enum is accepted by the next request, which the app applies
        assert isinstance(moved, models.ReleaseView)
        assert moved.production_status.value == fields.transitions[0].value
        # And a stale If-Match answers 412 version_mismatch
        assert stale.status_code == 412
        assert stale.parsed.error.code == "version_mismatch"
    # And a public route takes the unauthenticated client
    with sleeve_client.Client(base_url=BASE_URL, httpx_args={"transport": through_the_app(client)}) as anyone:
        assert health.sync(client=anyone).status == "ok"


def test_the_readme_usage_type_checks_against_the_generated_client(generated: Path) -> None:
    # Given the generated package
    # When mypy --strict checks the README's example against it
    errors = mypy_errors(generated, readme_usage(), "readme_usage")
    # Then it type-checks
    assert errors == ""


def test_an_answer_feeds_the_next_request_with_the_same_enum_type(generated: Path) -> None:
    # Given the generated package
    # When mypy --strict checks code that sends an answer's enum value in the next request
    errors = mypy_errors(generated, FEEDS_THE_NEXT_REQUEST, "feeds_the_next_request")
    # Then it type-checks
    assert errors == ""
