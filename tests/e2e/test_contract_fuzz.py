"""The API against its own OpenAPI document: Schemathesis fuzzes every route of the running local stack.

Examples, coverage, fuzzing and the stateful phase (the document's links from ``POST /releases`` and the other
creations) as owner A, an administrator on administrator-only routes; every response must be no 5xx and exactly what
the document promises (status, content type, headers, body), and owner B's copy of A's requests on A's ids must get
404 and change nothing (``tests/e2e/cross_owner.py``). Bounded: at least :data:`MIN_CASES` cases within the deadline
(``FuzzSettings``); ``make fuzz`` runs the same test longer (README, "Fuzzing").
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import schemathesis

from chalicelib.auth import issue_local_token
from chalicelib.local.process import StackProcess
from tests.e2e import fuzz_harness
from tests.e2e.cross_owner import CrossOwnerProbe, ProbeResult, _without_signatures
from tests.e2e.fuzz_harness import PHASES, FuzzSettings, Tokens, build_config, run_contract_fuzz

#: The fewest generated cases a run must reach (issue 8: "at least 1,000 cases across all routes").
MIN_CASES = 1000


def test_every_route_holds_its_contract_under_fuzzing(
    stack: StackProcess, jwt_secret: str, capsys: pytest.CaptureFixture[str], record_property
) -> None:
    # Given the stack's own document, owner A, owner B and an administrator
    settings = FuzzSettings.from_environment()
    tokens = Tokens(
        owner_a=issue_local_token(subject="fuzz-owner-a", secret=jwt_secret),
        owner_b=issue_local_token(subject="fuzz-owner-b", secret=jwt_secret),
        admin=issue_local_token(subject="fuzz-admin", groups=["admin"], secret=jwt_secret),
    )
    schema = schemathesis.openapi.from_url(
        f"{stack.api_url}/openapi.json", config=build_config(stack.api_url, settings)
    )

    # When Schemathesis runs every phase against it
    report = run_contract_fuzz(schema, stack.api_url, tokens, settings)
    with capsys.disabled():
        print(f"\n{report.summary()}")
    record_property("fuzz_cases", report.total_cases)
    record_property("fuzz_wall_s", round(report.wall_s, 1))

    # Then no check failed, on any operation, within the deadline, over at least MIN_CASES cases of every phase
    assert not report.failures, f"{len(report.failures)} failing case(s):\n\n" + "\n\n".join(report.failures)
    assert not report.errors, "\n".join(report.errors)
    assert not report.stopped_at_deadline, f"stopped after {settings.deadline_s:.0f} s:\n{report.summary()}"
    assert report.total_cases >= MIN_CASES, report.summary()
    assert all(report.cases[phase] > 0 for phase in PHASES), report.summary()
    assert len(report.tested_operations) == report.operations, report.summary()
    assert report.probes > 0, "owner B's copy of A's requests was never sent"


def _case(method: str, label_path: str, path: str, case_id: str) -> SimpleNamespace:
    operation = SimpleNamespace(definition=SimpleNamespace(raw={"x-sleeve-auth": "bearer"}), label=label_path)
    return SimpleNamespace(
        id=case_id, method=method, formatted_path=path, operation=operation, path_parameters={"release_id": "r1"}
    )


@pytest.mark.parametrize(
    ("a_status", "b_status", "changed", "expected"),
    [
        (200, 404, False, None),
        (404, 404, False, None),
        (200, 200, False, "owner B's copy succeeded (200)"),
        (200, 409, False, "owner A got 200 but owner B got 409, not 404"),
        (409, 409, False, None),
        (422, 404, True, "owner A's data changed under owner B's request: /releases/r1"),
    ],
)
def test_the_cross_owner_check_names_each_leak(a_status, b_status, changed, expected) -> None:
    # Given owner B's copy of one of A's requests, with what it got and A's data around it
    probe = CrossOwnerProbe(base_url="http://api", owner_a="a", owner_b="b")
    case = _case("POST", "POST /releases/{release_id}/lock", "/releases/r1/lock", "c1")
    after = {"/releases/r1": (200, {"version": 2 if changed else 1})}
    probe.results["c1"] = ProbeResult(
        "POST", "/releases/r1/lock", b_status, "{}", {"/releases/r1": (200, {"version": 1})}, after
    )
    # When the check sees A's own answer
    verdict = probe.verdict(case, SimpleNamespace(status_code=a_status))
    # Then it passes only where B got nothing and learnt nothing
    if expected is None:
        assert verdict is None
    else:
        assert verdict is not None and expected in verdict


@pytest.mark.parametrize(("owner_type", "probed"), [("release", True), ("track", True), ("scene", False)])
def test_the_probe_skips_client_owner_types_which_each_caller_has_apart(owner_type: str, probed: bool) -> None:
    # Given owner A's request on an owner object whose type and id came from A's own answers
    probe = CrossOwnerProbe(base_url="http://api", owner_a="a", owner_b="b")
    probe.owned.update({owner_type, "o1"})
    operation = SimpleNamespace(
        definition=SimpleNamespace(raw={"x-sleeve-auth": "bearer"}), label="GET /owners/{owner_type}/{owner_id}/media"
    )
    case = SimpleNamespace(
        id="c1",
        method="GET",
        meta=None,
        operation=operation,
        path_parameters={"owner_type": owner_type, "owner_id": "o1"},
    )
    # When the probe decides whether B's copy goes out
    # Then release and track objects (Sleeve's, B must get 404) are probed; a client's own type (each caller's
    # namespace: B's copy reads B's own empty list) is not
    assert probe.wants(case) is probed


def test_a_presigned_urls_expiry_is_no_change_of_owner_as_data() -> None:
    # Given two reads of A's asset a second apart: new signatures and a new url_expires_at, nothing else
    first = {
        "url": "https://s3/k?X-Amz-Signature=1",
        "url_expires_at": "12:00:00",
        "variants": [{"url_expires_at": "1"}],
    }
    second = {
        "url": "https://s3/k?X-Amz-Signature=2",
        "url_expires_at": "12:00:01",
        "variants": [{"url_expires_at": "2"}],
    }
    # When the probe compares them
    # Then they are the same data
    assert _without_signatures(first) == _without_signatures(second)


@pytest.mark.parametrize(("details", "delegated"), [({"release_id": "r9"}, False), ({"asset_id": "a1"}, True)])
def test_a_404_about_an_item_the_path_does_not_name_is_no_lost_creation(
    monkeypatch: pytest.MonkeyPatch, details: dict[str, str], delegated: bool
) -> None:
    # Given a linked call on a just-created asset that answered 404, naming the body's release or the asset itself
    calls: list[object] = []
    monkeypatch.setattr(fuzz_harness, "_ensure_resource_availability", lambda *args: calls.append(args))
    response = SimpleNamespace(status_code=404, json=lambda: {"error": {"code": "x", "details": details}})
    case = SimpleNamespace(path_parameters={"asset_id": "a1"})
    # When the narrowed check looks at it
    fuzz_harness.ensure_resource_availability_of_path(None, response, case)
    # Then only a 404 about the created asset goes on to Schemathesis' own check
    assert bool(calls) is delegated
