"""The media library's search and tag index: term and tag items written beside each asset (issue 11, P3).

Items (``store/records.py``):
- term: pk ``SEARCH#{owner}#{first character}``, sk ``{token}#{asset_id}``, ``w`` best field weight, ``f`` field
  letters, ``c`` the asset's creation time (epoch ms); one per (asset, distinct word of its searched fields);
- tag: pk ``TAG#{owner}#{tag_key}``, sk ``{created iso}#{asset_id}``; one per (asset, tag).

A query word is one ``begins_with(sk, word)`` Query of its partition, so a search reads the items of the words that
match and nothing else: its cost grows with the matches, never with the library. Every hit is checked again against
the asset read back (BatchGetItem), so a tombstoned or deleted asset, another owner's, or an index item left stale by
a race is never answered.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.models.domain import Asset
from chalicelib.services.search_terms import (
    Term,
    asset_tags,
    asset_terms,
    decode_fields,
    encode_fields,
    query_tokens,
    score,
    tag_key,
)
from chalicelib.store.assets import asset_of
from chalicelib.store.cursors import decode_cursor, encode_cursor
from chalicelib.store.records import AssetRecord, MediaTagRecord, MediaTermRecord

#: DynamoDB's BatchWriteItem limit (25 put or delete requests per call; API reference, BatchWriteItem).
BATCH_WRITE_LIMIT = 25
#: DynamoDB's BatchGetItem limit (100 keys per call).
BATCH_GET_LIMIT = 100
#: Unprocessed batch items are sent again this many times, after an exponential backoff with full jitter (AWS
#: "Error retries and exponential backoff"; the BatchWriteItem reference recommends backing off), then it raises.
BATCH_RETRIES = 8
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 2.0

_SEARCH_LIST = "media_search"
_TAG_LIST = "media_tag"


class BatchWriteError(RuntimeError):
    """Items DynamoDB left unprocessed after ``BATCH_RETRIES`` retries (throttling that did not pass)."""


@dataclass(frozen=True)
class SearchHit:
    """One search result: the live ``asset`` (read back, never tombstoned), its ``score`` (higher is better) and the
    fields (``name``, ``title``, ``tags``, ``creator_description``, ``description``) whose words ``matched``."""

    asset: Asset
    score: float
    matched: list[str] = field(default_factory=list)


@dataclass
class _Candidate:
    created_ms: int
    terms: dict[str, Term]


def term_partition(owner_id: str, token: str) -> str:
    """The partition of the term items of ``token`` (normalised) in ``owner_id``'s library."""
    return f"SEARCH#{owner_id}#{token[0]}"


def tag_partition(owner_id: str, key: str) -> str:
    """The partition of the tag items of the tag ``key`` (``search_terms.tag_key``) in ``owner_id``'s library."""
    return f"TAG#{owner_id}#{key}"


def _created_ms(asset: Asset) -> int:
    return int(asset.created_at.timestamp() * 1000)


def _term_records(asset: Asset | None) -> dict[tuple[str, str], MediaTermRecord]:
    if asset is None:
        return {}
    created = _created_ms(asset)
    records = {}
    for token, term in asset_terms(asset).items():
        record = MediaTermRecord(
            pk=term_partition(asset.owner_id, token),
            sk=f"{token}#{asset.id}",
            weight=term.weight,
            field_codes=encode_fields(term.fields),
            created_ms=created,
        )
        records[(record.pk, record.sk)] = record
    return records


def _tag_records(asset: Asset | None) -> dict[tuple[str, str], MediaTagRecord]:
    if asset is None:
        return {}
    sort_key = f"{asset.created_at.isoformat()}#{asset.id}"
    records = {}
    for key in asset_tags(asset):
        record = MediaTagRecord(pk=tag_partition(asset.owner_id, key), sk=sort_key)
        records[(record.pk, record.sk)] = record
    return records


def _same(left: MediaTermRecord | MediaTagRecord, right: MediaTermRecord | MediaTagRecord) -> bool:
    return bool(left.serialize() == right.serialize())


def batch_write(puts: Sequence[Any], deletes: Iterable[tuple[str, str]]) -> int:
    """Put the records ``puts`` and delete the items at the keys ``deletes`` (pk, sk) of the table, 25 requests per
    BatchWriteItem, sending unprocessed items again with exponential backoff. Returns the number of calls made.

    Raises ``BatchWriteError`` when items stay unprocessed after ``BATCH_RETRIES`` retries; PynamoDB's errors for
    anything else. Not atomic (BatchWriteItem is not): a caller that fails half-way repeats the whole write.
    """
    requests: list[dict[str, Any]] = [{"PutRequest": {"Item": record.serialize()}} for record in puts]
    requests += [{"DeleteRequest": {"Key": {"pk": {"S": pk}, "sk": {"S": sk}}}} for pk, sk in deletes]
    connection = MediaTermRecord._get_connection()
    calls = 0
    for start in range(0, len(requests), BATCH_WRITE_LIMIT):
        pending = requests[start : start + BATCH_WRITE_LIMIT]
        for attempt in range(BATCH_RETRIES + 1):
            if attempt:
                time.sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt)))
            answer = connection.batch_write_item(
                put_items=[request["PutRequest"]["Item"] for request in pending if "PutRequest" in request],
                delete_items=[request["DeleteRequest"]["Key"] for request in pending if "DeleteRequest" in request],
            )
            calls += 1
            pending = (answer or {}).get("UnprocessedItems", {}).get(connection.table_name, [])
            if not pending:
                break
        else:
            raise BatchWriteError(f"{len(pending)} index items stayed unprocessed after {BATCH_RETRIES} retries")
    return calls


def read_assets(asset_ids: Iterable[str]) -> dict[str, Asset]:
    """The assets of ``asset_ids`` that exist, by id: BatchGetItem, 100 keys per call, eventually consistent (half
    the read units; an index item is written after its asset, so the asset is there to read)."""
    keys = [(f"ASSET#{asset_id}", "ASSET") for asset_id in dict.fromkeys(asset_ids)]
    found: dict[str, Asset] = {}
    for start in range(0, len(keys), BATCH_GET_LIMIT):
        for record in AssetRecord.batch_get(keys[start : start + BATCH_GET_LIMIT], consistent_read=False):
            asset = asset_of(record)
            found[asset.id] = asset
    return found


class MediaIndex:
    """Search terms and tags of an owner's assets, kept beside the ``ASSET#{id}`` items."""

    def reindex(self, before: Asset | None, after: Asset | None) -> None:
        """Make the asset's term and tag items match ``after`` (None: remove every item of ``before``).

        ``before`` is the asset as it was last indexed (None for one never indexed: a new asset, or a legacy one the
        backfill indexes for the first time): its items that ``after`` no longer has are deleted, and those
        ``after`` adds or changes are written (BatchWriteItem, 25 per call, unprocessed items retried with backoff);
        an unchanged word costs nothing. A tombstoned ``after`` (``deleted_at`` set) counts as None. Idempotent: a
        repeated call writes the same items again. Raises ``BatchWriteError`` (see ``batch_write``).
        """
        if after is not None and after.deleted_at is not None:
            after = None
        old: dict[tuple[str, str], Any] = {**_term_records(before), **_tag_records(before)}
        new: dict[tuple[str, str], Any] = {**_term_records(after), **_tag_records(after)}
        puts = [record for key, record in new.items() if key not in old or not _same(old[key], record)]
        deletes = [key for key in old if key not in new]
        batch_write(puts, deletes)

    def search(self, owner_id: str, query: str, *, limit: int, offset: int) -> tuple[list[SearchHit], int | None]:
        """The owner's assets matching every word of ``query`` (prefix match, case- and accent-insensitive), best
        first (``search_terms.score``; equal scores newest first), from position ``offset`` of that ranking.

        Returns (at most ``limit`` hits, the offset of the next page or None on the last). Ranked positions whose
        asset is gone, tombstoned, or no longer matches when read back are skipped, and the page reads on past them,
        so a page is short only at the end. Raises ``UnprocessableError`` ``query_too_short``/``query_too_long``.
        """
        tokens = query_tokens(query)
        ranked = self._ranked(owner_id, tokens)
        hits: list[SearchHit] = []
        position = min(offset, len(ranked))
        while len(hits) < limit and position < len(ranked):
            chunk = ranked[position : position + limit - len(hits)]
            position += len(chunk)
            assets = read_assets(chunk)
            for asset_id in chunk:
                asset = assets.get(asset_id)
                if asset is None or asset.owner_id != owner_id or asset.deleted_at is not None:
                    continue
                checked = score(tokens, asset_terms(asset))
                if checked is not None:
                    hits.append(SearchHit(asset=asset, score=checked[0], matched=checked[1]))
        return hits, position if position < len(ranked) else None

    def search_page(
        self, owner_id: str, query: str, *, limit: int, cursor: str | None
    ) -> tuple[list[SearchHit], str | None]:
        """``search`` with a signed cursor in place of the offset: (hits, the next page's cursor or None).

        The cursor is bound to the owner and the query's words. Raises ``InvalidError`` ``invalid_cursor`` for a
        cursor this search did not issue, and ``search``'s errors.
        """
        partition = f"SEARCH#{owner_id}#{' '.join(query_tokens(query))}"
        start = decode_cursor(cursor, partition_attr="pk", partition_value=partition, list_name=_SEARCH_LIST)
        hits, next_offset = self.search(owner_id, query, limit=limit, offset=int(start["sk"]["N"]) if start else 0)
        if next_offset is None:
            return hits, None
        key = {"pk": {"S": partition}, "sk": {"N": str(next_offset)}}
        return hits, encode_cursor(key, list_name=_SEARCH_LIST)

    def by_tag(self, owner_id: str, tag: str, *, limit: int, cursor: str | None) -> tuple[list[str], str | None]:
        """The ids of the owner's assets tagged ``tag`` (compared as ``search_terms.tag_key``), newest first: (at most
        ``limit`` ids, the next page's cursor or None on the last page). One Query of the tag's partition.

        Tombstoned assets leave when their delete removes their items; a caller reading the assets drops any still
        tombstoned. Raises ``InvalidError`` ``invalid_cursor`` for a cursor this listing did not issue.
        """
        key = tag_key(tag)
        if not key:
            return [], None
        partition = tag_partition(owner_id, key)
        start = decode_cursor(cursor, partition_attr="pk", partition_value=partition, list_name=_TAG_LIST)
        results = MediaTagRecord.query(partition, scan_index_forward=False, limit=limit, last_evaluated_key=start)
        ids = [record.sk.rpartition("#")[2] for record in results]
        return ids, encode_cursor(results.last_evaluated_key, list_name=_TAG_LIST)

    def _ranked(self, owner_id: str, tokens: list[str]) -> list[str]:
        """The ids of the assets whose words begin with every query word, best first.

        The longest word (usually the rarest) is queried first; each further word keeps only the assets already
        found, and an empty intersection stops before the remaining Queries are made.
        """
        found: dict[str, _Candidate] | None = None
        for token in sorted(tokens, key=len, reverse=True):
            matches: dict[str, _Candidate] = {}
            for word, asset_id, term, created in self._matches(owner_id, token):
                if found is not None and asset_id not in found:
                    continue
                base = found[asset_id].terms if found is not None else {}
                candidate = matches.setdefault(asset_id, _Candidate(created, dict(base)))
                candidate.terms[word] = term
            found = matches
            if not found:
                return []
        scored = []
        for asset_id, candidate in (found or {}).items():
            result = score(tokens, candidate.terms)
            if result is not None:
                scored.append((-result[0], -candidate.created_ms, asset_id))
        return [asset_id for _, _, asset_id in sorted(scored)]

    def _matches(self, owner_id: str, token: str) -> Iterator[tuple[str, str, Term, int]]:
        """(word, asset id, Term, created ms) of every term item whose word begins with ``token``: one Query (all its
        pages), eventually consistent."""
        results = MediaTermRecord.query(
            term_partition(owner_id, token), MediaTermRecord.sk.startswith(token), consistent_read=False
        )
        for record in results:
            word, _, asset_id = record.sk.rpartition("#")
            yield word, asset_id, Term(int(record.weight), decode_fields(record.field_codes)), int(record.created_ms)
