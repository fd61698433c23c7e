"""The interactive API reference page (``GET /docs``): Swagger UI 5 over ``openapi.json``, served offline.

Swagger UI's files come from the ``swagger-ui-py`` package (``swagger_ui/static``), never from a CDN; only the files
the page needs are read, once, and each is served from a fixed route. Their URLs carry a hash of their content
(``?v=…``), so a browser may keep them for a year and still sees a new version on the first load after a deployment.
Every URL in the page is relative to it, so it works under an API Gateway stage prefix (``/dev/docs``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

#: The page's Content-Security-Policy: nothing but this origin, and ``data:`` images (Swagger UI's CSS draws its icons
#: as data URIs). Swagger UI sets styles through the DOM only, so neither inline scripts nor inline styles are allowed.
#: Source: W3C Content Security Policy Level 3.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Caching of the page itself: revalidated on every load (it names the current assets).
PAGE_CACHE_CONTROL = "no-cache"
#: Caching of an asset: a year, never revalidated (its URL changes with its content). Source: RFC 8246 (immutable).
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"

# The source map comment would send a browser's developer tools after a file that is not served.
_SOURCE_MAP = re.compile(r"/\*# sourceMappingURL=[^*]*\*/\s*$")

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Sleeve API reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{css}">
</head>
<body>
<noscript><p>This page needs JavaScript. The OpenAPI document itself is <a href="openapi.json">openapi.json</a>.</p>
</noscript>
<div id="swagger-ui" data-url="openapi.json"></div>
<script src="{bundle}"></script>
<script src="{initializer}"></script>
</body>
</html>
"""


@dataclass(frozen=True)
class Asset:
    """One file of the page: its route ``name`` under ``/docs/``, its ``content_type`` and its ``text``."""

    name: str
    content_type: str
    text: str

    @property
    def url(self) -> str:
        """The asset's URL relative to the page (``docs/swagger-ui.css?v=<12 hex digits of its SHA-256>``)."""
        digest = hashlib.sha256(self.text.encode()).hexdigest()[:12]
        return f"docs/{self.name}?v={digest}"


# Route name → (package, file name, Content-Type).
_SOURCES = {
    "swagger-ui.css": ("swagger_ui", "static/swagger-ui.css", "text/css; charset=utf-8"),
    "swagger-ui-bundle.js": ("swagger_ui", "static/swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-initializer.js": ("chalicelib.web", "docs_initializer.js", "text/javascript; charset=utf-8"),
}
#: The route names of the page's assets (``/docs/{name}``).
ASSET_NAMES = tuple(_SOURCES)


@functools.cache
def asset(name: str) -> Asset:
    """The asset served at ``/docs/{name}``, read from its package on first use.

    Raises ``KeyError`` for a name not in ``ASSET_NAMES``, ``ModuleNotFoundError`` without ``swagger-ui-py`` and
    ``FileNotFoundError`` when it lacks the file (a version other than the pinned one).
    """
    package, path, content_type = _SOURCES[name]
    text = (_folder_of(package) / path).read_text(encoding="utf-8")
    return Asset(name=name, content_type=content_type, text=_SOURCE_MAP.sub("\n", text))


def _folder_of(package: str) -> Path:
    # Found without being imported: swagger_ui's __init__ imports Jinja2, PyYAML and urllib.request (~120 ms), none
    # of which serving its files needs.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"no package {package}", name=package)
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def render_docs_page() -> str:
    """The reference page's HTML: Swagger UI's stylesheet and script, and the initializer that loads
    ``openapi.json`` (all relative to the page)."""
    return _PAGE.format(
        css=asset("swagger-ui.css").url,
        bundle=asset("swagger-ui-bundle.js").url,
        initializer=asset("swagger-initializer.js").url,
    )
