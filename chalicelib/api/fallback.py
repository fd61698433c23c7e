"""What no view serves, answered in Sleeve's error shape: 404 for an unknown path, 405 with ``Allow`` for a method a
known path does not have, and ``HEAD`` on every ``GET`` route.

API Gateway itself answers an unknown path or method with 403 ``{"message": "Missing Authentication Token"}``: a
greedy ``/{proxy+}`` resource (and ``/``, which it does not cover) catches unknown paths, and each known path gets
the methods it lacks, so the app answers instead. ``Allow`` is computed from the route table as it was before these
routes were added. Sources: RFC 9110 §15.5.6 (405 carries ``Allow``), §9.3.2 (``HEAD`` is ``GET`` without content);
API Gateway developer guide, "Set up a proxy integration with a proxy resource" (greedy path variables).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from chalice.app import Chalice

from chalicelib.api.responses import error_response
from chalicelib.errors import AppError, NotFoundError

#: The methods every known path answers (OPTIONS is the CORS preflight, answered by API Gateway from the CORS config).
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
#: Paths that catch what no route matches: API Gateway's greedy ``{proxy+}`` does not match the root.
UNKNOWN_PATHS = ("/", "/{proxy+}")
#: The name prefix of every view registered here (tests tell them from the real views by it).
FALLBACK_PREFIX = "fallback_"
_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# (route pattern, method) of the 404 and 405 views: they reveal nothing the README does not, so need no token.
_ANSWERED_WITHOUT_TOKEN: set[tuple[str, str]] = set()


class MethodNotAllowedError(AppError):
    """A method the path does not serve (405); ``allow`` is the ``Allow`` header value."""

    status = 405
    default_code = "method_not_allowed"

    def __init__(self, allow: str) -> None:
        super().__init__(
            "This method is not allowed on this path; the Allow header lists those that are.",
            details={"allow": allow.split(", ")},
        )
        self.allow = allow


def allowed_methods(methods: Iterable[str]) -> str:
    """The ``Allow`` header of a path serving ``methods``: those, ``HEAD`` when ``GET`` is served, and ``OPTIONS``."""
    served = set(methods) | {"OPTIONS"}
    if "GET" in served:
        served.add("HEAD")
    return ", ".join(m for m in _ORDER if m in served)


def _method_not_allowed(allow: str) -> Callable[..., Any]:
    def view(**_params: str) -> Any:
        error = MethodNotAllowedError(allow)
        response = error_response(error)
        response.headers["Allow"] = error.allow
        return response

    return view


def _head(app: Chalice, path: str) -> Callable[..., Any]:
    def view(**params: str) -> Any:
        # The GET view's own answer; the middleware drops the body of every HEAD response.
        return app.routes[path]["GET"].view_function(**params)

    return view


def _not_found(**_params: str) -> Any:
    return error_response(NotFoundError("No route matches this path.", code="not_found"))


def register_fallback_routes(app: Chalice) -> None:
    """Add the HEAD, 405 and 404 views to ``app``; call once, after every blueprint is registered.

    Raises ``ValueError`` when called twice (Chalice refuses a second view for a path and method).
    """
    table = {path: frozenset(entries) for path, entries in app.routes.items()}
    for path, methods in table.items():
        allow = allowed_methods(methods)
        for method in METHODS:
            if method in methods:
                continue
            if method == "HEAD" and "GET" in methods:
                get = app.routes[path]["GET"]
                app.route(path, methods=["HEAD"], name=f"{FALLBACK_PREFIX}head", content_types=get.content_types)(
                    _head(app, path)
                )
            else:
                # Any Content-Type: a wrong method answers 405, not 415.
                _ANSWERED_WITHOUT_TOKEN.add((path, method))
                app.route(path, methods=[method], name=f"{FALLBACK_PREFIX}method_not_allowed", content_types=["*/*"])(
                    _method_not_allowed(allow)
                )
    for path in UNKNOWN_PATHS:
        _ANSWERED_WITHOUT_TOKEN.update((path, method) for method in METHODS)
        app.route(path, methods=list(METHODS), name=f"{FALLBACK_PREFIX}not_found", content_types=["*/*"])(_not_found)


def needs_no_token(resource_path: str, method: str) -> bool:
    """Whether ``method`` on the route pattern ``resource_path`` is a 404 or 405 registered here."""
    return (resource_path, method) in _ANSWERED_WITHOUT_TOKEN


def is_fallback(view_name: str) -> bool:
    """Whether a route entry's ``view_name`` is one registered here."""
    return view_name.startswith(FALLBACK_PREFIX)
