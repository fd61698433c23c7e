"""The API reference page in a browser with no network but loopback: it renders every operation from the API's own
files, and "Try it out" calls the API with the bearer token given to "Authorize"."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import Api

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass
class Watched:
    """What a page did: every request's URL, those that left loopback (aborted), console errors and page errors."""

    requests: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def offline_docs(page: Any, stack: Any) -> Iterator[tuple[Any, Watched]]:
    """The reference page open in ``page``, with every request to a host other than loopback aborted and recorded."""
    watched = Watched()

    def route(handle: Any) -> None:
        url = handle.request.url
        if urlsplit(url).scheme in {"http", "https", "ws", "wss"} and urlsplit(url).hostname not in LOOPBACK:
            watched.outside.append(url)
            handle.abort()
        else:
            handle.continue_()

    page.context.route("**/*", route)
    page.on("request", lambda request: watched.requests.append(request.url))
    page.on("console", lambda message: watched.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))
    response = page.goto(f"{stack.api_url}/docs")
    assert response.status == 200
    yield page, watched


def test_the_page_renders_every_operation_offline(offline_docs: tuple[Any, Watched], api: Api):
    page, watched = offline_docs
    # When Swagger UI has rendered the document
    create = page.locator("#operations-releases-create_release")
    create.wait_for(state="visible", timeout=30_000)

    # Then POST /releases is there with its summary, and so is every operation of the document
    assert create.locator(".opblock-summary-method").inner_text() == "POST"
    assert create.locator(".opblock-summary-path").get_attribute("data-path") == "/releases"
    document = api.get("/openapi.json", subject=None).json()
    expected = sum(len(methods) for methods in document["paths"].values())
    assert page.locator(".opblock").count() == expected
    # the version of the document is shown (OpenAPI 3.1 read, not refused)
    assert "OAS 3.1" in page.locator(".info").inner_text()
    # and nothing left loopback, nothing was refused by the page's Content-Security-Policy, no script failed
    assert watched.outside == []
    assert watched.errors == []
    loaded = {urlsplit(url).path for url in watched.requests}
    assert {"/docs", "/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js", "/openapi.json"} <= loaded


def test_try_it_out_sends_the_bearer_token_given_to_authorize(offline_docs: tuple[Any, Watched], api: Api):
    page, watched = offline_docs
    page.locator("#operations-releases-list_releases").wait_for(state="visible", timeout=30_000)
    sent: list[dict[str, str]] = []
    page.on("request", lambda request: sent.append(request.headers) if "/releases" in request.url else None)
    # Given a token pasted into "Authorize"
    token = api.headers("alice")["Authorization"].removeprefix("Bearer ")
    page.click("button.authorize")
    page.fill("#auth-bearer-value", token)
    page.click(".auth-btn-wrapper button.authorize")
    page.click(".auth-btn-wrapper button.btn-done")

    # When GET /releases is tried out
    operation = page.locator("#operations-releases-list_releases")
    operation.locator(".opblock-summary-control").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()

    # Then the request carried the token, and the API answered 200 (shown by the page)
    operation.locator(".live-responses-table tbody .response-col_status").first.wait_for(timeout=30_000)
    assert operation.locator(".live-responses-table tbody .response-col_status").first.inner_text().strip() == "200"
    assert sent and sent[-1]["authorization"] == f"Bearer {token}"
    assert watched.outside == []
    assert watched.errors == []
