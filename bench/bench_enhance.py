"""Benchmark: Replicate's end-to-end latency through the fake Replicate server on the embedded stack, and the overhead
Sleeve adds on top of the provider's own prediction time (aim: under 1 s).

Set-up (not timed): the fake Replicate on loopback in this process (``FakeReplicateServer``; predictions advance by
time only, ``starting`` → ``processing`` → ``succeeded`` one step per ``--step-s``, as ``make fake-replicate`` does),
and ``python -m chalicelib.local`` in a child process (``spawn_stack``, what ``make run`` runs) with the fake's
``SLEEVE_REPLICATE_*`` settings, so new jobs run on Replicate and its webhooks come back to the local API. For each
run, a release whose cover ``../shared/images/portrait-450x600.jpg`` (short side 450 px: offered, not automatic) was
uploaded through the presigned POST and ingested.

Timed per run: ``POST /releases/{id}/artwork/enhance`` → the job ``succeeded`` (the result ingested and linked). The
figures come from the records' own timestamps (one machine, one clock): the job's ``created_at``, ``started_at``,
``finished_at``; the fake's prediction ``created_at``/``completed_at``; the result asset's ``created_at`` (the worker
downloaded the output and created it) and ``updated_at`` (its ingest made it ready), read from the stack's moto.

- end to end: job ``finished_at − created_at``; also as the client saw it (``GET /jobs/{id}`` every 20 ms).
- provider: the prediction's ``completed_at − created_at`` (its queue, its processing and making the 1800×2400 PNG).
- overhead = end to end − provider, in steps: queue (job.run over SQS to the worker), create (read the original,
  presign its GET, ``POST /predictions``), webhook (the fake's signed delivery until the API answered it: verified,
  receipt written, job.prediction queued; the time of the API's ``request`` log line), result (job.prediction over
  SQS to the worker, which downloads the output, tops it up (decode and PNG re-encode even when it is large enough)
  and creates the result asset), ingest (PUT to S3, S3 → SQS, the ingest worker makes the variants and download
  formats of the 1800×2400 result), settle (the success transaction).
- two baselines measured in the same run: the ingest of the same output PNG uploaded as an ordinary cover (from S3's
  answer to the form until the asset is ready), and ``imaging.upscale.top_up`` of that PNG in this process.

Medians over ``--runs`` after one warm-up run (the worker's first Replicate call reads the model's latest version).
Two shared cores: the stack, moto, the fake and this script share them. Run: ``.venv/bin/python
bench/bench_enhance.py [--runs N] [--step-s S]``. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import boto3  # noqa: E402
import httpx  # noqa: E402

from chalicelib.auth import issue_local_token  # noqa: E402
from chalicelib.imaging.upscale import top_up  # noqa: E402
from chalicelib.local.environment import stage_environment  # noqa: E402
from chalicelib.local.fake_replicate import FakeReplicate, FakeReplicateServer  # noqa: E402
from chalicelib.local.process import StackProcess, spawn_stack  # noqa: E402

COVER = REPO_ROOT.parent / "shared" / "images" / "portrait-450x600.jpg"
AIM_OVERHEAD_S = 1.0
POLL_S = 0.02
WAIT_S = 120.0
STEPS = ("queue", "create", "webhook", "result", "ingest", "settle")


class Api:
    """The stack's API as one subject (a fresh one per benchmark run, so the releases never collide)."""

    def __init__(self, url: str, secret: str, subject: str) -> None:
        token = issue_local_token(subject=subject, groups=[], secret=secret)
        self.http = httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"})

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = self.http.request(method, path, json=body)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json()


def wait(probe: Any, what: str, interval_s: float = POLL_S) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(interval_s)
    raise RuntimeError(f"timed out waiting for {what}")


def upload_cover(api: Api, data: bytes, content_type: str, filename: str) -> tuple[str, float]:
    """A new release with ``data`` posted to S3 as its cover; (its id, the wall time S3 answered the form)."""
    release = api.call("POST", "/releases", {"title": "Bench", "display_artist": "Bench"}, expect=201)
    ticket = api.call(
        "POST",
        f"/releases/{release['id']}/artwork/uploads",
        {"content_type": content_type, "content_length": len(data), "filename": filename},
        expect=201,
    )
    posted = httpx.post(ticket["url"], data=ticket["fields"], files={"file": (filename, data, content_type)})
    if posted.status_code not in (200, 201, 204):
        raise RuntimeError(f"S3 refused the form: {posted.status_code} {posted.text[:300]}")
    return str(release["id"]), time.time()


def ready(api: Api, release_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        view: dict[str, Any] = api.call("GET", f"/releases/{release_id}/artwork")
        if view["status"] == "failed":
            raise RuntimeError(f"the cover of {release_id} failed: {view['error']}")
        return view if view["status"] == "ready" else None

    return dict(wait(probe, f"the cover of {release_id}"))


def stamp(value: str | None) -> float:
    """An ISO 8601 time (the API's ``…Z``, Replicate's, PynamoDB's ``…+0000``, the logs' ``… 08:39:39,362+0000``)
    as epoch seconds."""
    if not value:
        raise RuntimeError("a timestamp is missing")
    return datetime.fromisoformat(value.replace("Z", "+00:00").replace(",", ".")).timestamp()


class Timeline:
    """Reads what a run wrote: the result asset's times from the stack's moto."""

    def __init__(self, stack: StackProcess) -> None:
        self.stack = stack
        self.table = stack.table_name
        self.dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=stack.moto_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def asset_times(self, asset_id: str) -> tuple[float, float]:
        """(created_at, updated_at) of an asset, as epoch seconds."""
        item = self.dynamodb.get_item(
            TableName=self.table, Key={"pk": {"S": f"ASSET#{asset_id}"}, "sk": {"S": "ASSET"}}, ConsistentRead=True
        )["Item"]
        return stamp(item["created_at"]["S"]), stamp(item["updated_at"]["S"])

    def webhook_answered(self, after: float) -> float:
        """When the API logged its answer to the first ``POST /webhooks/replicate`` after ``after`` (epoch s)."""
        for line in self.stack.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.startswith("{") or '"/webhooks/replicate"' not in line:
                continue
            record = json.loads(line)
            if record.get("message") == "request" and (at := stamp(record["timestamp"])) >= after - 0.001:
                return at
        raise RuntimeError("the stack logged no webhook request")


def enhance_once(api: Api, fake: FakeReplicate, timeline: Timeline, release_id: str) -> tuple[dict[str, float], str]:
    """One timed enhancement of ``release_id``'s ready cover: its figures in seconds, and the output file's URL."""
    sent = time.perf_counter()
    job = api.call("POST", f"/releases/{release_id}/artwork/enhance", expect=202)
    if job["provider"] != "replicate":
        raise RuntimeError(f"the job runs on {job['provider']}, not Replicate: is the fake's token set?")

    def settled() -> dict[str, Any] | None:
        current: dict[str, Any] = api.call("GET", f"/jobs/{job['id']}")
        # moto's server applies an update's actions one by one: wait for the finished_at written with the status.
        return current if current["status"] in ("succeeded", "failed", "canceled") and current["finished_at"] else None

    done = wait(settled, f"job {job['id']}")
    seen = time.perf_counter() - sent
    if done["status"] != "succeeded":
        raise RuntimeError(f"job {job['id']} ended {done['status']}: {done['error']}")
    [prediction] = [p for p in fake.predictions() if p["id"] == done["external_id"]]
    result_created, result_ready = timeline.asset_times(done["result_asset_id"])
    webhook = timeline.webhook_answered(stamp(prediction["completed_at"]))
    created, started, finished = (stamp(done[k]) for k in ("created_at", "started_at", "finished_at"))
    predicted, completed = stamp(prediction["created_at"]), stamp(prediction["completed_at"])
    total = finished - created
    provider = completed - predicted
    figures = {
        "end_to_end_s": total,
        "client_s": seen,
        "provider_s": provider,
        "overhead_s": total - provider,
        "queue_s": started - created,
        "create_s": predicted - started,
        "webhook_s": webhook - completed,
        "result_s": result_created - webhook,
        "ingest_s": result_ready - result_created,
        "settle_s": finished - result_ready,
    }
    return figures, str(prediction["output"])


def ingest_baseline(api: Api, timeline: Timeline, png: bytes) -> float:
    """The same output PNG uploaded as an ordinary cover: seconds from S3's answer to the asset being ready."""
    release_id, posted = upload_cover(api, png, "image/png", "enhanced.png")
    view = ready(api, release_id)
    _, ready_at = timeline.asset_times(view["asset_id"])
    return ready_at - posted


def top_up_s(png: bytes) -> float:
    """Seconds ``top_up`` takes on the output PNG here (no resampling: 1800×2400 is past 1400 px already)."""
    began = time.perf_counter()
    top_up(png, target_px=1400)
    return time.perf_counter() - began


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs after one warm-up (default 5)")
    parser.add_argument("--step-s", type=float, default=0.5, help="the fake's seconds per prediction step (0.5)")
    args = parser.parse_args(argv)
    if not COVER.is_file():
        print(f"missing {COVER}: the shared test images must sit beside the checkout", file=sys.stderr)
        return 2
    cover = COVER.read_bytes()
    secret = stage_environment(REPO_ROOT, "local")["SLEEVE_JWT_SECRET"]
    fake = FakeReplicate(gets_per_step=None, seconds_per_step=args.step_s)
    with FakeReplicateServer(fake) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLEEVE_", "AWS_"))}
        env |= fake.settings_env(server.url)
        started = time.perf_counter()
        stack = spawn_stack(env=env)
        print(f"stack up in {time.perf_counter() - started:.1f} s at {stack.api_url}; fake Replicate at {server.url}")
        try:
            api = Api(stack.api_url, secret, f"bench-{uuid.uuid4().hex[:8]}")
            timeline = Timeline(stack)
            releases = []
            for _ in range(args.runs + 1):
                release_id, _ = upload_cover(api, cover, "image/jpeg", COVER.name)
                releases.append(release_id)
            for release_id in releases:
                ready(api, release_id)
            runs: list[dict[str, float]] = []
            baselines: list[float] = []
            top_ups: list[float] = []
            output_png = b""
            for index, release_id in enumerate(releases):
                figures, output_url = enhance_once(api, fake, timeline, release_id)
                label = "warm-up" if index == 0 else f"run {index}"
                print(f"{label:8} " + "  ".join(f"{k.removesuffix('_s')} {v * 1000:6.0f}" for k, v in figures.items()))
                if index == 0:
                    output_png = httpx.get(output_url).content
                    continue
                runs.append(figures)
                # Interleaved, so both see the same load.
                baselines.append(ingest_baseline(api, timeline, output_png))
                top_ups.append(top_up_s(output_png))
        finally:
            code = stack.stop()
            if code != 0:
                print(f"the stack exited {code}:\n{stack.log_tail()}", file=sys.stderr)

    keys = list(runs[0])
    medians = {key: median([r[key] for r in runs]) for key in keys}
    baseline = median(baselines)
    top_up_median = median(top_ups)
    outside_ingest = medians["overhead_s"] - medians["ingest_s"]
    print()
    print(f"Replicate through the fake, {args.runs} runs (medians, ms; the fake's step {args.step_s} s):")
    print(f"  end to end (job created → succeeded)   {medians['end_to_end_s'] * 1000:7.0f}")
    print(f"  as the client saw it (20 ms polls)     {medians['client_s'] * 1000:7.0f}")
    print(f"  the provider's own prediction          {medians['provider_s'] * 1000:7.0f}")
    print(f"  overhead Sleeve adds                   {medians['overhead_s'] * 1000:7.0f}   "
          f"(ratio end to end / provider {medians['end_to_end_s'] / medians['provider_s']:.2f})")  # fmt: skip
    for step in STEPS:
        print(f"    {step:8}                             {medians[step + '_s'] * 1000:7.0f}")
    print(f"  ingest of the same PNG as an upload    {baseline * 1000:7.0f}   (baseline, same run)")
    print(f"  top_up of that PNG (in the result step){top_up_median * 1000:7.0f}   (baseline, same run)")
    print(f"  overhead outside the ingest            {outside_ingest * 1000:7.0f}")
    verdict = "met" if medians["overhead_s"] < AIM_OVERHEAD_S else "NOT met"
    print(f"aim: overhead < {AIM_OVERHEAD_S:.0f} s: {verdict}")
    summary = {
        "runs": args.runs,
        "step_s": args.step_s,
        "median_ms": {key.removesuffix("_s"): round(value * 1000, 1) for key, value in medians.items()},
        "ingest_baseline_ms": round(baseline * 1000, 1),
        "top_up_baseline_ms": round(top_up_median * 1000, 1),
        "overhead_outside_ingest_ms": round(outside_ingest * 1000, 1),
        "ratio_end_to_end_over_provider": round(medians["end_to_end_s"] / medians["provider_s"], 3),
        "aim_overhead_ms": AIM_OVERHEAD_S * 1000,
        "aim_met": medians["overhead_s"] < AIM_OVERHEAD_S,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
