"""Benchmark: probing a video with MediaInfo (pymediainfo, what ingest uses) against PyAV (FFmpeg), on the same files.

Both read the same bytes from memory, as the ingest worker holds them, and report container, codec, width, height and
duration; neither decodes a frame. (PyAV's header probe gives the stored size of a rotated clip: the display matrix is
read from a decoded frame, ``VideoFrame.rotation``; MediaInfo gives the displayed size.) PyAV is told the demuxer (as
``make_poster`` is), so neither side pays for format probing. Also timed: ``make_poster`` (PyAV seeks to the poster's
frame, decodes it, Pillow writes the JPEG), which MediaInfo cannot do at all.

Inputs: the committed test clips (tests/fixtures/video, 2–6 kB each) and three larger clips made with PyAV in a temp
dir at run time: H.264 1280×720 10 s (MP4), VP8 1280×720 4 s (WebM), MPEG-4 Part 2 1920×1080 3 s (QuickTime).
Per file, median wall ms over --runs runs, the two probes interleaved so that machine noise hits both; then the peak
RSS (``VmHWM``) above the RSS after imports, and the wall ms, of what the worker does to a --large-mib MiB QuickTime
file (the 1080p clip's packets muxed again until that size) held in memory: probe, poster, SHA-256, in a fresh
subprocess.

Run: ``.venv/bin/python bench/bench_video_probe.py [--runs N]`` (needs requirements-dev.txt: PyAV). Prints a table,
then one JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "video"
sys.path.insert(0, str(REPO_ROOT))

import av  # noqa: E402

from chalicelib.imaging.sniff import VideoContainer, sniff_video  # noqa: E402
from chalicelib.imaging.video import make_poster, probe_video  # noqa: E402

#: name, PyAV format, encoder, width, height, fps, frames, encoder options
LARGER = [
    ("h264-1280x720-10s.mp4", "mp4", "libx264", 1280, 720, 24, 240, {"preset": "veryfast", "crf": "26"}),
    ("vp8-1280x720-4s.webm", "webm", "libvpx", 1280, 720, 24, 96, {"deadline": "realtime", "cpu-used": "8"}),
    ("mpeg4-1920x1080-3s.mov", "mov", "mpeg4", 1920, 1080, 25, 75, {}),
]
DEMUXERS = {"mp4": "mov", "mov": "mov", "webm": "matroska"}
MAX_PIXELS = 40_000_000


def make_clip(
    path: Path, fmt: str, codec: str, width: int, height: int, fps: int, frames: int, opts: dict[str, str]
) -> None:
    """A moving gradient with noise-free detail (so the encoders have something to code), no audio."""
    from PIL import Image, ImageDraw

    with av.open(str(path), mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = opts
        base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
        for index in range(frames):
            image = base.copy()
            x = index * width // frames
            ImageDraw.Draw(image).ellipse((x, height // 4, x + height // 2, 3 * height // 4), fill=(200, 40, 90))
            frame = av.VideoFrame.from_image(image).reformat(format="yuv420p")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def pyav_probe(data: bytes, container: VideoContainer) -> dict[str, Any]:
    """What ``probe_video`` reports, read by PyAV: the demuxer's header parse, no frame decoded."""
    with av.open(io.BytesIO(data), mode="r", format=DEMUXERS[container]) as opened:
        stream = opened.streams.video[0]
        return {
            "video_codec": stream.codec_context.name,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "duration_ms": round(opened.duration / 1000) if opened.duration else None,
        }


def mediainfo_probe(data: bytes, container: VideoContainer) -> dict[str, Any]:
    probe = probe_video(data, container)
    return {
        "video_codec": probe.video_codec,
        "width": probe.width,
        "height": probe.height,
        "duration_ms": probe.duration_ms,
    }


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> float:
    """Wall ms of one call."""
    start = time.perf_counter()
    fn(*args, **kwargs)
    return (time.perf_counter() - start) * 1000


def make_large(source: Path, target: Path, mib: int) -> None:
    """A ``mib`` MiB QuickTime file made fast: ``source``'s encoded packets muxed again and again, timestamps moved on
    (a GOP boundary at each repeat), so it has a real index and frames without encoding them."""
    with av.open(str(source)) as src, av.open(str(target), mode="w", format="mov") as dst:
        in_stream = src.streams.video[0]
        out_stream = dst.add_stream_from_template(in_stream)
        packets = [(p.pts, p.dts, bytes(p), p.is_keyframe) for p in src.demux(in_stream) if p.size]
        span = max(pts for pts, *_ in packets) + (packets[1][0] - packets[0][0])
        written, repeat = 0, 0
        while written < mib * 2**20:
            for pts, dts, data, key in packets:
                packet = av.Packet(data)
                packet.pts, packet.dts = pts + repeat * span, dts + repeat * span
                packet.time_base, packet.stream, packet.is_keyframe = in_stream.time_base, out_stream, key
                dst.mux(packet)
                written += len(data)
            repeat += 1


def peak_rss(path: Path) -> dict[str, float]:
    """One ingest's work on ``path`` in a fresh interpreter, as the worker does it on bytes in memory: read, probe,
    poster, SHA-256. Wall ms of each and VmHWM above the RSS after imports, in MiB."""
    code = f"""
import hashlib, sys, time; sys.path.insert(0, {str(REPO_ROOT)!r})
import av, pymediainfo, PIL.Image
from chalicelib.imaging.sniff import sniff_video
from chalicelib.imaging.video import make_poster, probe_video
def status(name):
    return int(next(l for l in open('/proc/self/status') if l.startswith(name)).split()[1]) / 1024
before = status('VmRSS:')
data = open({str(path)!r}, 'rb').read()
t0 = time.perf_counter(); probe = probe_video(data, sniff_video(data))
t1 = time.perf_counter(); poster = make_poster(data, probe, max_pixels={MAX_PIXELS})
t2 = time.perf_counter(); hashlib.sha256(data).hexdigest()
t3 = time.perf_counter()
print(before, status('VmHWM:'), len(data) / 2**20, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, probe.duration_ms)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    before, peak, size, probe_ms, poster_ms, sha_ms, duration_ms = map(float, out)
    return {
        "file_mib": round(size, 1),
        "duration_s": round(duration_ms / 1000),
        "peak_above_imports_mib": round(peak - before, 1),
        "probe_ms": round(probe_ms, 1),
        "poster_ms": round(poster_ms, 1),
        "sha256_ms": round(sha_ms, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--large-mib", type=int, default=100, help="size of the file the memory is measured on")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = sorted(p for p in FIXTURES.iterdir() if p.name.startswith("clip-"))
        for name, *spec in LARGER:
            make_clip(Path(tmp) / name, *spec)  # type: ignore[arg-type]
            files.append(Path(tmp) / name)
        rows = []
        for path in files:
            data = path.read_bytes()
            container = sniff_video(data)
            assert container is not None, path
            ours, theirs = mediainfo_probe(data, container), pyav_probe(data, container)
            probe = probe_video(data, container)
            mediainfo_ms, pyav_ms, poster_ms = [], [], []
            for _ in range(args.runs):
                mediainfo_ms.append(timed(probe_video, data, container))
                pyav_ms.append(timed(pyav_probe, data, container))
                poster_ms.append(timed(make_poster, data, probe, max_pixels=MAX_PIXELS))
            rows.append(
                {
                    "file": path.name,
                    "bytes": len(data),
                    "mediainfo_ms": round(statistics.median(mediainfo_ms), 2),
                    "pyav_ms": round(statistics.median(pyav_ms), 2),
                    "poster_ms": round(statistics.median(poster_ms), 2),
                    "mediainfo": ours,
                    "pyav": theirs,
                }
            )
        large = Path(tmp) / f"mpeg4-1920x1080-{args.large_mib}mib.mov"
        make_large(Path(tmp) / LARGER[2][0], large, args.large_mib)
        memory = peak_rss(large)
    print(f"{'file':32} {'bytes':>9} {'MediaInfo ms':>13} {'PyAV ms':>8} {'ratio':>6} {'poster ms':>10}  agree")
    for row in rows:
        differ = [f"{k} {v} vs {row['pyav'][k]}" for k, v in row["mediainfo"].items() if row["pyav"][k] != v]
        agree = f"no: {', '.join(differ)}" if differ else "yes"
        ratio = row["mediainfo_ms"] / row["pyav_ms"]
        print(
            f"{row['file']:32} {row['bytes']:>9} {row['mediainfo_ms']:>13.2f} {row['pyav_ms']:>8.2f} {ratio:>6.2f}"
            f" {row['poster_ms']:>10.2f}  {agree}"
        )
    print(f"one ingest's probe + poster + SHA-256 of a {args.large_mib} MiB file held in memory: {memory}")
    print(json.dumps({"runs": args.runs, "files": rows, "memory": memory}))


if __name__ == "__main__":
    main()
