"""Search route of the media library: ``GET /media/search?q=`` over the caller's titles, names, tags and descriptions.

The index lives in ``store/media_index.py`` (``MediaIndex``), the rules in ``services/search_terms.py``; assets are
rendered by ``services/media_views.py``. This view parses, calls the index and serialises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from chalice.app import Blueprint
from pydantic import Field

from chalicelib.api.contract import Answer, Query, Reply, operation
from chalicelib.api.releases import Cursor, Limit
from chalicelib.api.responses import identity_of
from chalicelib.models.text import PlainText
from chalicelib.models.views import MediaSearchHit, MediaSearchPage

if TYPE_CHECKING:
    from chalicelib.services.media_views import MediaViews
    from chalicelib.store.media_index import MediaIndex

bp = Blueprint(__name__)

TAG = "media"


class SearchMediaQuery(Query):
    """``GET /media/search``: ``q`` the words to find (at most 200 characters), ``limit`` (1..100, default 20) and
    ``cursor``."""

    q: Annotated[PlainText, Field(max_length=200, description="The words to find; each may be a word's beginning.")] = (
        ""
    )
    limit: Limit = 20
    cursor: Cursor | None = None


def _index() -> MediaIndex:
    """The container's media index, looked up per call (tests swap the container's factory)."""
    from chalicelib import container

    return container.get_media_index()


def _views() -> MediaViews:
    from chalicelib import container

    return container.get_media_views()


@operation(
    bp,
    "GET",
    "/media/search",
    tag=TAG,
    query=SearchMediaQuery,
    answers=[Answer(200, MediaSearchPage)],
    errors=["query_too_short", "query_too_long", "invalid_cursor"],
)
def search_media(query: SearchMediaQuery) -> Reply:
    """Search the caller's library.

    Finds the caller's assets whose name, title, tags, creator description or description hold every word of ``q``,
    each as a whole word or a word's beginning (type-ahead: `neo` finds "Neon"), regardless of case and accents
    (`beyonce` finds "Beyoncé", `strasse` finds "Straße"). Best first: a name or title word outranks a tag, a tag the
    creator's description, that the description; a whole word outranks a beginning; equal scores newest first.
    ``matched`` names the fields that matched. Follow ``next_cursor`` (bound to the caller and the words of ``q``)
    for the next page. A ``q`` with no letter or digit answers 422 ``query_too_short``; more than 8 distinct words
    422 ``query_too_long``.
    """
    hits, next_cursor = _index().search_page(
        identity_of(bp.current_request).subject, query.q, limit=query.limit, cursor=query.cursor
    )
    views = _views()
    items = [MediaSearchHit(asset=views.view(hit.asset), score=hit.score, matched=hit.matched) for hit in hits]
    return Reply(MediaSearchPage(items=items, next_cursor=next_cursor))
