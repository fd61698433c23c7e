"""The README's five walkthroughs, replayed against the local stack; editing one without keeping it true fails here.

Catalogue: each ``api``/``admin`` line of its shell block becomes the same HTTP request here (no curl or jq needed):
the line must answer 2xx, or the status its ``# → NNN`` comment announces; ``VAR=$(… | jq -r .field)`` captures a value
for later lines, and a simple ``jq .a.b`` filter must find its path in the answer.

Artwork and DSP sync: each block is fed whole to ``bash`` on stdin, as if pasted into a terminal at the checkout root,
with ``API`` and ``TOKEN`` pointing at the test stack; they need curl and jq, and are skipped with a message when either
is missing. The DSP sync's stack talks to the session's fake DSP, which holds the sample catalogue the README's
``make fake-dsp`` serves; what the block prints must be the README's sample output (today's date for the local one).
The AI upscaling block's automatic job runs on the local Real-ESRGAN, as under ``make run``; its printed lines must be
the README's sample output, with Lanczos's names in place of the model's where the laptop extra does not load here.
The media library's block runs as a fresh owner (its generated name starts at 001) and prints the README's output.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from chalicelib.local.process import StackProcess
from tests.conftest import REPO_ROOT
from tests.e2e.conftest import Api, FakeDspService, expected_local, wait_for

HEADING = "## Walkthrough: a release from draft to locked"
ARTWORK_HEADING = "## Walkthrough: artwork"
DSP_HEADING = "## Walkthrough: DSP sync"
UPSCALING_HEADING = "## Walkthrough: AI upscaling"
MEDIA_HEADING = "## Walkthrough: the media library"
README = REPO_ROOT / "README.md"
#: The date the README's sample output of the DSP walkthrough shows for the local release (release-now's "today").
DSP_SAMPLE_DAY = "2026-11-26"
_ASSIGNMENT = re.compile(r"^(\w+)=\$\((.*)\)$")
_COMMENT = re.compile(r"\s{2,}#\s*(.*)$")
_EXPECTED = re.compile(r"→\s*(\d{3})\b\s*(\w+)?")
_TOKEN = re.compile(r"make -s token USER=(\w+)(?: GROUPS=([\w,]+))?")
_DAYS = re.compile(r"date -u -d '\+(\d+) days' \+%F")
_SIMPLE_PATH = re.compile(r"^\.[A-Za-z_][\w.]*$")


@dataclass
class Step:
    """One request of the walkthrough."""

    line: str
    caller: str
    method: str
    path: str
    body: str | None
    capture: str | None
    jq_path: str | None
    expected_status: int | None
    expected_code: str | None


def readme_block(heading: str, language: str = "sh", after: str = "") -> str:
    """The text of the first ``language`` block after ``heading`` (a whole ``## …`` line) in README.md, or after the
    first line of that section that starts with ``after``."""
    text = README.read_text(encoding="utf-8")
    if heading + "\n" not in text:
        pytest.fail(f"README.md has no {heading!r} section")
    section = text.split(heading + "\n", 1)[1]
    if after:
        section = section.split("\n" + after, 1)[1]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def walkthrough_block() -> list[str]:
    """The lines of the catalogue walkthrough's shell block."""
    return readme_block(HEADING).splitlines()


def parse(lines: list[str]) -> tuple[dict[str, tuple[str, tuple[str, ...]]], int, list[Step]]:
    """The token variables (name → subject, groups), the days ahead of ``DATE``, and the request steps."""
    tokens: dict[str, tuple[str, tuple[str, ...]]] = {}
    days = 0
    steps: list[Step] = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith(("api()", "admin()", "API=")):
            continue
        comment_match = _COMMENT.search(line)
        comment = comment_match.group(1) if comment_match else ""
        command = line[: comment_match.start()] if comment_match else line
        assignment = _ASSIGNMENT.match(command)
        capture = None
        if assignment:
            capture, command = assignment.group(1), assignment.group(2)
            token = _TOKEN.fullmatch(command)
            if token:
                tokens[capture] = (token.group(1), tuple((token.group(2) or "").split(",")) if token.group(2) else ())
                continue
            ahead = _DAYS.fullmatch(command)
            if ahead:
                days = int(ahead.group(1))
                continue
        request, _, jq = command.partition(" | ")
        words = shlex.split(request)
        assert words[0] in ("api", "admin"), f"the test does not understand this line: {raw}"
        filter_words = shlex.split(jq)[1:] if jq else []
        filters = [w for w in filter_words if not w.startswith("-")]
        expected = _EXPECTED.search(comment)
        steps.append(
            Step(
                line=raw,
                caller=words[0],
                method=words[1],
                path=words[2],
                body=words[3] if len(words) > 3 else None,
                capture=capture,
                jq_path=filters[0] if filters and _SIMPLE_PATH.match(filters[0]) else None,
                expected_status=int(expected.group(1)) if expected else None,
                expected_code=expected.group(2) if expected else None,
            )
        )
    return tokens, days, steps


def substitute(text: str, variables: dict[str, str]) -> str:
    """``$NAME`` replaced by its value."""
    return re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], text)


def dig(document: Any, path: str) -> Any:
    """The value at a jq path such as ``.error.code``; ``KeyError`` if missing."""
    value = document
    for part in path.strip(".").split("."):
        value = value[part]
    return value


def test_the_readme_walkthrough_runs_as_written(api: Api) -> None:
    tokens, days, steps = parse(walkthrough_block())
    assert {"TOKEN", "ADMIN"} <= set(tokens)
    assert len(steps) >= 20
    variables = {"DATE": (datetime.now(UTC).date() + timedelta(days=days)).isoformat()}
    callers = {"api": tokens["TOKEN"], "admin": tokens["ADMIN"]}
    for step in steps:
        subject, groups = callers[step.caller]
        body = substitute(step.body, variables).encode() if step.body else None
        response = api.http.request(
            step.method,
            substitute(step.path, variables),
            content=body,
            headers={**api.headers(subject, groups), "Content-Type": "application/json"},
        )
        if step.expected_status:
            assert response.status_code == step.expected_status, f"{step.line}\n{response.text}"
            if step.expected_code:
                assert response.json()["error"]["code"] == step.expected_code, step.line
        else:
            assert 200 <= response.status_code < 300, f"{step.line}\n{response.status_code} {response.text}"
        if step.jq_path:
            value = dig(response.json(), step.jq_path)
            if step.capture:
                variables[step.capture] = str(value)

    # Then the release ends locked again: the administrator unlocked it to partial_lock, the owner fixed the P-line
    # (the title stayed frozen) and locked it, and the history tells the whole story, newest first.
    release = api.get(f"/releases/{variables['RELEASE']}").json()
    assert (release["production_status"], release["lock_status"]) == ("locked", "locked")
    assert release["genre"] == "Electronic" and release["title"] == "Homogenic"
    assert release["p_line"] == "℗ 1997 One Little Indian Records"
    history = api.get(f"/releases/{variables['RELEASE']}/history").json()["items"]
    assert [(e["from_status"], e["to_status"]) for e in reversed(history)] == [
        (None, "draft"),
        ("draft", "recording"),
        ("recording", "mixed"),
        ("mixed", "mastered"),
        ("mastered", "scheduled"),
        ("scheduled", "released"),
        ("released", "locked"),
        ("locked", "released"),
        ("released", "locked"),
    ]
    assert [(e["changed_by"], e["reason"]) for e in history[:2]] == [
        ("alice", "P-line fixed"),
        ("carol", "fix the P-line"),
    ]

    # And releasing it asked for a DSP sync, which the sync worker ran against the fake DSP: no service lists
    # Homogenic's UPC, so it ended failed with not_found and changed nothing else (as the README says).
    def settled() -> dict[str, Any] | None:
        status: dict[str, Any] = api.get(f"/releases/{variables['RELEASE']}/sync/status").json()
        return status if status["state"] not in ("never", "queued", "running") else None

    status = wait_for(settled, timeout_s=60, what="the release's DSP sync")
    assert (status["state"], status["error"]["code"]) == ("failed", "not_found"), status
    assert {(s["service"], s["status"]) for s in status["services"]} == {
        ("spotify", "not_found"),
        ("apple_music", "not_found"),
        ("musicbrainz", "not_found"),
    }


@pytest.fixture
def curl_and_jq() -> None:
    """Skip, saying what to install, unless bash, curl and jq are on the PATH (the artwork walkthrough uses them)."""
    missing = [tool for tool in ("bash", "curl", "jq") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the README's artwork walkthrough needs {' and '.join(missing)} on the PATH (apt-get install jq)")


def test_the_readme_artwork_walkthrough_runs_as_one_pasted_block(
    api: Api, stack: StackProcess, shared_images: Path, curl_and_jq: None, tmp_path: Path
) -> None:
    # Given the README's artwork block, pasted whole into bash at the checkout root (stdin: a command in it that read
    # stdin would eat the lines after it), with the API and alice's token of the test stack, and temporary files here.
    block = readme_block(ARTWORK_HEADING)
    assert "../shared/images/" in block and "API=${API:-http://127.0.0.1:8000}" in block
    token = api.headers("alice")["Authorization"].removeprefix("Bearer ")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLEEVE_", "AWS_"))}
    env |= {"API": stack.api_url, "TOKEN": token, "TMPDIR": str(tmp_path)}

    # When it runs
    result = subprocess.run(
        ["bash"], input=block, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )

    # Then it ends well, S3 accepted the form with 204, the poll saw the artwork ready with its four sizes, and the
    # share link's download is the large size as a 1400×1400 PNG named after the release.
    output = f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, output
    lines = result.stdout.splitlines()
    assert "upload: S3 answered 204" in lines, output
    assert "artwork: ready" in lines, output
    variants = json.loads(lines[lines.index("artwork: ready") + 1])
    assert variants["large"].startswith("1400×1400 webp") and set(variants) == {"tiny", "small", "medium", "large"}
    download = [line for line in lines if line.startswith("download: ")]
    assert download and download[0].startswith("download: 200 image/png, "), output
    [saved] = tmp_path.glob("*/*.png")
    assert saved.name == "Bjork - Homogenic (large).png"
    assert f"saved: {saved}" in lines, output
    assert download[0] == f"download: 200 image/png, {saved.stat().st_size} bytes"
    with Image.open(saved) as image:
        assert (image.format, image.size) == ("PNG", (1400, 1400))


def test_the_readme_dsp_sync_walkthrough_runs_as_one_pasted_block(
    api: Api, stack: StackProcess, fake_dsp: FakeDspService, curl_and_jq: None
) -> None:
    # Given the README's DSP sync block, pasted whole into bash at the checkout root with the API and alice's token of
    # the test stack, whose DSP settings point at the session's fake holding the sample catalogue
    block = readme_block(DSP_HEADING)
    expected = readme_block(DSP_HEADING, language="", after="It prints")
    assert "API=${API:-http://127.0.0.1:8000}" in block and "/sync/status" in block
    assert fake_dsp.fake.albums_by_upc("spotify", "506008412345"), "the sample catalogue's Glass Orchard is served"
    token = api.headers("alice")["Authorization"].removeprefix("Bearer ")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLEEVE_", "AWS_"))}
    env |= {"API": stack.api_url, "TOKEN": token}

    # When it runs
    result = subprocess.run(
        ["bash"], input=block, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )

    # Then it ends well and prints exactly the README's sample output: refused before release, the sync settled with
    # conflicts, each service synced, the three conflicts, decisions applied by the last one, locked by the sync
    output = f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, output
    today = datetime.now(UTC).date().isoformat()
    assert result.stdout.splitlines() == expected.replace(DSP_SAMPLE_DAY, today).splitlines(), output


def test_the_readme_ai_upscaling_walkthrough_runs_as_one_pasted_block(
    api: Api, stack: StackProcess, shared_images: Path, curl_and_jq: None
) -> None:
    # Given the README's AI upscaling block, pasted whole into bash at the checkout root with the API and alice's
    # token of the test stack (no Replicate token: the automatic job runs on the local Real-ESRGAN, else Lanczos)
    block = readme_block(UPSCALING_HEADING)
    expected = readme_block(UPSCALING_HEADING, language="", after="It prints")
    assert "../shared/images/lowres-128.jpg" in block and "API=${API:-http://127.0.0.1:8000}" in block
    upscaler = expected_local()
    if upscaler.provider == "lanczos":
        # The README shows the local model's run; without it the job and the view name Lanczos, not AI.
        expected = (
            expected.replace('"provider":"local","model":"realesrgan-x4plus"', '"provider":"lanczos","model":"lanczos"')
            .replace('"is_ai_enhanced":true', '"is_ai_enhanced":false')
            .replace("real-esrgan-x4plus+lanczos", "lanczos")
        )
    token = api.headers("alice")["Authorization"].removeprefix("Bearer ")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLEEVE_", "AWS_"))}
    env |= {"API": stack.api_url, "TOKEN": token}

    # When it runs
    result = subprocess.run(
        ["bash"], input=block, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )

    # Then it ends well and prints exactly the README's sample output: the default preferences, the upload, the
    # automatic job succeeded, the enhanced version served up to large, the original kept, then served again when
    # the owner prefers it, and the defaults back
    output = f"{upscaler.why}\nexit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, output
    assert result.stdout.splitlines() == expected.splitlines(), output


def test_the_readme_media_library_walkthrough_runs_as_one_pasted_block(
    api: Api, stack: StackProcess, curl_and_jq: None
) -> None:
    # Given the README's media-library block, pasted whole into bash at the checkout root, with the API of the test
    # stack and the token of an owner no other test uses (so the generated name is the owner's first: .001)
    block = readme_block(MEDIA_HEADING)
    expected = readme_block(MEDIA_HEADING, language="", after="It prints")
    assert "../shared/images/portrait-450x600.jpg" in block and "API=${API:-http://127.0.0.1:8000}" in block
    token = api.headers("readme-media-walker")["Authorization"].removeprefix("Bearer ")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLEEVE_", "AWS_"))}
    env |= {"API": stack.api_url, "TOKEN": token}

    # When it runs
    result = subprocess.run(
        ["bash"], input=block, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240, check=False
    )

    # Then it ends well and prints exactly the README's output: the upload ready with its generated name and the
    # creator's words, found by an accent-less prefix search and by tag, attached to a scene, and a generated cover
    # that joined the library saying what made it
    output = f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, output
    assert result.stdout.splitlines() == expected.splitlines(), output
