"""Videos: what an uploaded MP4, WebM or QuickTime file holds (container, codec, px size, duration), and a poster.

Videos are stored as uploaded, never transcoded. Two well-kept libraries, each imported inside its function so that
neither reaches the API's import path:

- ``probe_video``: MediaInfo through pymediainfo (requirements.txt; its manylinux wheel bundles libmediainfo and adds
  15 MB to the Lambda bundle);
- ``make_poster``: a frame near the start decoded by PyAV (FFmpeg), encoded as a JPEG with Pillow. PyAV is not in the
  Lambda bundle (it adds 131 MB: with it the bundle would be 252 of Lambda's 262 MB, see the README, "Videos"); where
  it is not installed ``make_poster`` returns None and the video has no poster.

The container is named by ``imaging.sniff.sniff_video`` from magic bytes before either library reads the bytes, and
PyAV is told that demuxer only: FFmpeg's own format probing, which can pick playlist demuxers that open other files,
never runs on an upload.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.errors import AppError
from chalicelib.imaging.results import EncodedImage
from chalicelib.imaging.sniff import VideoContainer

if TYPE_CHECKING:
    from PIL import Image

#: S3 ``Content-Type`` and file extension of a stored original, by container.
CONTAINER_CONTENT_TYPES: dict[VideoContainer, str] = {
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mov": "video/quicktime",
}
CONTAINER_EXTENSIONS: dict[VideoContainer, str] = {"mp4": "mp4", "webm": "webm", "mov": "mov"}
#: MediaInfo's general ``Format`` for each container (MP4 and QuickTime are both "MPEG-4" to MediaInfo).
_MEDIAINFO_FORMATS: dict[VideoContainer, frozenset[str]] = {
    "mp4": frozenset({"MPEG-4"}),
    "mov": frozenset({"MPEG-4", "QuickTime"}),
    "webm": frozenset({"WebM"}),
}
#: MediaInfo's video ``Format`` → the codec's FFmpeg name (what ``VideoMedia.video_codec`` holds); others lower-cased.
_CODEC_NAMES = {
    "AVC": "h264",
    "HEVC": "hevc",
    "VP8": "vp8",
    "VP9": "vp9",
    "AV1": "av1",
    "MPEG-4 Visual": "mpeg4",
    "MPEG Video": "mpeg2video",
    "ProRes": "prores",
    "JPEG": "mjpeg",
    "H.263": "h263",
}
#: The FFmpeg demuxer PyAV opens each container with (``ffmpeg -demuxers``: "mov,mp4,…", "matroska,webm").
_DEMUXERS: dict[VideoContainer, str] = {"mp4": "mov", "mov": "mov", "webm": "matroska"}
#: The poster is the first frame at or after min(POSTER_AT_MS, a tenth of the duration): past a fade from black.
POSTER_AT_MS = 1000
#: The poster's longer side is at most this many px (smaller videos keep their size).
POSTER_MAX_PX = 1280
POSTER_QUALITY = 85
#: Frames decoded at most while looking for the poster's frame after a seek.
POSTER_MAX_FRAMES = 300


class VideoRejectedError(AppError):
    """The bytes are not a video Sleeve accepts. ``code``: ``not_a_video`` (no video stream: audio alone, or not a
    container at all) or ``video_unreadable`` (truncated, or the container holds no readable video track)."""

    status = 422
    default_code = "video_unreadable"


@dataclass(frozen=True)
class VideoProbe:
    """What MediaInfo read: ``container`` (mp4|webm|mov, from the sniffed bytes), ``video_codec`` (FFmpeg's name:
    h264, hevc, vp8, vp9, av1, mpeg4…), ``width``/``height`` px as displayed (swapped for a 90° or 270° rotation),
    ``duration_ms`` (None when the container does not say), ``rotation`` clockwise degrees (0, 90, 180, 270)."""

    container: VideoContainer
    video_codec: str | None
    width: int
    height: int
    duration_ms: int | None
    rotation: int = 0


def probe_video(data: bytes, container: VideoContainer) -> VideoProbe:
    """Read the first video track of ``data`` (the whole file, already sniffed as ``container``) with MediaInfo.

    Raises ``VideoRejectedError``: ``not_a_video`` when MediaInfo finds tracks but no video track (an audio-only MP4),
    ``video_unreadable`` when the file is truncated (MediaInfo's ``IsTruncated``: a box or element runs past the end),
    its format is not the sniffed container's, or it has no video track with a size.
    """
    from pymediainfo import MediaInfo  # a C library: the worker's import only

    info = MediaInfo.parse(io.BytesIO(data))
    general = info.general_tracks[0].to_data() if info.general_tracks else {}
    if general.get("format") not in _MEDIAINFO_FORMATS[container]:
        raise VideoRejectedError(f"The file is not a readable {container.upper()} container.")
    if general.get("istruncated") == "Yes":
        raise VideoRejectedError("The file is truncated: it ends before its container says it does.")
    if not info.video_tracks:
        if info.audio_tracks:
            raise VideoRejectedError("The file holds no video stream.", code="not_a_video")
        raise VideoRejectedError("The file holds no readable video stream.")
    video = info.video_tracks[0].to_data()
    width, height = _int(video.get("width")), _int(video.get("height"))
    if not width or not height:
        raise VideoRejectedError("The video stream has no frame size.")
    rotation = (_int(video.get("rotation")) or 0) % 360
    if rotation in (90, 270):
        width, height = height, width
    fmt = video.get("format")
    return VideoProbe(
        container=container,
        video_codec=_CODEC_NAMES.get(fmt, fmt.lower()) if isinstance(fmt, str) else None,
        width=width,
        height=height,
        duration_ms=_int(general.get("duration")) or _int(video.get("duration")),
        rotation=rotation,
    )


def make_poster(data: bytes, probe: VideoProbe, *, max_pixels: int) -> EncodedImage | None:
    """A JPEG of the first frame at or after min(``POSTER_AT_MS``, a tenth of the duration), as displayed (rotated),
    its longer side at most ``POSTER_MAX_PX``.

    None when PyAV is not installed (the Lambda bundle), when the frame is larger than ``max_pixels`` (the images'
    decompression limit: a decoded frame is width × height × 3 bytes), or when no frame decodes (a codec this FFmpeg
    build lacks, damaged data); the video stays ready without a poster. Never raises for the bytes' sake.
    """
    if probe.width * probe.height > max_pixels:
        return None
    try:
        import av
    except ImportError:
        return None
    target_s = min(POSTER_AT_MS, (probe.duration_ms or 0) // 10) / 1000
    try:
        image = _decode_frame(av, data, _DEMUXERS[probe.container], target_s, max_pixels)
    except (av.FFmpegError, ValueError, OSError):  # PyAV's errors (FFmpegError is a ValueError/OSError)
        return None
    if image is None:
        return None
    image.thumbnail((POSTER_MAX_PX, POSTER_MAX_PX))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=POSTER_QUALITY, optimize=True)
    return EncodedImage(data=out.getvalue(), width=image.width, height=image.height, format="jpeg")


def _decode_frame(av: Any, data: bytes, demuxer: str, target_s: float, max_pixels: int) -> Image.Image | None:
    """The displayed RGB image of the first video frame at or after ``target_s`` (the last decoded before it when the
    stream ends first), or None when no frame decodes or the decoded frame is larger than ``max_pixels`` (its
    bitstream may name another size than the container did)."""
    with av.open(io.BytesIO(data), mode="r", format=demuxer) as container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        if target_s > 0 and stream.time_base:
            container.seek(int(target_s / stream.time_base), stream=stream, backward=True, any_frame=False)
        frame = None
        for count, decoded in enumerate(container.decode(stream)):
            frame = decoded
            if decoded.time is None or decoded.time >= target_s or count >= POSTER_MAX_FRAMES:
                break
        if frame is None or frame.width * frame.height > max_pixels:
            return None
        image: Image.Image = frame.to_image()
        rotation = int(frame.rotation or 0)  # counterclockwise, like PIL's rotate (FFmpeg's display matrix)
        return image.rotate(rotation, expand=True) if rotation % 360 else image


def _int(value: Any) -> int | None:
    """MediaInfo's numbers come as ints, floats or strings (``"1500.000000"``); None when absent or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return round(float(value))
    except (TypeError, ValueError):
        return None
