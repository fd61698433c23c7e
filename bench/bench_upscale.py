"""Benchmark: the local Real-ESRGAN x4plus upscaler against plain Lanczos, per input size.

For each input size (128, 300 and 600 px squares), medians over --runs runs of:

- local: ``LocalRealEsrgan.start`` as a job runs it (worker subprocess start, imports, model load, the x4 run on the
  CPU with gpuid=-1, PNG encode, the parent's decode check), wall seconds;
- baseline: ``imaging.upscale.resample`` x4 with Lanczos to the same output size, in the same run (--lanczos-runs runs);
- the local output's size: an input above ``SLEEVE_LOCAL_UPSCALE_MAX_INPUT_PX`` (350) is reduced to it before the model,
  so the 600 px input's local output is 1400 px where Lanczos x4 makes 2400 px;
- the ratio local / Lanczos, and the peak RSS of the worker subprocess (``ru_maxrss`` of the children of a fresh
  measuring process per size, so one size's peak is not another's).

Inputs: ``../shared/images/lowres-128.jpg`` as is (128 px), and the centre square of
``../shared/images/photo-2725x2225.jpg`` resized to 300 and 600 px (JPEG q90, in a temp dir). x4plus on the CPU is
single-threaded and slow (a 300 px input is over a minute on one core), so --runs defaults to 1; the whole bench takes
about 4 minutes on a 2-core machine. When the laptop extra is missing the local side is skipped with its reason.
Run: ``.venv/bin/python bench/bench_upscale.py [--runs N] [--sizes 128,300,600]``. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_IMAGES = REPO_ROOT.parent / "shared" / "images"
sys.path.insert(0, str(REPO_ROOT))

from PIL import Image, ImageOps  # noqa: E402

from chalicelib.config import Settings  # noqa: E402
from chalicelib.imaging.upscale import resample  # noqa: E402
from chalicelib.providers.local_upscaler import LocalRealEsrgan  # noqa: E402
from chalicelib.providers.upscaling import UpscaleRequest  # noqa: E402

#: The bench's own limit: a 600 px input takes minutes on one core, and the default 300 s is a job's, not a bench's.
BENCH_TIMEOUT_S = 1800


def make_input(size: int, folder: Path) -> Path:
    """The bench input of ``size`` px: lowres-128.jpg itself for 128, else the photo's centre square resized."""
    if size == 128:
        return SHARED_IMAGES / "lowres-128.jpg"
    with Image.open(SHARED_IMAGES / "photo-2725x2225.jpg") as photo:
        square = ImageOps.fit(photo.convert("RGB"), (size, size), Image.Resampling.LANCZOS)
    path = folder / f"input-{size}.jpg"
    square.save(path, "JPEG", quality=90)
    return path


def measure_local(path: Path, runs: int) -> dict[str, Any]:
    """In this (fresh) process: ``runs`` upscales of ``path``, and the peak RSS of the worker subprocesses."""
    upscaler = LocalRealEsrgan(
        Settings(bucket_name="bench", jwt_secret="bench", local_upscale_timeout_s=BENCH_TIMEOUT_S)
    )
    reason = upscaler.unavailable_reason()
    if reason is not None:
        return {"unavailable": reason}
    data = path.read_bytes()
    request = UpscaleRequest(job_id="bench", image=data, image_url="file://bench", width=0, height=0)
    seconds, size = [], (0, 0)
    for _ in range(runs):
        start = time.perf_counter()
        result = upscaler.start(request)
        seconds.append(time.perf_counter() - start)
        size = (result.width, result.height)
    # ru_maxrss of the children: KiB on Linux, the largest of any child waited for (the --check import is smaller).
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds": seconds, "size": size, "peak_rss_mib": peak_kib / 1024}


def measure_lanczos(path: Path, runs: int) -> tuple[list[float], tuple[int, int]]:
    data = path.read_bytes()
    seconds, size = [], (0, 0)
    for _ in range(runs):
        start = time.perf_counter()
        _png, width, height = resample(data, scale=4)
        seconds.append(time.perf_counter() - start)
        size = (width, height)
    return seconds, size


def run_local_in_fresh_process(path: Path, runs: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--measure-local", str(path), "--runs", str(runs)],
        capture_output=True,
        text=True,
        check=False,
        timeout=BENCH_TIMEOUT_S * runs + 60,
    )
    if done.returncode != 0:
        return {"unavailable": f"the measuring process failed: {done.stderr.strip().splitlines()[-1:]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="local upscales per size (default 1: minutes each)")
    parser.add_argument("--lanczos-runs", type=int, default=5, help="Lanczos baseline runs per size")
    parser.add_argument("--sizes", default="128,300,600", help="input sizes, px, comma-separated")
    parser.add_argument("--measure-local", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_local is not None:
        print(json.dumps(measure_local(args.measure_local, args.runs)))
        return

    sizes = [int(size) for size in args.sizes.split(",")]
    print(
        f"local Real-ESRGAN x4plus (CPU, gpuid=-1) vs Lanczos x4; medians of N={args.runs} local and "
        f"{args.lanczos_runs} Lanczos runs per size"
    )
    print(
        f"{'input':>7} {'lanczos out':>11} {'local out':>11} {'local s':>9} {'lanczos s':>10} {'ratio':>7}"
        f" {'worker peak RSS':>16}"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="sleeve-bench-upscale-") as folder:
        for size in sizes:
            path = make_input(size, Path(folder))
            lanczos_s, out = measure_lanczos(path, args.lanczos_runs)
            local = run_local_in_fresh_process(path, args.runs)
            lanczos_med = statistics.median(lanczos_s)
            row: dict[str, Any] = {"input_px": size, "output": list(out), "lanczos_s": round(lanczos_med, 4)}
            if "unavailable" in local:
                row["local"] = local["unavailable"]
                print(
                    f"{size:>5}px {out[0]:>5}x{out[1]:<5} {'-':>11} {'off':>9} {lanczos_med:>10.3f}",
                    f"  local: {local['unavailable']}",
                )
            else:
                local_med = statistics.median(local["seconds"])
                row.update(
                    local_s=round(local_med, 2),
                    local_runs_s=[round(value, 2) for value in local["seconds"]],
                    ratio=round(local_med / lanczos_med, 1),
                    worker_peak_rss_mib=round(local["peak_rss_mib"]),
                    local_output=list(local["size"]),
                )
                local_out = f"{local['size'][0]}x{local['size'][1]}"
                print(
                    f"{size:>5}px {out[0]:>5}x{out[1]:<5} {local_out:>11} {local_med:>9.1f} {lanczos_med:>10.3f} "
                    f"{local_med / lanczos_med:>6.0f}x {local['peak_rss_mib']:>12.0f} MiB"
                )
            rows.append(row)
    print(json.dumps({"bench": "upscale", "runs": args.runs, "lanczos_runs": args.lanczos_runs, "rows": rows}))


if __name__ == "__main__":
    main()
