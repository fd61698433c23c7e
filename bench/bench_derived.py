"""Benchmark: download formats made eagerly at ingest, against made on the first request.

Two designs for the formats a share link offers besides the stored one (png, jpeg, webp for tiny…large and original):

- eager (Sleeve's choice): the ingest worker converts every size to every other format once, stores the results under
  ``derived/`` and records them; a first download is a presigned GET like any other;
- on first request: nothing extra at ingest; the first download of a (size, format) reads the stored image, converts
  it, writes it and then redirects (in the API today, or in a separate image function behind a queue).

Per input, medians over --runs runs, interleaved so that machine noise hits both sides:

- ingest time without the derived set (the baseline: ``process_image`` + writing its objects) and with it
  (+ ``derive_formats`` + writing those objects); objects are written to an in-process moto S3 bucket;
- bytes stored, with and without the derived set;
- first-download latency: eager = the presigned GET alone (the baseline); on first request = HEAD (miss), GET of the
  stored image, ``convert_image``, PUT, presigned GET, against the same moto bucket — for every (size, format) pair;
  the table shows the default download (large in png) and the worst pair. A separate image function would add a queue
  hop and possibly a cold start on top of this; neither can be measured here, so they are not counted.

Inputs: ../shared/images/photo-2725x2225.jpg and ../shared/images/rgba-2048x1536.png (another stored format, with
alpha). Run: ``.venv/bin/python bench/bench_derived.py [--runs N]``. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_IMAGES = REPO_ROOT.parent / "shared" / "images"
INPUTS = ("photo-2725x2225.jpg", "rgba-2048x1536.png")
sys.path.insert(0, str(REPO_ROOT))

for _name, _value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}.items():
    os.environ.setdefault(_name, _value)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from chalicelib.imaging import EncodedImage, convert_image, derive_formats, process_image  # noqa: E402
from chalicelib.store.objects import ObjectStore  # noqa: E402

BUCKET = "bench"
PUT_THREADS = 8  # as chalicelib.services.ingest.PUT_THREADS


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def put_all(store: ObjectStore, prefix: str, images: dict[str, EncodedImage]) -> None:
    """Write ``images`` as the ingest worker does (parallel PUTs)."""
    with ThreadPoolExecutor(max_workers=PUT_THREADS) as pool:
        list(
            pool.map(
                lambda item: store.put_bytes(f"{prefix}/{item[0]}", item[1].data, content_type=item[1].content_type),
                images.items(),
            )
        )


def ingest_without(store: ObjectStore, data: bytes, run: str) -> dict[str, EncodedImage]:
    result = process_image(data)
    sizes = {**result.variants, "original": result.original}
    put_all(store, f"without/{run}", sizes)
    return sizes


def ingest_with(store: ObjectStore, data: bytes, run: str) -> dict[str, EncodedImage]:
    result = process_image(data)
    sizes = {**result.variants, "original": result.original}
    derived = derive_formats(sizes)
    flat = {**sizes, **{f"{size}-{fmt}": image for size, formats in derived.items() for fmt, image in formats.items()}}
    put_all(store, f"with/{run}", flat)
    return flat


def first_download_on_request(store: ObjectStore, key: str, image: EncodedImage, fmt: str, target: str) -> None:
    """What the API did on a first request before this change (ShareLinkService._derived), then the redirect."""
    if store.head(target) is None:
        source = EncodedImage(store.get_bytes(key), image.width, image.height, image.format)
        converted = convert_image(source, fmt)
        store.put_bytes(target, converted.data, content_type=converted.content_type)
    store.presign_get(target, expires_in=300)


def bench_input(store: ObjectStore, name: str, runs: int) -> dict[str, Any]:
    data = (SHARED_IMAGES / name).read_bytes()
    ingest_with(store, data, f"{name}/warm-up")  # imports, thread pools, moto
    without_s: list[float] = []
    with_s: list[float] = []
    for run in range(runs):
        without_s.append(timed(lambda run=run: ingest_without(store, data, f"{name}/{run}")))
        with_s.append(timed(lambda run=run: ingest_with(store, data, f"{name}/{run}")))
    sizes = ingest_without(store, data, f"{name}/sizes")
    derived = derive_formats(sizes)
    stored_without = sum(len(image.data) for image in sizes.values())
    stored_with = stored_without + sum(len(image.data) for formats in derived.values() for image in formats.values())

    for size, image in sizes.items():
        store.put_bytes(f"stored/{name}/{size}", image.data, content_type=image.content_type)
    eager_s: list[float] = []
    on_request: dict[str, list[float]] = {f"{size}-{fmt}": [] for size, formats in derived.items() for fmt in formats}
    for run in range(runs):
        eager_s.append(timed(lambda: store.presign_get(f"derived/{name}/large.png", expires_in=300)))
        for size, formats in derived.items():
            for fmt in formats:
                target = f"on-request/{name}/{run}/{size}.{fmt}"
                on_request[f"{size}-{fmt}"].append(
                    timed(
                        lambda size=size, fmt=fmt, target=target: first_download_on_request(
                            store, f"stored/{name}/{size}", sizes[size], fmt, target
                        )
                    )
                )
    on_request_ms = {pair: median_ms(samples) for pair, samples in on_request.items()}
    worst = max(on_request_ms, key=lambda pair: on_request_ms[pair])
    default = "large-png" if "large-png" in on_request_ms else worst
    eager_ms = median_ms(eager_s)
    return {
        "input": name,
        "derived_objects": sum(len(formats) for formats in derived.values()),
        "ingest_without_ms": round(median_ms(without_s), 1),
        "ingest_with_ms": round(median_ms(with_s), 1),
        "ingest_ratio": round(statistics.median(with_s) / statistics.median(without_s), 2),
        "bytes_without": stored_without,
        "bytes_with": stored_with,
        "bytes_ratio": round(stored_with / stored_without, 2),
        "first_download_eager_ms": round(eager_ms, 3),
        "first_download_on_request_ms": {pair: round(ms, 1) for pair, ms in on_request_ms.items()},
        "default_pair": default,
        "worst_pair": worst,
        "first_download_ratio_default": round(on_request_ms[default] / eager_ms, 1),
        "first_download_ratio_worst": round(on_request_ms[worst] / eager_ms, 1),
    }


def print_report(results: list[dict[str, Any]], runs: int) -> None:
    print(f"Download formats: eager at ingest vs on first request. Medians of {runs} runs, {os.cpu_count()} CPUs.")
    print()
    header = (
        "| input | ingest without → with derived | ratio | bytes stored without → with | ratio "
        "| first download: eager | on request (default pair) | on request (worst pair) |"
    )
    print(header)
    print("|" + "---|" * 8)
    for r in results:
        default, worst = r["default_pair"], r["worst_pair"]
        print(
            f"| {r['input']} | {r['ingest_without_ms']:.0f} → {r['ingest_with_ms']:.0f} ms "
            f"| **{r['ingest_ratio']:.2f}×** | {r['bytes_without']:,} → {r['bytes_with']:,} B "
            f"| **{r['bytes_ratio']:.2f}×** | {r['first_download_eager_ms']:.2f} ms "
            f"| {default}: {r['first_download_on_request_ms'][default]:.0f} ms "
            f"(**{r['first_download_ratio_default']:,.0f}×**) "
            f"| {worst}: {r['first_download_on_request_ms'][worst]:.0f} ms "
            f"(**{r['first_download_ratio_worst']:,.0f}×**) |"
        )
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Derived download formats: eager at ingest vs on first request.")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per input and design (>= 3)")
    args = parser.parse_args(argv)
    if args.runs < 3:
        parser.error("--runs must be >= 3")
    missing = [name for name in INPUTS if not (SHARED_IMAGES / name).is_file()]
    if missing:
        print(f"missing benchmark inputs {missing} in {SHARED_IMAGES}", file=sys.stderr)
        return 1
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        store = ObjectStore(s3, BUCKET)
        results = [bench_input(store, name, args.runs) for name in INPUTS]
    print_report(results, args.runs)
    print(json.dumps({"bench": "derived_formats", "runs": args.runs, "cpus": os.cpu_count(), "inputs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
