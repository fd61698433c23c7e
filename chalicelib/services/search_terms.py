"""Search rules of the media library, pure: normalise text, cut it into tokens, weigh fields, score a match.

``store/media_index.py`` writes one term item per (asset, token) from ``asset_terms`` and answers queries with
``query_tokens`` and ``score``; the same functions re-check every hit against the asset it reads back.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.errors import UnprocessableError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from chalicelib.models.domain import Asset

#: The searched fields and their weights, best first. A generated name (``L.CAS.ATL.001``) or a title the creator
#: chose names the asset; tags classify it; what the creator typed describes it in their words; ``description`` is the
#: longest and least specific. A name or title word outranks a description word even as a prefix (5 × 0.5 > 1 × 1.0).
FIELD_WEIGHTS: dict[str, int] = {"name": 5, "title": 5, "tags": 3, "creator_description": 2, "description": 1}
#: One letter per field, as a term item stores the fields its word occurs in (``MediaTermRecord.field_codes``).
FIELD_CODES: dict[str, str] = {"name": "n", "title": "t", "tags": "g", "creator_description": "c", "description": "d"}
_FIELDS_BY_CODE = {code: name for name, code in FIELD_CODES.items()}
#: A query word that is a whole word of the asset counts fully; a word it only begins counts half (type-ahead).
EXACT_FACTOR = 1.0
PREFIX_FACTOR = 0.5
#: Longer words are cut to this many characters (items and queries alike, so prefix matching still holds); it keeps
#: a term item's key far below DynamoDB's 1,024-byte sort-key limit.
MAX_TOKEN_CHARS = 40
#: At most this many distinct words of an asset are indexed (the best-weighted first, then in reading order): a
#: 5,000-character description cannot make an edit write thousands of items.
MAX_TERMS_PER_ASSET = 200
#: A query may have at most this many distinct words (each is one Query).
MAX_QUERY_TOKENS = 8

#: Latin letters that NFKD leaves whole (they are letters of their own, not a base letter with a mark), folded the way
#: people type them without the key: "Mø" is found by "mo", "Ærø" by "aero".
_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})
#: Letters and digits of any script (``\w`` without the underscore): after folding, Latin words are ASCII; Greek,
#: Cyrillic and other scripts stay searchable in their own letters.
_TOKEN = re.compile(r"[^\W_]+")


def normalise(text: str) -> str:
    """``text`` made case- and accent-insensitive: case-folded, NFKD-decomposed, combining marks dropped, and the few
    Latin letters NFKD keeps whole folded (``_FOLD``). "Beyoncé" → "beyonce", "Straße" → "strasse", "Ｆｕｌｌ" → "full".

    Source: Unicode Standard Annex #15 (NFKD), Unicode ``Default_Ignorable``/``Mn`` combining marks, and Python's
    ``str.casefold`` (Unicode default case folding, §3.13).
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return stripped.translate(_FOLD)


def tokenise(text: str) -> list[str]:
    """The distinct words of ``text`` in reading order: runs of letters and digits of the normalised text, each cut
    to ``MAX_TOKEN_CHARS``. ``L.CAS.ATL.001`` → ``["l", "cas", "atl", "001"]``; punctuation and spaces separate."""
    seen: dict[str, None] = {}
    for match in _TOKEN.finditer(normalise(text)):
        seen.setdefault(match.group()[:MAX_TOKEN_CHARS], None)
    return list(seen)


def tag_key(tag: str) -> str:
    """A tag as it is compared and keyed: normalised, runs of white space made one space, trimmed ("Hip  Hop" and
    "hip hop" are one tag; "hip-hop" stays another). May be "" for a tag of nothing but white space."""
    return " ".join(normalise(tag).split())


@dataclass(frozen=True)
class Term:
    """One word of an asset: its best field ``weight`` and the ``fields`` it occurs in (``FIELD_WEIGHTS`` order)."""

    weight: int
    fields: tuple[str, ...]


def encode_fields(fields: Iterable[str]) -> str:
    """Field names → their ``FIELD_CODES`` letters ("title", "description" → "td")."""
    return "".join(FIELD_CODES[name] for name in fields)


def decode_fields(codes: str) -> tuple[str, ...]:
    """``FIELD_CODES`` letters → field names; letters it does not know are skipped (a newer writer's)."""
    return tuple(_FIELDS_BY_CODE[code] for code in codes if code in _FIELDS_BY_CODE)


def field_texts(asset: Asset) -> dict[str, list[str]]:
    """The searched texts of ``asset`` by field (``FIELD_WEIGHTS``' names); absent fields are left out."""
    texts: dict[str, list[str]] = {}
    for name in FIELD_WEIGHTS:
        value = getattr(asset, name)
        values = value if isinstance(value, list) else [value]
        present = [text for text in values if text]
        if present:
            texts[name] = present
    return texts


def terms_of(texts: Mapping[str, Iterable[str]]) -> dict[str, Term]:
    """Each distinct word of ``texts`` (field name → its texts) → its ``Term``, best-weighted words first, at most
    ``MAX_TERMS_PER_ASSET``. Field names outside ``FIELD_WEIGHTS`` raise ``KeyError``."""
    found: dict[str, list[str]] = {}
    for name in sorted(texts, key=lambda field: -FIELD_WEIGHTS[field]):
        for text in texts[name]:
            for token in tokenise(text):
                fields = found.setdefault(token, [])
                if name not in fields:
                    fields.append(name)
    terms = {token: Term(FIELD_WEIGHTS[fields[0]], tuple(fields)) for token, fields in found.items()}
    best = sorted(terms, key=lambda token: -terms[token].weight)[:MAX_TERMS_PER_ASSET]
    return {token: terms[token] for token in best}


def asset_terms(asset: Asset) -> dict[str, Term]:
    """The words ``asset`` is found by (``terms_of`` its ``field_texts``)."""
    return terms_of(field_texts(asset))


def asset_tags(asset: Asset) -> list[str]:
    """The distinct non-empty ``tag_key`` of each of ``asset``'s tags, in order."""
    return list(dict.fromkeys(key for key in (tag_key(tag) for tag in asset.tags) if key))


def query_tokens(query: str) -> list[str]:
    """The distinct words of a search ``query`` (``tokenise``).

    Raises ``UnprocessableError`` ``query_too_short`` (422) when the query has no letter or digit, and
    ``query_too_long`` (422) when it has more than ``MAX_QUERY_TOKENS`` distinct words.
    """
    tokens = tokenise(query)
    if not tokens:
        raise UnprocessableError(
            "The query has no letter or digit to search for.", code="query_too_short", details={"min_words": 1}
        )
    if len(tokens) > MAX_QUERY_TOKENS:
        raise UnprocessableError(
            f"The query has more than {MAX_QUERY_TOKENS} distinct words.",
            code="query_too_long",
            details={"max_words": MAX_QUERY_TOKENS, "words": len(tokens)},
        )
    return tokens


def score(tokens: Iterable[str], terms: Mapping[str, Term]) -> tuple[float, list[str]] | None:
    """How well an asset with ``terms`` (word → Term, all its words or at least those beginning with a query word)
    answers the query ``tokens``, or None unless every query word matches (AND).

    Each query word adds its best match: the matching word's weight × ``EXACT_FACTOR`` when it is the whole word,
    × ``PREFIX_FACTOR`` when it only begins it. Returns (the sum, the fields matched in ``FIELD_WEIGHTS`` order).
    """
    total = 0.0
    matched: set[str] = set()
    for query in tokens:
        best = 0.0
        best_fields: tuple[str, ...] = ()
        for token, term in terms.items():
            if token.startswith(query):
                value = term.weight * (EXACT_FACTOR if token == query else PREFIX_FACTOR)
                if value > best:
                    best, best_fields = value, term.fields
        if not best:
            return None
        total += best
        matched.update(best_fields)
    return total, [name for name in FIELD_WEIGHTS if name in matched]
