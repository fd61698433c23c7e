"""``GET /docs``: the interactive API reference page and the Swagger UI files it loads, all without a token and
without a CDN (``chalicelib.web.docs_page``)."""

from __future__ import annotations

from chalice.app import Blueprint

from chalicelib.api.contract import Answer, Reply, operation

bp = Blueprint(__name__)

# Every answer of these routes is text that a browser must not reinterpret as another type.
_NO_SNIFF = {"X-Content-Type-Options": "nosniff"}


def _asset(name: str) -> Reply:
    from chalicelib.web.docs_page import ASSET_CACHE_CONTROL, asset

    found = asset(name)
    return Reply(
        found.text, headers={"Content-Type": found.content_type, "Cache-Control": ASSET_CACHE_CONTROL, **_NO_SNIFF}
    )


@operation(
    bp,
    "GET",
    "/docs",
    tag="meta",
    auth="none",
    answers=[Answer(200, media_type="text/html", headers=("Cache-Control",), description="The reference page.")],
)
def docs_page() -> Reply:
    """The interactive API reference (HTML).

    Swagger UI over `openapi.json`, with every asset served by the API itself (no CDN); "Authorize" takes a bearer
    token for "Try it out".
    """
    from chalicelib.web.docs_page import CONTENT_SECURITY_POLICY, PAGE_CACHE_CONTROL, render_docs_page

    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Cache-Control": PAGE_CACHE_CONTROL,
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "Referrer-Policy": "no-referrer",
        **_NO_SNIFF,
    }
    return Reply(render_docs_page(), headers=headers)


def _asset_answer(media_type: str) -> Answer:
    return Answer(
        200, media_type=media_type, headers=("Cache-Control",), description="Cached for a year (its URL is versioned)."
    )


@operation(
    bp,
    "GET",
    "/docs/swagger-ui.css",
    tag="meta",
    auth="none",
    answers=[_asset_answer("text/css")],
)
def docs_stylesheet() -> Reply:
    """Swagger UI's stylesheet.

    From the pinned `swagger-ui-py` package; loaded by `/docs`.
    """
    return _asset("swagger-ui.css")


@operation(
    bp,
    "GET",
    "/docs/swagger-ui-bundle.js",
    tag="meta",
    auth="none",
    answers=[_asset_answer("text/javascript")],
)
def docs_script() -> Reply:
    """Swagger UI's script.

    From the pinned `swagger-ui-py` package; loaded by `/docs`.
    """
    return _asset("swagger-ui-bundle.js")


@operation(
    bp,
    "GET",
    "/docs/swagger-initializer.js",
    tag="meta",
    auth="none",
    answers=[_asset_answer("text/javascript")],
)
def docs_initializer() -> Reply:
    """The reference page's start-up script.

    Starts Swagger UI on `openapi.json`; loaded by `/docs`.
    """
    return _asset("swagger-initializer.js")
