"""The OpenAPI document against the app it describes: every route is in it, it is valid OpenAPI 3.1, the committed copy
is current, every error code a request path can raise is documented, and the route decorator refuses to answer what
the document does not declare."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from chalice.app import Blueprint, Chalice
from chalice.test import Client
from openapi_spec_validator import validate
from pydantic import BaseModel

from app import app
from chalicelib.api.contract import ERROR_CODES, OPERATIONS, Answer, Operation, Reply, _respond, operation
from chalicelib.api.fallback import is_fallback
from chalicelib.api.middleware import normalise_errors
from chalicelib.openapi import openapi_document
from tests.conftest import REPO_ROOT

#: Codes raised only where no HTTP request reaches: the ingest worker's refusals of uploaded bytes (they end up in an
#: upload's ``error.code``, never in an HTTP status) and the store's object errors the worker handles.
WORKER_ONLY_CODES = {
    "corrupt_image",
    "decompression_bomb",
    "empty_file",
    "too_small",
    "unsupported_format",
    "object_not_found",
    "object_replaced",
    # The DSP providers' failures (chalicelib/providers/base.py) and the sync worker's retry (SyncRetryError): they
    # end up in a sync status's ``services[].error.code`` / ``error.code`` or make SQS retry, never in an HTTP status.
    "rate_limited",
    "unavailable",
    "unauthorised",
    "bad_response",
    "dsp_unavailable",
    # The upscaling jobs' failures (issue 10: providers/upscaling.py, replicate.py, local_upscaler.py and the jobs
    # worker): they end up in a job's ``error.code`` (GET /jobs/{id}), never in an HTTP status.
    "dead_lettered",
    "deadline_exceeded",
    "output_not_image",
    "output_too_large",
    "output_url_refused",
    "provider_failed",
    "result_rejected",
    "source_missing",
    "upscaler_crashed",
    "upscaler_timeout",
    "upscaler_unavailable",
    # URL imports (issue 11: providers/url_fetch.py, the imports worker): an import asset's ``error.code``.
    "fetch_failed",
    "too_many_redirects",
    # AI generation (issue 11: providers/replicate_generate.py, the generate worker): a generate job's ``error.code``.
    "generator_unavailable",
    # Videos (issue 11: imaging/video.py, the ingest worker): a video asset's ``error.code``.
    "not_a_video",
    "video_unreadable",
    # The backfill worker (issue 11: services/backfill.py): a claim held by another worker makes SQS retry.
    "backfill_contention",
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    # Given the generated document, When it is validated against the OpenAPI 3.1 schema, Then it passes.
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_route_of_the_app_is_in_the_document_and_nothing_else(document: dict[str, Any]) -> None:
    # Given the app's route table without the fallback views (HEAD, 405, 404: described in info.description)
    routes = {
        (method.lower(), path)
        for path, entries in app.routes.items()
        for method, entry in entries.items()
        if not is_fallback(entry.view_name)
    }
    # When the document's operations are listed
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    # Then they are the same set
    assert routes - documented == set(), "routes missing from the document"
    assert documented - routes == set(), "documented operations the app does not serve"


def test_the_committed_document_is_the_generated_one(document: dict[str, Any]) -> None:
    # Given docs/openapi.json (written by `make openapi`), Then it equals what the code generates now.
    committed = json.loads((REPO_ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert committed == document, "docs/openapi.json is stale: run `make openapi`"


def _raised_codes(root: Path) -> dict[str, set[str]]:
    """Every ``code="…"`` literal passed to an ``…Error(…)`` call, and each error class's ``default_code``, by file."""
    found: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            code = None
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.endswith("Error"):
                code = next(
                    (k.value.value for k in node.keywords if k.arg == "code" and isinstance(k.value, ast.Constant)),
                    None,
                )
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "default_code" for t in node.targets
            ):
                code = node.value.value if isinstance(node.value, ast.Constant) else None
            if isinstance(code, str):
                found.setdefault(code, set()).add(str(path.relative_to(root.parent)))
    return found


def test_every_error_code_the_code_raises_is_in_the_catalogue() -> None:
    # Given every code literal raised anywhere in chalicelib (f-string codes: track_not_found, collaborator_not_found)
    raised = set(_raised_codes(REPO_ROOT / "chalicelib")) | {"track_not_found", "collaborator_not_found"}
    # Then each is a documented HTTP code, a worker-only code, or a base class default never raised on its own
    generic = {"invalid_request", "unprocessable", "unauthorized", "forbidden", "conflict"}
    generic |= {"precondition_failed", "provider_error"}
    missing = raised - ERROR_CODES.keys() - WORKER_ONLY_CODES - generic
    assert missing == set()


def test_every_catalogued_code_is_answered_by_some_operation(document: dict[str, Any]) -> None:
    # Given the catalogue, Then no code is documented nowhere (a dead entry) but the route-level ones of fallback.py
    used = {code for op in OPERATIONS.values() for code in op.errors}
    assert ERROR_CODES.keys() - used == {"method_not_allowed"} or ERROR_CODES.keys() - used == {
        "method_not_allowed",
        "not_found",
    }
    # And each error response enumerates exactly the operation's codes of that status
    for op in OPERATIONS.values():
        responses = document["paths"][op.path][op.method.lower()]["responses"]
        for status, codes in op.statuses_of_errors().items():
            schema = responses[str(status)]["content"]["application/json"]["schema"]
            assert schema["properties"]["error"]["properties"]["code"]["enum"] == codes


def test_creating_a_release_links_to_every_operation_on_it(document: dict[str, Any]) -> None:
    # Given the 201 of POST /releases
    links = document["paths"]["/releases"]["post"]["responses"]["201"]["links"]
    # Then every operation whose only path parameter is release_id is linked, filled from the body's id
    expected = {op.operation_id for op in OPERATIONS.values() if op.path_parameters == ["release_id"]}
    assert set(links) == expected and len(expected) > 10
    assert {link["parameters"]["release_id"] for link in links.values()} == {"$response.body#/id"}
    # And an added track links to the track routes with the release id taken from the request
    track_links = document["paths"]["/releases/{release_id}/tracks"]["post"]["responses"]["201"]["links"]
    assert track_links["get_track"]["parameters"] == {
        "release_id": "$request.path.release_id",
        "track_id": "$response.body#/id",
    }


def test_public_operations_need_no_token_and_the_others_name_bearer_auth(document: dict[str, Any]) -> None:
    public = {
        (method, path)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if spec["security"] == []
    }
    assert ("get", "/health") in public and ("get", "/s/{token}/download") in public
    assert ("get", "/openapi.json") in public
    # (the provider webhooks are public too: a Standard Webhooks signature authenticates them instead)
    assert ("post", "/webhooks/replicate") in public
    assert all(
        path in {"/health", "/openapi.json"} or path.startswith(("/s/", "/docs", "/webhooks/")) for _, path in public
    )
    unlock = document["paths"]["/releases/{release_id}/unlock"]["post"]
    assert unlock["x-sleeve-auth"] == "admin" and "403" in unlock["responses"]


class _Thing(BaseModel):
    name: str


class _Other(BaseModel):
    name: str


def _app_answering(reply: Reply) -> Chalice:
    """A throwaway app with one operation declaring a 200 ``_Thing`` that answers ``reply``."""
    bp = Blueprint(__name__)
    key = ("GET", "/contract-test")
    OPERATIONS.pop(key, None)

    @operation(bp, "GET", "/contract-test", tag="test", auth="none", answers=[Answer(200, _Thing)])
    def contract_test() -> Reply:
        """A test."""
        return reply

    OPERATIONS.pop(key)
    throwaway = Chalice(app_name="contract-test")
    throwaway.register_middleware(normalise_errors, "http")
    throwaway.register_blueprint(bp)
    return throwaway


@pytest.mark.parametrize(
    "reply",
    [Reply(_Other(name="x")), Reply(_Thing(name="x"), status=201), Reply(None)],
    ids=["another model", "an undeclared status", "no body"],
)
def test_a_route_answering_what_it_does_not_declare_fails(reply: Reply) -> None:
    # Given an operation declaring 200 _Thing, When its view answers something else
    with Client(_app_answering(reply)) as client:
        response = client.http.get("/contract-test")
    # Then the request fails loudly (500), and the check raises a TypeError naming the operation
    assert response.status_code == 500
    with pytest.raises(TypeError, match="contract_test answered"):
        _respond(_declaring_thing(), reply)


def _declaring_thing() -> Operation:
    return Operation("contract_test", "GET", "/contract-test", "test", "", "", "none", None, None, False,
                     (Answer(200, _Thing),), frozenset())  # fmt: skip


def test_a_route_answering_its_declared_model_passes() -> None:
    with Client(_app_answering(Reply(_Thing(name="x")))) as client:
        response = client.http.get("/contract-test")
    assert response.status_code == 200 and response.json_body == {"name": "x"}


def test_the_readme_error_table_is_the_catalogue() -> None:
    # Given the README's error table (status → codes)
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Errors", 1)[1].split("\n\n", 3)[2]
    rows = {
        int(cells[1]): set(re.findall(r"`([a-z_]+)`", cells[2].split("(", 1)[0] + " " + cells[2]))
        for line in table.splitlines()
        if (cells := line.split("|")) and cells[1].strip().isdigit()
    }
    # Then every catalogued code is in the row of its status
    for code, (status, _meaning) in ERROR_CODES.items():
        assert code in rows.get(status, set()), f"{code} ({status}) is missing from the README's error table"


def test_every_request_body_has_an_example_its_model_accepts(document: dict[str, Any]) -> None:
    # Given every request model an operation takes, Then its documented examples exist and validate as that model
    models = {op.body for op in OPERATIONS.values() if op.body is not None}
    for model in models:
        examples = document["components"]["schemas"][model.__name__].get("examples")
        assert examples, f"{model.__name__} has no example"
        for example in examples:
            model.model_validate(example)
