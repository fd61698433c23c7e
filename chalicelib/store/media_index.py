"""The media library's search and tag index: term items and tag items written beside each asset.

Interface first (issue 11, P3); the implementation follows in the next commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.models.domain import Asset


@dataclass(frozen=True)
class SearchHit:
    """One search result: the live ``asset`` (read back, never tombstoned), its ``score`` (higher is better) and the
    fields (``name``, ``title``, ``tags``, ``creator_description``, ``description``) whose words ``matched``."""

    asset: Asset
    score: float
    matched: list[str] = field(default_factory=list)


class MediaIndex:
    """Search terms and tags of an owner's assets, kept beside the ``ASSET#{id}`` items."""

    def reindex(self, before: Asset | None, after: Asset | None) -> None:
        """Make the asset's term and tag items match ``after`` (None: remove every item of ``before``).

        ``before`` is the asset as it was (None for a new asset): its items that ``after`` no longer has are deleted,
        the missing ones written (BatchWriteItem, 25 per call, unprocessed items retried). A tombstoned ``after``
        (``deleted_at`` set) is treated as None. Idempotent.
        """
        raise NotImplementedError

    def search(self, owner_id: str, query: str, *, limit: int, offset: int) -> tuple[list[SearchHit], bool]:
        """The owner's assets matching every word of ``query`` (prefix match, case- and accent-insensitive), best
        first, from ``offset``; returns (at most ``limit`` hits, whether more exist). Raises ``InvalidError``
        ``query_too_short`` when ``query`` has no word after normalisation."""
        raise NotImplementedError

    def by_tag(self, owner_id: str, tag: str, *, limit: int, cursor: str | None) -> tuple[list[str], str | None]:
        """The ids of the owner's assets tagged ``tag`` (normalised), newest first: (at most ``limit`` ids, the next
        cursor or None on the last page). Raises ``InvalidError`` ``invalid_cursor`` for a cursor it did not issue."""
        raise NotImplementedError
