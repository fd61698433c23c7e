"""Format detection from magic bytes only; a declared content type or file name is never trusted."""

from __future__ import annotations

# Signatures from the format specifications: JPEG (ITU T.81, SOI marker followed by another marker), PNG (RFC 2083
# section 3.1), WebP (RIFF container, Google "WebP Container Specification"), GIF (GIF89a spec, "GIF87a"/"GIF89a").
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sniff_format(data: bytes) -> str | None:
    """Name the image format of ``data`` from its first bytes.

    Returns ``"jpeg"``, ``"png"``, ``"webp"`` or ``"gif"``, or ``None`` for anything else (SVG, text, HEIC, an empty
    or too short buffer). Reads at most the first 16 bytes; never raises.
    """
    head = bytes(data[:16])
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(_PNG_SIGNATURE):
        return "png"
    if len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    return None
