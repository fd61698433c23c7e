"""Format detection from magic bytes only; a declared content type or file name is never trusted."""

from __future__ import annotations

from typing import Literal

type VideoContainer = Literal["mp4", "webm", "mov"]

# Signatures from the format specifications: JPEG (ITU T.81, SOI marker followed by another marker), PNG (RFC 2083
# section 3.1), WebP (RIFF container, Google "WebP Container Specification"), GIF (GIF89a spec, "GIF87a"/"GIF89a").
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Videos. ISO base media files (ISO/IEC 14496-12 section 4.3, MP4 and QuickTime alike) open with a ``ftyp`` box:
# 32-bit size, ``ftyp``, the major brand, a minor version, then compatible brands. Brands from the MP4 registration
# authority (mp4ra.org/registered-types/brands); ``qt  `` is Apple's QuickTime File Format ("File type compatibility
# atom"). Classic QuickTime files have no ``ftyp``: their first atom is ``moov``, ``mdat`` or ``wide`` (Apple QTFF).
# Still images (HEIF/AVIF) and audio-only brands are not videos, whatever their compatible brands say.
_QUICKTIME_BRANDS = frozenset({b"qt  "})
_MP4_BRANDS = frozenset(
    {
        b"isom",
        b"iso2",
        b"iso4",
        b"iso5",
        b"iso6",
        b"mp41",
        b"mp42",
        b"avc1",
        b"dash",
        b"M4V ",
        b"M4VH",
        b"M4VP",
        b"mmp4",
        b"msnv",
        b"f4v ",
        b"XAVC",
        b"MSNV",
    }
)
_NOT_VIDEO_BRANDS = frozenset(
    {
        b"heic",
        b"heix",
        b"hevc",
        b"hevx",
        b"heim",
        b"heis",
        b"mif1",
        b"msf1",
        b"avif",
        b"avis",
        b"M4A ",
        b"M4B ",
        b"M4P ",
        b"crx ",
    }
)
_CLASSIC_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide"})
# WebM is Matroska with the EBML DocType ``webm`` (RFC 8794 EBML: header element 0x1A45DFA3, DocType 0x4282;
# webmproject.org "WebM Container Guidelines"). Read up to this many bytes of the EBML header.
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOCTYPE = 0x4282
_EBML_HEAD_BYTES = 64


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


def sniff_video(data: bytes) -> VideoContainer | None:
    """Name the video container of ``data`` from its first bytes: ``"mp4"``, ``"webm"`` or ``"mov"`` (QuickTime).

    MP4/QuickTime by the ``ftyp`` box's major brand (``qt  `` → mov; an MP4 brand, or an unknown major brand with an
    MP4 compatible brand → mp4; HEIF/AVIF images and M4A audio → None), or a classic QuickTime first atom (``moov``,
    ``mdat``, ``wide``) → mov; WebM by its EBML header's DocType ``webm`` (Matroska's ``matroska`` → None). Returns
    None for anything else, images included. Reads at most the first 64 bytes; never raises. Whether the bytes hold
    a readable video stream is for ``imaging.video.probe_video`` to say.
    """
    head = bytes(data[:_EBML_HEAD_BYTES])
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _iso_brand(head)
    if len(head) >= 8 and head[4:8] in _CLASSIC_QUICKTIME_ATOMS:
        return "mov"
    if head.startswith(_EBML_MAGIC) and _ebml_doctype(head) == b"webm":
        return "webm"
    return None


def _iso_brand(head: bytes) -> VideoContainer | None:
    size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    if major in _QUICKTIME_BRANDS:
        return "mov"
    if major in _NOT_VIDEO_BRANDS:
        return None
    if major in _MP4_BRANDS or compatible & _MP4_BRANDS:
        return "mp4"
    if compatible & _QUICKTIME_BRANDS:
        return "mov"
    return None


def _vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``pos`` (RFC 8794 section 4): (value, next position), None if cut off."""
    if pos >= len(data) or data[pos] == 0:
        return None
    length = 8 - data[pos].bit_length() + 1
    if pos + length > len(data):
        return None
    value = int.from_bytes(data[pos : pos + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
    return value, pos + length


def _ebml_doctype(head: bytes) -> bytes | None:
    """The DocType string of the EBML header that opens ``head``, or None when it is not within ``head``."""
    size = _vint(head, len(_EBML_MAGIC), keep_marker=False)
    if size is None:
        return None
    pos = size[1]
    end = min(pos + size[0], len(head))
    while pos < end:
        element = _vint(head, pos, keep_marker=True)
        length = _vint(head, element[1], keep_marker=False) if element else None
        if element is None or length is None:
            return None
        start, stop = length[1], length[1] + length[0]
        if element[0] == _EBML_DOCTYPE:
            return head[start:stop].rstrip(b"\x00") if stop <= len(head) else None
        pos = stop
    return None
