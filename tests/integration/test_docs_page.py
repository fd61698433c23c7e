"""The API reference page (``GET /docs``): Swagger UI served by the API itself, offline, without a token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import chalice.local
import pytest
from chalice.test import Client

from chalicelib.local.devserver import GreedyRouteMatcher
from tests.conftest import REPO_ROOT

ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-initializer.js": "text/javascript; charset=utf-8",
}
# Where the page lives in AWS: behind API Gateway's stage prefix.
STAGED_PAGE = "https://abc123.execute-api.eu-west-1.amazonaws.com/dev/docs"


@pytest.fixture
def client(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """chalice.test.Client whose gateway routes unknown paths to the app's 404 as API Gateway's greedy ``{proxy+}``
    does (Chalice's emulation answers 403 ``Missing Authentication Token`` itself)."""
    from app import app

    monkeypatch.setattr(chalice.local, "RouteMatcher", GreedyRouteMatcher)
    with Client(app, stage_name="test", project_dir=str(REPO_ROOT)) as test_client:
        yield test_client


class _Urls(HTMLParser):
    """Every URL an HTML page names: ``src``, ``href``, ``action`` and ``data-url`` attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls.extend(v for k, v in attrs if k in {"src", "href", "action", "data-url"} and v is not None)


def _urls_of(html: str) -> list[str]:
    parser = _Urls()
    parser.feed(html)
    return parser.urls


def _page(client) -> tuple[object, list[str]]:
    response = client.http.get("/docs")
    assert response.status_code == 200, response.body
    return response, _urls_of(response.body.decode())


def test_the_page_and_each_asset_answer_without_a_token(client):
    # Given no Authorization header
    # When the page is fetched
    page, urls = _page(client)

    # Then it is HTML, and every asset it loads answers 200 with its type
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assets = {urlsplit(url).path.removeprefix("docs/"): url for url in urls if url.startswith("docs/")}
    assert set(assets) == set(ASSETS)
    for name, url in assets.items():
        response = client.http.get(f"/{url}")
        assert response.status_code == 200, (name, response.body[:200])
        assert response.headers["Content-Type"] == ASSETS[name]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert len(response.body) > 0


def test_the_page_loads_swagger_ui_5_which_reads_openapi_3_1(client):
    # When the script the page loads is fetched
    bundle = client.http.get("/docs/swagger-ui-bundle.js").body.decode()

    # Then it is Swagger UI 5 (4.x renders nothing for an OpenAPI 3.1 document)
    assert 'PACKAGE_VERSION:"5.' in bundle
    # and the stylesheet names no source map that is not served
    assert "sourceMappingURL" not in client.http.get("/docs/swagger-ui.css").body.decode()


def test_the_page_names_only_relative_urls_that_stay_under_the_stage(client):
    # Given the page
    _, urls = _page(client)

    # Then no URL names a scheme or a host (no CDN), apart from the empty data: favicon
    assert urls
    for url in urls:
        if url == "data:,":
            continue
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, url
        # nor starts at the root, which would drop API Gateway's /dev stage prefix
        assert not url.startswith("/"), url
        assert urljoin(STAGED_PAGE, url).startswith("https://abc123.execute-api.eu-west-1.amazonaws.com/dev/"), url
    # and the document it loads is openapi.json beside it
    assert urljoin(STAGED_PAGE, "openapi.json") in {urljoin(STAGED_PAGE, u) for u in urls}


def test_the_page_allows_only_its_own_origin(client):
    # When the page is fetched
    page, _ = _page(client)

    # Then its Content-Security-Policy allows scripts, styles and requests from this origin only, no inline script or
    # style and no eval
    policy = dict(
        (directive.split()[0], directive.split()[1:])
        for directive in page.headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_assets_are_cached_for_a_year_under_versioned_urls_and_the_page_is_revalidated(client):
    # Given the page and the URLs of its assets
    page, urls = _page(client)
    assets = [url for url in urls if url.startswith("docs/")]

    # Then the page is revalidated on every load, and each asset URL carries its version and may be kept a year
    assert page.headers["Cache-Control"] == "no-cache"
    for url in assets:
        assert urlsplit(url).query.startswith("v="), url
        assert client.http.get(f"/{url}").headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    "path",
    [
        "/docs/swagger-editor-bundle.js",
        "/docs/swagger-ui-bundle.js.map",
        "/docs/favicon-32x32.png",
        "/docs/../chalicelib/config.py",
        "/docs/static/swagger-ui.css",
    ],
)
def test_no_other_file_of_the_package_is_served(client, path):
    # When another file of swagger-ui-py's folder (or a path out of it) is asked for
    response = client.http.get(path)

    # Then it is the API's ordinary 404, in the one error shape
    assert response.status_code == 404
    assert json.loads(response.body)["error"]["code"] == "not_found"


def test_the_document_describes_the_page_and_its_assets_as_public(client):
    # When the OpenAPI document is fetched
    document = json.loads(client.http.get("/openapi.json").body)

    # Then the page and each asset are public meta operations answering their media type
    expected = {"/docs": "text/html"} | {f"/docs/{name}": ASSETS[name].split(";")[0] for name in ASSETS}
    for path, media_type in expected.items():
        get = document["paths"][path]["get"]
        assert get["tags"] == ["meta"]
        assert get.get("security") == [], path
        assert list(get["responses"]["200"]["content"]) == [media_type]


def test_serving_the_page_imports_neither_swagger_ui_py_nor_its_dependencies():
    # Given a fresh interpreter
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from chalicelib.web.docs_page import ASSET_NAMES, asset, render_docs_page\n"
        "render_docs_page(); [asset(name) for name in ASSET_NAMES]\n"
        "print(sorted(m for m in ('swagger_ui', 'jinja2', 'yaml', 'urllib.request') if m in sys.modules))\n"
    )
    # When it renders the page and reads every asset
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)

    # Then swagger-ui-py's package was only located, not imported (its __init__ imports Jinja2, PyYAML and
    # urllib.request: ~120 ms of a cold start for nothing)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[]"


def test_each_asset_fits_in_one_lambda_response():
    # Given Lambda's limit on a synchronous response, 6 MB, which counts the proxy response's JSON (escapes included;
    # source: AWS Lambda developer guide, "Lambda quotas")
    from chalicelib.web.docs_page import ASSET_NAMES, asset

    # Then every asset, as API Gateway's proxy response carries it, stays well under it
    for name in ASSET_NAMES:
        proxied = json.dumps({"statusCode": 200, "headers": {}, "body": asset(name).text, "isBase64Encoded": False})
        assert len(proxied.encode()) < 4 * 1024 * 1024, name
