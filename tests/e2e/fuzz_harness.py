"""Schemathesis' engine (what ``st run`` drives) against the local stack, with counts per phase.

The run loads the stack's own ``/openapi.json``, authenticates each operation by its ``x-sleeve-auth`` extension
(owner A's token for ``bearer``, an administrator's for ``admin``, none for ``none``), runs the examples, coverage,
fuzzing and stateful phases with the checks in :data:`CHECKS`, and returns a :class:`FuzzReport`: cases per phase,
the cross-owner probes, wall time and every failure with its ``curl`` reproduction.

Knobs (environment, read by :meth:`FuzzSettings.from_environment`): ``FUZZ_EXAMPLES`` (examples per operation and
phase), ``FUZZ_SECONDS`` (a time budget: fuzzing and stateful then repeat until it is spent), ``FUZZ_SEED``,
``FUZZ_DEADLINE`` (the wall-clock limit after which the run is stopped and fails; 0: none).
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from schemathesis.engine import events, from_schema
from schemathesis.engine.statistic import Statistic
from schemathesis.specs.openapi.checks import ensure_resource_availability as _ensure_resource_availability

from tests.e2e import cross_owner
from tests.e2e.cross_owner import TOKEN_ROUTES, CrossOwnerProbe, sleeve_auth

#: Checks run on every response. Left out: ``positive_data_acceptance`` (rules JSON Schema cannot state, such as a
#: date only with ``to: scheduled`` or a UPC's check digit, refuse schema-valid input by design; ``FUZZ_POSITIVE=1``
#: turns it on for 415 and 422 answers only),
#: ``max_response_time`` (a shared CI runner's timing is no contract), ``object_level_authorization`` (``GET`` only
#: and needs Schemathesis' WFC peer auth: ``cross_owner_isolation`` covers every method).
CHECKS: dict[str, bool] = {
    "not_a_server_error": True,
    "status_code_conformance": True,
    "content_type_conformance": True,
    "response_headers_conformance": True,
    "response_schema_conformance": True,
    "negative_data_rejection": True,
    "missing_required_header": True,
    "ignored_auth": True,
    "use_after_free": True,
    # Schemathesis' own, narrowed by ``ensure_resource_availability_of_path`` below.
    "ensure_resource_availability": False,
    "ensure_resource_availability_of_path": True,
    "unsupported_method": True,
    "allow_header_conformance": True,
    "positive_data_acceptance": False,
    "object_level_authorization": False,
    "cross_owner_isolation": True,
}
#: What a schema-valid request may get under ``FUZZ_POSITIVE=1``: everything but a refusal of its shape (415, 422).
#: 400 (an unknown cursor), 404, 409 (the item's state), 412/428 (``If-Match``) are rules no schema states.
POSITIVE_STATUSES = ["2XX", "3XX", "400", "401", "403", "404", "409", "412", "428", "429"]
#: Methods the coverage phase tries where a path does not document them: the ones API Gateway routes to Chalice
#: (TRACE and QUERY never reach the app in AWS; the local dev server's http.server answers them 501 itself).
UNEXPECTED_METHODS = ["get", "put", "post", "delete", "patch"]
PHASES = ("examples", "coverage", "fuzzing", "stateful")


@schemathesis.check
def ensure_resource_availability_of_path(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis' ``ensure_resource_availability`` (a 404 from an operation linked to a creation: the created
    item is gone), except for a 404 about an item the path does not name: ``POST /media/{asset_id}/attach`` answers
    404 ``release_not_found`` for the body's ``owner_id``, which says nothing about the asset just created. Sleeve's
    404s name the missing item's id in ``error.details``; when none of the path's values is there, the check passes."""
    if response.status_code == 404 and case.path_parameters:
        try:
            details = response.json()["error"]["details"]
        except (ValueError, KeyError, TypeError):
            details = None
        if isinstance(details, dict):
            named = {str(value) for value in details.values()}
            if not named & {str(value) for value in case.path_parameters.values()}:
                return None
    return _ensure_resource_availability(ctx, response, case)


@dataclass(frozen=True)
class FuzzSettings:
    """How long to fuzz. ``examples``: Hypothesis examples per operation in the fuzzing phase (the examples phase
    takes one per operation, the coverage phase as many as the schema's boundaries give); ``stateful_examples``: the
    stateful phase's scenarios of up to ``stateful_steps`` linked calls; ``seconds``: Schemathesis' ``max-time``
    (``None``: each phase runs once); ``seed``: ``None`` draws one; ``deadline_s``: wall-clock seconds after which
    the run is stopped; ``positive_acceptance``: also fail a schema-valid request refused for its shape (415, 422)."""

    examples: int = 5
    stateful_examples: int = 30
    seconds: int | None = None
    seed: int | None = 20261126
    deadline_s: float = 900.0
    stateful_steps: int = 10
    positive_acceptance: bool = False

    @classmethod
    def from_environment(cls) -> FuzzSettings:
        """The defaults overridden by ``FUZZ_EXAMPLES``, ``FUZZ_SECONDS``, ``FUZZ_SEED`` (``random``: drawn),
        ``FUZZ_DEADLINE`` (seconds, 0 for none; default ``FUZZ_SECONDS`` + 60 when that is set) and ``FUZZ_POSITIVE``
        (1: ``positive_acceptance``)."""
        default = cls()
        seconds = int(os.environ["FUZZ_SECONDS"]) if os.environ.get("FUZZ_SECONDS") else None
        seed_text = os.environ.get("FUZZ_SEED", "")
        seed = None if seed_text == "random" else int(seed_text) if seed_text else default.seed
        deadline_text = os.environ.get("FUZZ_DEADLINE")
        if deadline_text:
            deadline = float(deadline_text) or math.inf  # 0: no deadline
        else:
            deadline = seconds + 60.0 if seconds is not None else default.deadline_s
        examples = int(os.environ.get("FUZZ_EXAMPLES") or default.examples)
        return cls(
            examples=examples,
            stateful_examples=examples * default.stateful_examples // default.examples,
            seconds=seconds,
            seed=seed,
            deadline_s=deadline,
            positive_acceptance=os.environ.get("FUZZ_POSITIVE", "") not in ("", "0"),
        )


@dataclass(frozen=True)
class Tokens:
    """Bearer tokens: ``owner_a`` (the run's identity), ``owner_b`` (the other owner), ``admin`` (in ``admin``)."""

    owner_a: str
    owner_b: str
    admin: str


@dataclass
class FuzzReport:
    """One run: cases per phase (as ``st run`` counts them), wall seconds per phase, operations, probes, failures."""

    seed: int
    cases: Counter[str] = field(default_factory=Counter)
    check_requests: Counter[str] = field(default_factory=Counter)
    phase_seconds: dict[str, float] = field(default_factory=dict)
    phase_status: dict[str, str] = field(default_factory=dict)
    operations: int = 0
    tested_operations: set[str] = field(default_factory=set)
    probes: int = 0
    reads: int = 0
    probed_operations: set[str] = field(default_factory=set)
    id_operations: set[str] = field(default_factory=set)
    wall_s: float = 0.0
    stop_reason: str = ""
    stopped_at_deadline: bool = False
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def total_cases(self) -> int:
        """Cases across every phase."""
        return sum(self.cases.values())

    def summary(self) -> str:
        """The numbers as lines of text (printed by the test and ``make fuzz``)."""
        lines = [f"Schemathesis {schemathesis.__version__}, seed {self.seed}, stop: {self.stop_reason}"]
        for phase in PHASES:
            lines.append(
                f"  {phase:<9} {self.cases[phase]:>6} cases {self.check_requests[phase]:>6} check requests "
                f"{self.phase_seconds.get(phase, 0.0):>6.1f} s  {self.phase_status.get(phase, 'not run')}"
            )
        lines.append(
            f"  total     {self.total_cases:>6} cases {sum(self.check_requests.values()):>6} check requests "
            f"{self.wall_s:>6.1f} s wall"
        )
        lines.append(f"  operations tested: {len(self.tested_operations)}/{self.operations}")
        lines.append(f"  cross-owner probes: {self.probes} requests as owner B, {self.reads} reads of A's data")
        lines.append(
            f"  operations with ids where B's copy met a request A then made: "
            f"{len(self.probed_operations)}/{len(self.id_operations)}"
        )
        missed = sorted(self.id_operations - self.probed_operations)
        if missed:
            lines.append(f"    not reached: {', '.join(missed)}")
        lines.append(f"  failures: {len(self.failures)}, errors: {len(self.errors)}")
        return "\n".join(lines)


def build_config(base_url: str, settings: FuzzSettings) -> schemathesis.Config:
    """The run's Schemathesis configuration (what a ``schemathesis.toml`` would hold)."""
    generation: dict[str, Any] = {"max-examples": settings.examples, "database": "none"}
    data: dict[str, Any] = {
        "base-url": base_url,
        "workers": 1,
        "request-timeout": 30.0,
        # Every case of an operation runs even after one fails, so the count does not depend on the findings.
        "continue-on-failure": True,
        "generation": generation,
        "checks": {name: {"enabled": enabled} for name, enabled in CHECKS.items()},
        # The tokens are the local stage's (its published development secret, 12 hours): keep them in the printed
        # curl commands so that a failing case can be replayed as printed.
        "output": {"sanitization": {"enabled": False}},
        "phases": {
            # The document's examples, and one generated case for each operation that has none.
            "examples": {"enabled": True, "fill-missing": True},
            "coverage": {"enabled": True, "unexpected-methods": UNEXPECTED_METHODS},
            "fuzzing": {"enabled": True},
            "stateful": {
                "enabled": True,
                # Only the document's links: inferred ones (600 guessed from names and Location headers) start most
                # scenarios on random ids and leave few chains that reach a release's tracks or lifecycle.
                "inference": {"algorithms": []},
                "max-steps": settings.stateful_steps,
                "generation": {**generation, "max-examples": settings.stateful_examples},
            },
        },
    }
    if settings.positive_acceptance:
        data["checks"]["positive_data_acceptance"] = {"enabled": True, "expected-statuses": POSITIVE_STATUSES}
    if settings.seed is not None:
        data["seed"] = settings.seed
    if settings.seconds is not None:
        data["max-time"] = settings.seconds
    return schemathesis.Config.from_dict(data)


def register_auth(schema: Any, tokens: Tokens) -> None:
    """Authenticate each operation by its ``x-sleeve-auth``: A's token, the administrator's, or none."""
    by_kind = {"bearer": tokens.owner_a, "admin": tokens.admin}

    class SleeveAuth:
        def get(self, case: Any, context: Any) -> str | None:
            return by_kind.get(sleeve_auth(case.operation))

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"

    schema.auth(refresh_interval=None)(SleeveAuth)


def run_contract_fuzz(schema: Any, base_url: str, tokens: Tokens, settings: FuzzSettings) -> FuzzReport:
    """Run every phase on ``schema`` (loaded with :func:`build_config`'s config) and collect a :class:`FuzzReport`.

    Owner B's probes go through ``cross_owner``'s hooks for the length of the run. The run is stopped (and
    ``stopped_at_deadline`` set) once it passes ``settings.deadline_s``.
    """
    register_auth(schema, tokens)
    probe = CrossOwnerProbe(base_url=base_url, owner_a=tokens.owner_a, owner_b=tokens.owner_b)
    report = FuzzReport(seed=schema.config.seed)
    operations = [result.ok() for result in schema.get_all_operations() if result.ok() is not None]
    report.operations = len(operations)
    report.id_operations = {
        operation.label
        for operation in operations
        if sleeve_auth(operation) in TOKEN_ROUTES and any(True for _ in operation.path_parameters)
    }
    statistic = Statistic()
    started = time.monotonic()
    phase_started: dict[str, float] = {}
    cross_owner.activate(probe)
    try:
        stream = from_schema(schema).execute()
        for event in stream:
            if time.monotonic() - started > settings.deadline_s and not report.stopped_at_deadline:
                report.stopped_at_deadline = True
                stream.stop()
            _record(event, report, statistic, phase_started)
    finally:
        cross_owner.activate(None)
        probe.session.close()
    report.wall_s = time.monotonic() - started
    report.probes, report.reads = probe.probes, probe.reads
    report.probed_operations = set(probe.settled)
    report.tested_operations = set(statistic.tested_operations)
    output = schema.config.output
    for label in sorted(statistic.failures):
        for index, group in enumerate(statistic.failures[label].values(), 1):
            report.failures.append(f"{label}\n{group.format(index=index, curl=group.code_sample, config=output)}")
    return report


def _record(event: Any, report: FuzzReport, statistic: Statistic, phase_started: dict[str, float]) -> None:
    if isinstance(event, events.PhaseStarted):
        phase_started.setdefault(event.phase.name.value, time.monotonic())
    elif isinstance(event, events.PhaseFinished):
        name = event.phase.name.value
        if name in phase_started:
            report.phase_seconds[name] = (
                report.phase_seconds.get(name, 0.0) + time.monotonic() - phase_started.pop(name)
            )
        skip = f" ({event.phase.skip_reason.value})" if event.phase.skip_reason is not None else ""
        report.phase_status[name] = f"{event.status.value}{skip}"
    elif isinstance(event, events.ScenarioFinished) and event.is_test_scenario:
        for node in event.recorder.cases.values():
            # A case a check derived (ignored_auth's request without a token...) has a parent and no transition.
            generated = node.parent_id is None or node.transition is not None
            (report.cases if generated else report.check_requests)[event.phase.value] += 1
        statistic.on_scenario_finished(event.recorder)
    elif isinstance(event, events.NonFatalError):
        report.errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
    elif isinstance(event, events.FatalError):
        report.errors.append(f"fatal: {event.exception!r}")
    elif isinstance(event, events.EngineFinished):
        report.stop_reason = event.stop_reason.value
        for failure in event.failures:
            report.failures.append(f"after the run: {failure.title}: {failure.message}")
