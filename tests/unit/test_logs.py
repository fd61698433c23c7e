"""The workers' structured logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from chalicelib.logs import get_worker_logger


def test_worker_logs_are_json_with_the_extra_keys():
    # The handler keeps the stream it was built with (another test may have built it), so read it through a buffer.
    logger = get_worker_logger()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        logger.info("ingest finished", extra={"key": "uploads/a/b", "outcome": "ready"})
    finally:
        handler.setStream(previous)
    line = json.loads(buffer.getvalue().strip().splitlines()[-1])
    assert line["message"] == "ingest finished"
    assert (line["key"], line["outcome"], line["service"]) == ("uploads/a/b", "ready", "sleeve-worker")


def test_the_worker_logger_leaves_chalices_app_logger_alone():
    get_worker_logger()
    # Chalice logs through logging.getLogger(app_name); the powertools logger must not take it over.
    assert not any(type(h).__module__.startswith("aws_lambda_powertools") for h in logging.getLogger("sleeve").handlers)


def _api_event(
    path: str, *, request_id: str | None, headers: dict[str, str] | None = None, resource: str | None = None
) -> dict:
    """The API Gateway (REST, Lambda proxy) event of a GET on ``path`` (matched by ``resource``) with no token."""
    resource = resource or path
    context = {"httpMethod": "GET", "resourcePath": resource, "path": path, "identity": {"sourceIp": "192.0.2.1"}}
    if request_id:
        context["requestId"] = request_id
    return {
        "resource": resource,
        "path": path,
        "httpMethod": "GET",
        "requestContext": context,
        "headers": headers or {},
        "multiValueHeaders": {},
        "pathParameters": None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "stageVariables": None,
        "body": None,
        "isBase64Encoded": False,
    }


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture
def api_log() -> Iterator[io.StringIO]:
    """What the API logger writes during the test (its handler keeps the stream it was built with, so capsys of a
    later test would see nothing)."""
    from chalicelib.logs import get_api_logger

    buffer = io.StringIO()
    handler = get_api_logger().registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def test_every_api_log_line_of_a_request_carries_api_gateways_request_id(api_log, monkeypatch):
    from app import app
    from chalicelib.logs import get_api_logger

    # Given a view that logs while it runs, and a client that sends its own X-Request-Id
    entry = app.routes["/health"]["GET"]
    original = entry.view_function

    def logging_view(**params: str) -> object:
        get_api_logger().info("inside the view")
        return original(**params)

    monkeypatch.setattr(entry, "view_function", logging_view)
    event = _api_event("/health", request_id="c6af9ac6-7b61-11e6-9a41-93e8deadbeef", headers={"x-request-id": "mine"})
    # When API Gateway invokes the API function
    response = app(event, None)
    get_api_logger().info("after the request")
    # Then each line written during the request carries API Gateway's id, the response returns it (not the
    # client's), and the request line says what was asked and answered without the concrete path or headers
    lines = _json_lines(api_log.getvalue())
    inside = next(line for line in lines if line["message"] == "inside the view")
    request = next(line for line in lines if line["message"] == "request")
    after = next(line for line in lines if line["message"] == "after the request")
    assert inside["correlation_id"] == request["correlation_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert "correlation_id" not in after
    assert response["statusCode"] == 200
    assert response["headers"]["X-Request-Id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert (request["service"], request["method"], request["route"], request["status"]) == (
        "sleeve-api",
        "GET",
        "/health",
        200,
    )
    assert isinstance(request["duration_ms"], float) and "mine" not in json.dumps(request)


def test_without_a_gateway_request_id_one_is_generated_per_request(api_log):
    from app import app

    # Given two requests without requestContext.requestId (chalice local, the dev server)
    first = app(_api_event("/health", request_id=None), None)
    second = app(_api_event("/nope", request_id=None, resource="/{proxy+}"), None)
    # Then each gets its own id, in its response and on its log line
    lines = [line for line in _json_lines(api_log.getvalue()) if line["message"] == "request"]
    ids = [first["headers"]["X-Request-Id"], second["headers"]["X-Request-Id"]]
    assert ids[0] != ids[1] and [line["correlation_id"] for line in lines[-2:]] == ids
    assert second["statusCode"] == 404
