"""Location metadata removal: a cleaned EXIF block, and lossless container rewrites that keep the pixels untouched.

"Location metadata" here is the EXIF GPS IFD, all XMP (it may repeat GPS as exif:GPSLatitude and name places) and
IPTC/Photoshop records (City, Sub-location, Country fields). The rewrites splice container segments/chunks; the
entropy-coded pixel data is copied byte for byte, so the original is never re-encoded just to drop a tag.
"""

from __future__ import annotations

import struct
import zlib

from PIL import ExifTags, Image

# IFD0 tags that are dropped: the GPS IFD pointer, XMP stored as a TIFF tag (XMLPacket, 700) and IPTC (33723).
_DROP_IFD0 = {int(ExifTags.IFD.GPSInfo), 0x02BC, 0x83BB}
# MakerNote is vendor-private with offsets relative to the original file: it does not survive re-serialisation.
_DROP_EXIF_IFD = {0x927C}
_MAX_JPEG_SEGMENT = 65533  # 0xFFFF minus the 2 length bytes (ITU T.81 B.1.1.4)


class ContainerError(ValueError):
    """The container structure (JPEG segments, PNG chunks, RIFF chunks) could not be walked."""


def clean_exif(exif: Image.Exif, *, keep_orientation: bool) -> bytes | None:
    """Serialise ``exif`` without location data, as ``b"Exif\\0\\0" + TIFF`` bytes, or ``None`` when nothing is left.

    Drops the GPS IFD, XMP and IPTC tags, the MakerNote and the IFD1 thumbnail; keeps the rest of IFD0 and the Exif
    IFD (camera, date, artist, copyright). Orientation (tag 0x0112) is kept only with ``keep_orientation`` (pixels
    still stored rotated). The result is re-parsed to prove it holds no GPS IFD; if serialising fails, only the
    orientation survives. Never raises.
    """
    orientation = exif.get(ExifTags.Base.Orientation)
    try:
        cleaned = Image.Exif()
        for tag, value in exif.items():
            if tag in _DROP_IFD0 or (tag == ExifTags.Base.Orientation and not keep_orientation):
                continue
            if tag == ExifTags.IFD.Exif:
                sub = {k: v for k, v in exif.get_ifd(tag).items() if k not in _DROP_EXIF_IFD}
                if ExifTags.IFD.Interop in sub:
                    sub[ExifTags.IFD.Interop] = exif.get_ifd(ExifTags.IFD.Interop)
                if sub:
                    cleaned[tag] = sub
                continue
            cleaned[tag] = value
        data = cleaned.tobytes() if len(cleaned) else None
        if data is not None:
            check = Image.Exif()
            check.load(data)
            if ExifTags.IFD.GPSInfo in check or len(data) > _MAX_JPEG_SEGMENT:
                raise ValueError("cleaned EXIF unusable")
        return data
    except Exception:
        if keep_orientation and isinstance(orientation, int) and orientation != 1:
            minimal = Image.Exif()
            minimal[ExifTags.Base.Orientation] = orientation
            return minimal.tobytes()
        return None


def strip_location(data: bytes, fmt: str, exif: bytes | None) -> bytes:
    """Return the uploaded file ``data`` (``fmt`` "jpeg" | "png" | "webp") with its metadata replaced losslessly.

    Every EXIF, XMP and IPTC carrier is removed and ``exif`` (from ``clean_exif``; ``None`` for none) is written once
    in the format's standard place; ICC profiles, JFIF/Adobe markers, animation and pixel data are copied as they are;
    bytes after the end of the image (EOI, IEND, RIFF size), where e.g. MPO second frames live, are dropped.
    Raises ``ContainerError`` when the structure cannot be walked.
    """
    try:
        if fmt == "jpeg":
            return _rewrite_jpeg(data, exif)
        if fmt == "png":
            return _rewrite_png(data, exif)
        if fmt == "webp":
            return _rewrite_webp(data, exif)
    except (IndexError, struct.error) as exc:
        raise ContainerError(f"malformed {fmt} container") from exc
    raise ContainerError(f"no rewriter for {fmt}")


def _rewrite_jpeg(data: bytes, exif: bytes | None) -> bytes:
    # ITU T.81 Annex B: SOI, then marker segments (FFxx + 2-byte length), entropy-coded data after each SOS in which
    # FF is followed by 00 (stuffing) or D0-D7 (RST); any other FFxx there starts the next marker.
    if data[:2] != b"\xff\xd8":
        raise ContainerError("no SOI")
    out = bytearray(b"\xff\xd8")
    pending_exif = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif if exif else b""
    pos, size = 2, len(data)
    while pos < size:
        if data[pos] != 0xFF:
            raise ContainerError(f"expected a marker at {pos}")
        while pos < size and data[pos] == 0xFF:  # fill bytes
            pos += 1
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI: stop, dropping any trailer
            out += pending_exif
            out += b"\xff\xd9"
            return bytes(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # stand-alone markers
            out += bytes((0xFF, marker))
            continue
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        end = pos + length
        if length < 2 or end > size:
            raise ContainerError("segment runs past the end")
        payload = data[pos + 2 : end]
        segment = data[pos - 2 : end]
        if marker != 0xE0 and pending_exif:  # EXIF right after SOI/JFIF (Exif 2.32 section 4.5.4)
            out += pending_exif
            pending_exif = b""
        if _keep_jpeg_segment(marker, payload):
            out += segment
        pos = end
        if marker == 0xDA:  # SOS: copy the scan up to the next real marker
            scan_end = _scan_end(data, pos)
            out += data[pos:scan_end]
            pos = scan_end
    out += pending_exif  # no EOI: truncated tail, which the decoder has already accepted
    return bytes(out)


def _keep_jpeg_segment(marker: int, payload: bytes) -> bool:
    if marker == 0xE0:
        return True  # JFIF / JFXX
    if marker == 0xE2:
        return payload.startswith(b"ICC_PROFILE\0")  # drops MPF (offsets to trailer images) and FlashPix
    if marker == 0xEE:
        return payload.startswith(b"Adobe")  # its transform flag decides how CMYK/YCCK decodes
    # Other APPn: APP1 Exif/XMP (EXIF is re-added cleaned), APP13 IPTC, vendor blocks -> dropped.
    # Everything else (DQT, DHT, SOFn, DRI, SOS, COM, ...) is image structure -> kept.
    return not 0xE1 <= marker <= 0xEF


def _scan_end(data: bytes, pos: int) -> int:
    size = len(data)
    while True:
        found = data.find(b"\xff", pos)
        if found < 0 or found + 1 >= size:
            return size
        following = data[found + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos = found + 2
        elif following == 0xFF:
            pos = found + 1
        else:
            return found


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG text keywords that carry XMP, or EXIF/IPTC as ImageMagick "raw profile" hex dumps.
_PNG_DROP_KEYWORDS = {
    b"XML:com.adobe.xmp",
    b"Raw profile type exif",
    b"Raw profile type APP1",
    b"Raw profile type xmp",
    b"Raw profile type iptc",
    b"Raw profile type 8bim",
}


def _rewrite_png(data: bytes, exif: bytes | None) -> bytes:
    # PNG (W3C, 3rd ed.) chunks: length, type, data, CRC. eXIf goes right after IHDR (it must precede IDAT).
    if not data.startswith(_PNG_SIGNATURE):
        raise ContainerError("no PNG signature")
    out = bytearray(_PNG_SIGNATURE)
    pos, size = len(_PNG_SIGNATURE), len(data)
    while pos + 8 <= size:
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > size:
            raise ContainerError("chunk runs past the end")
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"eXIf" or (kind in (b"tEXt", b"zTXt", b"iTXt") and body.split(b"\0", 1)[0] in _PNG_DROP_KEYWORDS):
            pass
        else:
            out += data[pos:end]
        if kind == b"IHDR" and exif:
            tiff = exif[6:] if exif.startswith(b"Exif\0\0") else exif
            out += struct.pack(">I", len(tiff)) + b"eXIf" + tiff
            out += struct.pack(">I", zlib.crc32(b"eXIf" + tiff))
        pos = end
        if kind == b"IEND":
            break
    return bytes(out)


_WEBP_KEEP = {b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ICCP", b"ANIM", b"ANMF"}
_VP8X_EXIF = 0x08
_VP8X_XMP = 0x04


def _rewrite_webp(data: bytes, exif: bytes | None) -> bytes:
    # WebP Container Specification (RFC 9649): metadata exists only in the extended format (VP8X); EXIF and "XMP "
    # chunks come after the image data, announced by VP8X flag bits.
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ContainerError("not a RIFF WEBP file")
    (riff_size,) = struct.unpack("<I", data[4:8])
    end_of_riff = min(len(data), 8 + riff_size)
    if data[12:16] != b"VP8X":
        return data[:end_of_riff]  # simple format: it cannot carry metadata
    chunks: list[bytes] = []
    pos = 12
    while pos + 8 <= end_of_riff:
        kind = data[pos : pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        end = pos + 8 + length + (length & 1)
        if pos + 8 + length > end_of_riff:
            raise ContainerError("chunk runs past the end")
        if kind in _WEBP_KEEP:
            chunks.append(data[pos:end])
        pos = end
    vp8x = bytearray(chunks[0])
    flags = vp8x[8] & ~(_VP8X_EXIF | _VP8X_XMP)
    if exif:
        tiff = exif[6:] if exif.startswith(b"Exif\0\0") else exif
        chunks.append(b"EXIF" + struct.pack("<I", len(tiff)) + tiff + (b"\0" if len(tiff) & 1 else b""))
        flags |= _VP8X_EXIF
    vp8x[8] = flags
    chunks[0] = bytes(vp8x)
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body
