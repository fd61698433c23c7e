"""Download filenames and the ``Content-Disposition`` header (RFC 6266 with RFC 8187 ``filename*``)."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

# RFC 8187 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
_ATTR_CHAR_SAFE = "!#$&+-.^_`|~"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f"\\/:*?<>|;]+')
# Bidirectional embeddings, overrides and isolates (U+202A-E, U+2066-9) and the implicit marks (U+200E/F, U+061C):
# dropped, not replaced, so "cover\u202egpj.exe" cannot display as "coverexe.jpg" (Unicode TR #36 §2.4).
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+")


def clean_filename(name: str, *, max_length: int = 180) -> str:
    """``name`` without control characters (C0, DEL, C1), bidirectional formatting characters, path separators,
    quotes and characters Windows refuses; whitespace collapsed; at most ``max_length`` characters; ``download`` if
    nothing is left. Text fields refuse these characters already (``models/text.py``); names are cleaned again
    because they are built from stored text."""
    cleaned = _UNSAFE.sub(" ", _BIDI.sub("", unicodedata.normalize("NFC", name)))
    cleaned = re.sub(r"\s+", " ", cleaned).strip(" .")
    if len(cleaned) > max_length:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (stem[: max_length - len(ext) - 1].rstrip() + dot + ext) if dot else cleaned[:max_length]
    return cleaned or "download"


def ascii_fallback(name: str) -> str:
    """An ASCII rendering of ``name`` for the plain ``filename`` parameter (accents dropped, the rest ``_``)."""
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c if 0x20 <= ord(c) < 0x7F else "_" for c in stripped)


def content_disposition(filename: str, *, disposition: str = "attachment") -> str:
    """``attachment; filename="ascii"; filename*=UTF-8''percent-encoded`` for any Unicode ``filename``.

    Source: RFC 6266 §4.3 (send both, ``filename*`` last; user agents that understand it prefer it) and RFC 8187.
    """
    name = clean_filename(filename)
    fallback = ascii_fallback(name)
    encoded = quote(name, safe=_ATTR_CHAR_SAFE)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def download_filename(*, artist: str, title: str, size: str, extension: str) -> str:
    """``{artist} - {title} ({size}).{ext}``, cleaned."""
    return clean_filename(f"{artist} - {title} ({size}).{extension}")
