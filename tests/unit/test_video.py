"""Videos: sniffing MP4/WebM/QuickTime by magic bytes, probing with MediaInfo, a poster frame with PyAV.

The clips are tiny files made by tests/fixtures/video/make_videos.py (see PROVENANCE.md there).
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from chalicelib.imaging import sniff_format
from chalicelib.imaging.sniff import sniff_video
from chalicelib.imaging.video import VideoProbe, VideoRejectedError, make_poster, probe_video

REPO_ROOT = Path(__file__).resolve().parents[2]
VIDEOS = REPO_ROOT / "tests" / "fixtures" / "video"
MAX_PIXELS = 40_000_000

#: file → (container, codec, width, height, duration ms), as PROVENANCE.md describes each clip.
CLIPS = {
    "clip-h264-160x90.mp4": ("mp4", "h264", 160, 90, 1000),
    "clip-vp8-128x72.webm": ("webm", "vp8", 128, 72, 1500),
    "clip-mpeg4-112x80.mov": ("mov", "mpeg4", 112, 80, 2000),
    "clip-h264-rotated-160x90.mp4": ("mp4", "h264", 90, 160, 500),
}


def _clip(name: str) -> bytes:
    return (VIDEOS / name).read_bytes()


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\x00\x00\x00\x08free"


def _ebml(doctype: bytes) -> bytes:
    # EBMLVersion 1, then DocType (0x4282) with a one-byte size, all in an EBML header of one-byte size.
    children = b"\x42\x86\x81\x01" + b"\x42\x82" + bytes([0x80 | len(doctype)]) + doctype
    return b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(children)]) + children + b"\x18\x53\x80\x67"


@pytest.mark.parametrize(("name", "expected"), [(name, clip[0]) for name, clip in CLIPS.items()])
def test_each_clip_is_sniffed_as_its_container(name: str, expected: str) -> None:
    # Given a clip's bytes, When sniffed, Then its container is named, and the image sniffer still says "not an image"
    data = _clip(name)
    assert sniff_video(data) == expected
    assert sniff_format(data) is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_ftyp(b"isom", b"isom", b"avc1"), "mp4"),
        (_ftyp(b"mp42", b"mp41"), "mp4"),
        (_ftyp(b"M4V ", b"M4V ", b"mp42"), "mp4"),
        (_ftyp(b"abcd", b"mp42"), "mp4"),  # an unknown major brand, compatible with MP4
        (_ftyp(b"qt  ", b"qt  "), "mov"),
        (b"\x00\x00\x00\x08wide\x00\x00\x10\x00mdat", "mov"),  # classic QuickTime: no ftyp
        (b"\x00\x00\x01\x00moov\x00\x00\x00\x6cmvhd", "mov"),
        (_ebml(b"webm"), "webm"),
        (_ebml(b"matroska"), None),  # Matroska that is not WebM
        (_ftyp(b"heic", b"mif1", b"heic"), None),  # HEIF still image
        (_ftyp(b"avif", b"avif", b"mif1", b"miaf"), None),  # AVIF still image
        (_ftyp(b"mif1", b"mp42"), None),  # an image brand wins over a compatible MP4 brand
        (_ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"), None),  # audio
        (_ftyp(b"abcd", b"efgh"), None),
        (b"\x1a\x45\xdf\xa3", None),  # EBML magic cut off before its DocType
        (b"\x1a\x45\xdf\xa3\xff\xff\xff", None),  # an EBML header whose sizes run past the buffer
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", None),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None),
        (b"RIFF\x24\x00\x00\x00AVI LIST", None),  # AVI is not accepted
        (b"\x00\x00\x00", None),
        (b"", None),
    ],
)
def test_sniff_video_from_magic_bytes(data: bytes, expected: str | None) -> None:
    assert sniff_video(data) == expected


@pytest.mark.parametrize(("name", "clip"), list(CLIPS.items()))
def test_probe_reads_container_codec_size_and_duration(name: str, clip: tuple[str, str, int, int, int]) -> None:
    # Given a clip sniffed as its container
    data = _clip(name)
    container = sniff_video(data)
    assert container is not None
    # When MediaInfo probes it
    probe = probe_video(data, container)
    # Then it reports what the clip holds (a rotated clip as displayed: 90×160)
    assert (probe.container, probe.video_codec, probe.width, probe.height, probe.duration_ms) == clip


@pytest.mark.parametrize("name", list(CLIPS))
def test_the_poster_is_a_displayed_frame_near_the_start_not_the_black_first_one(name: str) -> None:
    # Given a clip whose first frame is black and whose later frames are a bright colour
    data = _clip(name)
    container = sniff_video(data)
    assert container is not None
    probe = probe_video(data, container)
    # When its poster is made
    poster = make_poster(data, probe, max_pixels=MAX_PIXELS)
    # Then it is a JPEG of the displayed size, and not the black first frame
    assert poster is not None
    assert (poster.format, poster.content_type, poster.extension) == ("jpeg", "image/jpeg", "jpg")
    image = Image.open(io.BytesIO(poster.data))
    assert image.format == "JPEG"
    assert image.size == (poster.width, poster.height) == (probe.width, probe.height)
    red, _green, blue = ImageStat.Stat(image.convert("RGB")).mean
    assert red + blue > 150


def test_a_large_frame_is_scaled_to_the_poster_limit_and_a_bomb_gets_no_poster(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the H.264 clip
    data = _clip("clip-h264-160x90.mp4")
    probe = probe_video(data, "mp4")
    # When the poster's limit is below the clip's width, Then the poster keeps the aspect ratio within it
    monkeypatch.setattr("chalicelib.imaging.video.POSTER_MAX_PX", 80)
    poster = make_poster(data, probe, max_pixels=MAX_PIXELS)
    assert poster is not None and (poster.width, poster.height) == (80, 45)
    # When the frame holds more pixels than the images' decompression limit, Then no frame is decoded at all
    assert make_poster(data, probe, max_pixels=160 * 90 - 1) is None


def test_a_frame_larger_than_its_container_said_is_not_turned_into_a_poster() -> None:
    # Given a container that claims a 10×10 video while its bitstream codes 160×90 frames
    data = _clip("clip-h264-160x90.mp4")
    lying = VideoProbe(container="mp4", video_codec="h264", width=10, height=10, duration_ms=1000)
    # When a poster is asked for under a limit between the two sizes, Then the decoded frame is dropped
    assert make_poster(data, lying, max_pixels=1000) is None
    # And under a limit above the real size the same probe gets its poster
    assert make_poster(data, lying, max_pixels=160 * 90) is not None


def test_without_pyav_there_is_no_poster_but_the_probe_works(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given PyAV is not installed (the Lambda bundle)
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` raises ImportError
    data = _clip("clip-vp8-128x72.webm")
    # When the clip is probed and a poster asked for, Then the probe answers and the poster is None
    probe = probe_video(data, "webm")
    assert (probe.width, probe.height) == (128, 72)
    assert make_poster(data, probe, max_pixels=MAX_PIXELS) is None


def test_bytes_ffmpeg_cannot_open_give_no_poster() -> None:
    # Given WebM bytes described as an MP4 (FFmpeg's mov demuxer is told to read them and refuses)
    data = _clip("clip-vp8-128x72.webm")
    probe = VideoProbe(container="mp4", video_codec="vp8", width=128, height=72, duration_ms=1500)
    # When a poster is asked for, Then it is None rather than an error
    assert make_poster(data, probe, max_pixels=MAX_PIXELS) is None


@pytest.mark.parametrize("name", list(CLIPS))
def test_a_truncated_clip_is_unreadable(name: str) -> None:
    # Given the first half of a clip
    data = _clip(name)
    half = data[: len(data) // 2]
    container = sniff_video(half)
    assert container is not None  # still sniffed as its container: the head is intact
    # When probed, Then it is refused as unreadable
    with pytest.raises(VideoRejectedError) as raised:
        probe_video(half, container)
    assert raised.value.code == "video_unreadable"


def test_a_container_head_followed_by_garbage_is_unreadable() -> None:
    # Given an MP4 ftyp box followed by random bytes
    data = _ftyp(b"isom", b"isom") + bytes(range(256)) * 8
    # When probed, Then it is refused as unreadable
    with pytest.raises(VideoRejectedError) as raised:
        probe_video(data, "mp4")
    assert raised.value.code == "video_unreadable"


def test_a_webm_header_on_another_container_is_unreadable() -> None:
    # Given an MP4 clip probed as if it were WebM (the sniffer and MediaInfo disagree)
    with pytest.raises(VideoRejectedError) as raised:
        probe_video(_clip("clip-h264-160x90.mp4"), "webm")
    # Then it is refused rather than described as another format
    assert raised.value.code == "video_unreadable"


def test_an_mp4_without_a_video_stream_is_not_a_video() -> None:
    # Given an MP4 holding AAC audio only
    data = _clip("audio-only-aac.mp4")
    assert sniff_video(data) == "mp4"
    # When probed, Then it is refused as not a video
    with pytest.raises(VideoRejectedError) as raised:
        probe_video(data, "mp4")
    assert raised.value.code == "not_a_video"


def test_the_api_imports_neither_mediainfo_nor_pyav() -> None:
    # Given a fresh interpreter with the API's environment
    code = (
        "import sys, app\n"
        "loaded = {'pymediainfo', 'av', 'PIL'} & set(sys.modules)\n"
        "assert not loaded, f'imported by the API: {loaded}'\n"
    )
    env = {"SLEEVE_BUCKET_NAME": "b", "SLEEVE_JWT_SECRET": "x" * 32, "PATH": "/usr/bin:/bin"}
    # When the Chalice app (every route, every worker) is imported
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    # Then neither video library (nor Pillow) is loaded
    assert done.returncode == 0, done.stderr
