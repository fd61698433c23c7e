"""Benchmark: Sleeve's imaging pipeline against a naive baseline measured in the same run.

Inputs: ../shared/images/photo-2725x2225.jpg and a 4000x4000 JPEG (quality 90) made from it at run time in a temp dir.
Baseline (naive): for each variant, decode the file again and ``ImageOps.fit(..., LANCZOS)`` from the full decoded
image, then encode WebP with the same quality and method as the pipeline. The pipeline (``process_image``) does more
work than the baseline (original without location metadata, palette, BlurHash) and is timed with all of it.

Per input: median ms over --runs (runs interleaved ours/baseline so machine noise hits both); peak RSS of one run in
a fresh subprocess (VmHWM, total and above the RSS after imports and a warm-up on a tiny image; the memory ratio uses
the "above" figure); variant bytes; PSNR of each of our variants against the baseline's (the target), plus two
figures that explain it: PSNR of the pixels before encoding, and each side's encoded PSNR against the exact
Lanczos-from-full pixels. Prints a table and a final JSON line. Run: ``.venv/bin/python bench/bench_pipeline.py``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_IMAGES = REPO_ROOT.parent / "shared" / "images"
PHOTO = SHARED_IMAGES / "photo-2725x2225.jpg"
sys.path.insert(0, str(REPO_ROOT))

from PIL import Image, ImageChops, ImageOps, ImageStat  # noqa: E402

import chalicelib.imaging.pipeline as pipeline_module  # noqa: E402
import chalicelib.imaging.variants as variants_module  # noqa: E402
from chalicelib.imaging import VARIANT_SPECS, process_image  # noqa: E402
from chalicelib.imaging.results import EncodedImage  # noqa: E402

TARGETS = {"speedup": 2.5, "memory_ratio": 0.6, "bytes_ratio_within": 0.05, "min_psnr_db": 40.0}


def naive_squares(data: bytes) -> dict[str, Image.Image]:
    """The baseline's pixels: one decode per variant, ImageOps.fit/LANCZOS from the full decoded image."""
    squares: dict[str, Image.Image] = {}
    with Image.open(io.BytesIO(data)) as probe:
        short = min(probe.size)
    for name, (side, _quality) in VARIANT_SPECS.items():
        if side > short:
            continue
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            full = image if image.mode in ("RGB", "RGBA") else image.convert("RGB")
            squares[name] = ImageOps.fit(full, (side, side), Image.Resampling.LANCZOS)
    return squares


def naive_variants(data: bytes, method: int) -> dict[str, bytes]:
    """The baseline: decode, fit and encode each variant in turn, same WebP quality and method as ours."""
    out: dict[str, bytes] = {}
    with Image.open(io.BytesIO(data)) as probe:
        short = min(probe.size)
    for name, (side, quality) in VARIANT_SPECS.items():
        if side > short:
            continue
        image = Image.open(io.BytesIO(data))
        image.load()
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGB")
        square = ImageOps.fit(image, (side, side), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        square.save(buffer, "WEBP", quality=quality, method=method)
        out[name] = buffer.getvalue()
    return out


def ours_variants(data: bytes) -> dict[str, bytes]:
    return {name: image.data for name, image in process_image(data).variants.items()}


def ours_squares(data: bytes) -> dict[str, Image.Image]:
    """Our pixels just before WebP encoding, captured by wrapping the pipeline's encoder (not timed)."""
    captured: dict[int, Image.Image] = {}
    real_encode: Callable[[Image.Image, int], EncodedImage] = pipeline_module.encode_webp

    def capture(image: Image.Image, quality: int) -> EncodedImage:
        captured[image.width] = image.copy()
        return real_encode(image, quality)

    pipeline_module.encode_webp = capture  # type: ignore[assignment]
    try:
        process_image(data)
    finally:
        pipeline_module.encode_webp = real_encode  # type: ignore[assignment]
    by_side = {side: name for name, (side, _) in VARIANT_SPECS.items()}
    return {by_side[width]: image for width, image in captured.items()}


def as_image(value: bytes | Image.Image) -> Image.Image:
    return Image.open(io.BytesIO(value)).convert("RGB") if isinstance(value, bytes) else value.convert("RGB")


def psnr(first: bytes | Image.Image, second: bytes | Image.Image) -> float:
    """PSNR in dB of two images of the same size, over RGB (inf when identical)."""
    stat = ImageStat.Stat(ImageChops.difference(as_image(first), as_image(second)))
    mse = sum(value**2 for value in stat.rms) / len(stat.rms)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def proc_status_kb(field: str) -> int:
    """A KiB figure from /proc/self/status: VmRSS (now) or VmHWM (peak of this process image)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (proc(5): clear_refs value 5, Linux >= 4.0); a no-op where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


def child(which: str, path: str, method: int) -> None:
    """Run one implementation once in this fresh process and print its RSS figures (KiB) as JSON."""
    variants_module.WEBP_METHOD = method  # type: ignore[misc]
    data = Path(path).read_bytes()
    warm = io.BytesIO()
    Image.new("RGB", (80, 80), (120, 80, 40)).save(warm, "JPEG")
    run: Callable[[bytes], object] = ours_variants if which == "ours" else (lambda raw: naive_variants(raw, method))
    run(warm.getvalue())  # loads codecs and starts the thread pool
    # Not ru_maxrss: Linux carries the parent's high-water mark across fork+exec into it.
    reset_peak_rss()
    baseline = proc_status_kb("VmRSS")
    run(data)
    peak = proc_status_kb("VmHWM")
    print(json.dumps({"baseline_kb": baseline, "peak_kb": peak, "above_kb": peak - baseline}))


def measure_memory(which: str, path: Path, method: int, repeats: int) -> dict[str, float]:
    """Median over ``repeats`` fresh subprocesses, in MiB."""
    samples = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, __file__, "--child", which, "--input", str(path), "--webp-method", str(method)],
            check=True,
            capture_output=True,
            text=True,
        )
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(sample[key] for sample in samples) / 1024 for key in samples[0]}


def bench_input(label: str, path: Path, runs: int, mem_runs: int, method: int) -> dict[str, Any]:
    data = path.read_bytes()
    ours_out = ours_variants(data)  # warm-up, and the outputs compared below
    base_out = naive_variants(data, method)
    ours_ms, base_ms, ours_cpu, base_cpu = [], [], [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        ours_variants(data)
        ours_ms.append((time.perf_counter() - start) * 1000)
        ours_cpu.append((time.process_time() - start_cpu) * 1000)  # all threads of the process
        start, start_cpu = time.perf_counter(), time.process_time()
        naive_variants(data, method)
        base_ms.append((time.perf_counter() - start) * 1000)
        base_cpu.append((time.process_time() - start_cpu) * 1000)
    ours_mem = measure_memory("ours", path, method, mem_runs)
    base_mem = measure_memory("naive", path, method, mem_runs)
    ours_px, base_px = ours_squares(data), naive_squares(data)
    names = list(base_out)
    psnr_target = {name: psnr(ours_out[name], base_out[name]) for name in names}
    with Image.open(path) as probe:
        size = probe.size
    ours_bytes, base_bytes = sum(map(len, ours_out.values())), sum(map(len, base_out.values()))
    return {
        "input": label,
        "size": list(size),
        "ours_ms": statistics.median(ours_ms),
        "baseline_ms": statistics.median(base_ms),
        "ours_cpu_ms": statistics.median(ours_cpu),
        "baseline_cpu_ms": statistics.median(base_cpu),
        "ours_peak_rss_mib": ours_mem["peak_kb"],
        "baseline_peak_rss_mib": base_mem["peak_kb"],
        "ours_peak_above_import_mib": ours_mem["above_kb"],
        "baseline_peak_above_import_mib": base_mem["above_kb"],
        "ours_bytes": ours_bytes,
        "baseline_bytes": base_bytes,
        "psnr_db": psnr_target,
        "psnr_before_encoding_db": {name: psnr(ours_px[name], base_px[name]) for name in names},
        "psnr_ours_encoded_vs_lanczos_db": {name: psnr(ours_out[name], base_px[name]) for name in names},
        "psnr_baseline_encoded_vs_lanczos_db": {name: psnr(base_out[name], base_px[name]) for name in names},
        "speedup": statistics.median(base_ms) / statistics.median(ours_ms),
        "memory_ratio": ours_mem["above_kb"] / base_mem["above_kb"],
        "memory_ratio_total_rss": ours_mem["peak_kb"] / base_mem["peak_kb"],
        "bytes_ratio": ours_bytes / base_bytes,
        "min_psnr_db": min(psnr_target.values()),
    }


def finite(value: Any) -> Any:
    """``value`` with infinite floats (identical images' PSNR) as ``None``, so the JSON line is strict JSON."""
    if isinstance(value, float) and math.isinf(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite(item) for item in value]
    return value


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def print_report(results: list[dict[str, Any]], runs: int, method: int) -> dict[str, float]:
    cpus = len(os.sched_getaffinity(0))
    print(f"imaging pipeline vs naive baseline: median of {runs} runs; WebP method {method}; {cpus} CPUs")
    print(
        f"{'input':<24}{'ours ms':>8}{'base ms':>8}{'speedup':>9}{'ours MiB':>14}{'base MiB':>14}{'mem':>6}"
        f"{'ours B':>9}{'base B':>9}{'bytes':>7}{'min PSNR':>10}"
    )
    for row in results:
        print(
            f"{row['input']:<24}{row['ours_ms']:>8.0f}{row['baseline_ms']:>8.0f}{row['speedup']:>8.2f}x"
            f"{row['ours_peak_above_import_mib']:>6.1f} ({row['ours_peak_rss_mib']:>5.1f})"
            f"{row['baseline_peak_above_import_mib']:>6.1f} ({row['baseline_peak_rss_mib']:>5.1f})"
            f"{row['memory_ratio']:>6.2f}{row['ours_bytes']:>9}{row['baseline_bytes']:>9}"
            f"{row['bytes_ratio']:>7.3f}{row['min_psnr_db']:>8.1f}dB"
        )
    print("MiB: peak RSS above the post-import RSS (total peak RSS in brackets); mem = ours/base of the first figure.")
    for row in results:
        print(
            f"CPU time (all threads), {row['input']}: ours {row['ours_cpu_ms']:.0f} ms, "
            f"baseline {row['baseline_cpu_ms']:.0f} ms, ratio {row['baseline_cpu_ms'] / row['ours_cpu_ms']:.2f}x"
        )
    for row in results:
        print(f"PSNR dB per variant, {row['input']}:")
        for title, key in (
            ("ours vs baseline, encoded (target)", "psnr_db"),
            ("ours vs baseline, before encoding", "psnr_before_encoding_db"),
            ("ours encoded vs exact Lanczos", "psnr_ours_encoded_vs_lanczos_db"),
            ("baseline encoded vs exact Lanczos", "psnr_baseline_encoded_vs_lanczos_db"),
        ):
            print(f"  {title:<36}" + "  ".join(f"{k} {v:5.1f}" for k, v in row[key].items()))
    summary = {
        "speedup_min": min(row["speedup"] for row in results),
        "memory_ratio_max": max(row["memory_ratio"] for row in results),
        "bytes_ratio_max_deviation": max(abs(row["bytes_ratio"] - 1) for row in results),
        "min_psnr_db": min(row["min_psnr_db"] for row in results),
    }
    print(
        f"targets: speedup >= {TARGETS['speedup']}x {verdict(summary['speedup_min'] >= TARGETS['speedup'])}; "
        f"memory <= {TARGETS['memory_ratio']} {verdict(summary['memory_ratio_max'] <= TARGETS['memory_ratio'])}; "
        f"bytes within {TARGETS['bytes_ratio_within']:.0%} "
        f"{verdict(summary['bytes_ratio_max_deviation'] <= TARGETS['bytes_ratio_within'])}; "
        f"PSNR >= {TARGETS['min_psnr_db']} dB {verdict(summary['min_psnr_db'] >= TARGETS['min_psnr_db'])}"
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Imaging pipeline vs naive baseline.")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per input and implementation (>= 5)")
    parser.add_argument("--mem-runs", type=int, default=3, help="fresh subprocesses per memory figure (median)")
    parser.add_argument("--webp-method", type=int, default=variants_module.WEBP_METHOD, help="libwebp method, both")
    parser.add_argument("--child", choices=("ours", "naive"), help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.input, args.webp_method)
        return 0
    if args.runs < 5:
        parser.error("--runs must be >= 5")
    if not PHOTO.is_file():
        print(f"missing benchmark input {PHOTO} (../shared/images beside the checkout)", file=sys.stderr)
        return 1
    variants_module.WEBP_METHOD = args.webp_method  # type: ignore[misc]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "photo-4000x4000.jpg"
        with Image.open(PHOTO) as photo:
            photo.resize((4000, 4000), Image.Resampling.LANCZOS).save(big, "JPEG", quality=90)
        for label, path in (("photo-2725x2225.jpg", PHOTO), ("generated-4000x4000.jpg", big)):
            results.append(bench_input(label, path, args.runs, args.mem_runs, args.webp_method))
    summary = print_report(results, args.runs, args.webp_method)
    line = {"bench": "imaging_pipeline", "webp_method": args.webp_method, "cpus": len(os.sched_getaffinity(0))}
    line.update(targets=TARGETS, summary=summary, inputs=results)
    print(json.dumps(finite(line), allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
