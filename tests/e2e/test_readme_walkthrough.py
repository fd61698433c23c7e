"""The README's catalogue walkthrough, replayed line by line against the local stack.

Each ``api``/``admin`` line of the README's shell block becomes the same HTTP request here (no curl or jq needed): the
line must answer 2xx, or the status its ``# → NNN`` comment announces; ``VAR=$(… | jq -r .field)`` captures a value
for later lines, and a simple ``jq .a.b`` filter must find its path in the answer. Editing the walkthrough without
keeping it true fails this test.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import REPO_ROOT

HEADING = "## Walkthrough: a release from draft to locked"
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


def walkthrough_block() -> list[str]:
    """The lines of the first ``sh`` block under the walkthrough heading."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(HEADING, 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return block.splitlines()


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


def test_the_readme_walkthrough_runs_as_written(api, aws):
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

    # Then the release ends released, unlocked by the administrator, with its whole story in the history.
    release = api.get(f"/releases/{variables['RELEASE']}").json()
    assert (release["production_status"], release["lock_status"]) == ("released", "unlocked")
    assert release["genre"] == "Electronic" and release["title"] == "Homogenic"
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
    ]
    assert history[0]["changed_by"] == "carol"
    # And releasing it asked for a DSP sync on the sync queue.
    queue_url = aws.sqs.get_queue_url(QueueName="sleeve-dsp-sync")["QueueUrl"]
    messages = aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    requests = [json.loads(m["Body"]) for m in messages]
    assert any(r["release_id"] == variables["RELEASE"] and r["reason"] == "released" for r in requests)
