"""Benchmark: one DSP sync of a 20-track release against the fake DSP served on loopback, with moto in-process.

Set-up (not timed): ``moto.mock_aws`` provisioned from infra/template.json (as tests/integration/conftest.py does), a
``FakeDspServer`` on 127.0.0.1 whose settings (``FakeDsp.settings_env``) the app reads, and ``--runs`` + 1 released
releases made through the API (``chalice.test.Client``), each with its own 20-track album on all three services: 18
tracks carry the DSP's ISRCs, 2 have none (matched by score, their ISRCs filled), titles and durations agree, so each
sync ends locked (``released → locked``, ``locked_by_sync``) with no conflict. The release-now message each release
sent to the sync queue is the one synced.

Measured per sync (``DspSyncService.handle_message`` on that message, as the sync worker calls it):
- requests per provider, from the fake's request log, against the documented minimum: Spotify token 1 (cached for
  later syncs in the same process) + ``GET /search`` 1 + ``GET /albums/{id}`` 1 (its first 50 tracks included, so no
  ``/albums/{id}/tracks`` page for 20 tracks) + one ``GET /tracks/{id}`` per track for the ISRC (no batch endpoint in
  development mode); Apple Music 1 (``albums?filter[upc]`` with the tracks relationship; ``next`` pages only past
  300 tracks); MusicBrainz 1 search + 1 release lookup with ``inc=recordings+isrcs``.
- DynamoDB calls: ``botocore.client.BaseClient._make_api_call`` is wrapped for the run, so every call of every
  botocore client counts, PynamoDB's (6.x calls ``client._make_api_call``) and boto3's alike, per operation name.
- wall time: median over ``--runs`` syncs after one warm-up sync (the cold first sync, with the token and the
  imports, is shown apart), against a baseline measured in the same run: the same providers' ``find_release`` calls
  alone (the HTTP part), interleaved with the syncs. The time spent inside DynamoDB calls is shown apart: moto
  in-process deep-copies every table on each ``TransactWriteItems``, so that part measures the emulator (it grows with
  the table), not DynamoDB; the ratio compares the sync without it to the fetches.
- matching 99×99 tracks: ``bench/bench_matching.py``'s ``album`` input through ``dsp_matching.match_tracks``
  (median of its runs), aim < 50 ms.
MusicBrainz's documented limit of one request per second per process is switched off here
(``SLEEVE_MUSICBRAINZ_MIN_INTERVAL_S=0``, as for every test against the fake): in AWS each sync waits about 1 s for it.
Run: ``.venv/bin/python bench/bench_sync.py [--runs N]``. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

# The app's settings for the local stage on moto's dummy keys; the developer's own SLEEVE_*/AWS_* never apply.
for _name in [n for n in os.environ if n.startswith(("SLEEVE_", "AWS_"))]:
    del os.environ[_name]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SLEEVE_STAGE": "local",
        "SLEEVE_BUCKET_NAME": "sleeve-local-media-123456789012-us-east-1",
        "SLEEVE_JWT_SECRET": "bench-secret-of-at-least-thirty-two-bytes",
        "POWERTOOLS_LOG_LEVEL": "WARNING",  # the API's request lines of the set-up
    }
)

import boto3  # noqa: E402
import botocore.client  # noqa: E402
import httpx  # noqa: E402
from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

from chalicelib.auth import issue_local_token  # noqa: E402
from chalicelib.local.fake_dsp import FakeAlbum, FakeCatalogue, FakeTrack  # noqa: E402
from chalicelib.local.provision import provision  # noqa: E402

TRACKS = 20
WITHOUT_ISRC = (7, 15)  # local tracks (1-based) created without an ISRC: matched by score, filled from the DSP
#: The fewest requests the documented endpoints allow for one 20-track album (see the module docstring).
MINIMUM = {
    "spotify": {"cold": 1 + 1 + 1 + 0 + TRACKS, "warm": 1 + 1 + 0 + TRACKS},
    "apple_music": {"cold": 1, "warm": 1},
    "musicbrainz": {"cold": 2, "warm": 2},
}
AIM_MATCHING_MS = 50.0


def upc_for(index: int) -> str:
    """A valid UPC-A (GS1 check digit) ``0 50000 0NNNN c``."""
    body = f"05000000{index:03d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def isrc_for(release: int, track: int) -> str:
    return f"GBBEN26{release:02d}{track:03d}"


def album_for(index: int) -> FakeAlbum:
    """Release ``index``'s album on all three services: 20 tracks, released today (the day release-now sets)."""
    tracks = [
        FakeTrack(
            title=f"Song {n} of {index}", track_number=n, duration_ms=180_000 + n * 3_000, isrc=isrc_for(index, n)
        )
        for n in range(1, TRACKS + 1)
    ]
    return FakeAlbum(
        upc=upc_for(index), title=f"Bench {index}", artist="Bench", release_date=datetime.now(UTC).date(), tracks=tracks
    )


class AwsCounter:
    """Counts botocore API calls per (service, operation), and the ms spent in them, while installed (wraps
    ``BaseClient._make_api_call``, which boto3's clients and PynamoDB 6's connection both go through)."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.ms: Counter[str] = Counter()
        self.transact_items: list[int] = []
        self._lock = threading.Lock()

    @contextmanager
    def installed(self) -> Iterator[AwsCounter]:
        original = botocore.client.BaseClient._make_api_call
        counter = self

        def counting(client: Any, operation: str, params: Any) -> Any:
            service = client.meta.service_model.service_name
            start = time.perf_counter()
            try:
                return original(client, operation, params)
            finally:
                with counter._lock:
                    counter.calls[(service, operation)] += 1
                    if operation == "TransactWriteItems":
                        counter.transact_items.append(len(params.get("TransactItems", [])))
                    counter.ms[service] += (time.perf_counter() - start) * 1000

        botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]

    def take(self) -> tuple[Counter[tuple[str, str]], Counter[str], list[int]]:
        """The calls, the ms per service and the items of each transaction since the last ``take``."""
        with self._lock:
            taken = self.calls, self.ms, self.transact_items
            self.calls, self.ms, self.transact_items = Counter(), Counter(), []
        return taken


def call(client: Client, method: str, path: str, body: Any = None) -> dict[str, Any]:
    token = issue_local_token(subject="bench", groups=[], secret=os.environ["SLEEVE_JWT_SECRET"])
    response = client.http.request(
        method,
        path,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body=json.dumps(body).encode() if body is not None else b"",
    )
    if response.status_code >= 300:
        raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.body!r}")
    answer: dict[str, Any] = json.loads(response.body)
    return answer


def released_release(client: Client, index: int) -> str:
    """A released release matching ``album_for(index)``, made through the API; its id."""
    release = call(
        client, "POST", "/releases", {"title": f"Bench {index}", "display_artist": "Bench", "upc": upc_for(index)}
    )
    for n in range(1, TRACKS + 1):
        track: dict[str, Any] = {"title": f"Song {n} of {index}", "duration_ms": 180_000 + n * 3_000}
        if n not in WITHOUT_ISRC:
            track["isrc"] = isrc_for(index, n)
        call(client, "POST", f"/releases/{release['id']}/tracks", track)
    for status in ("recording", "mixed", "mastered"):
        call(client, "POST", f"/releases/{release['id']}/transition", {"to": status})
    call(client, "POST", f"/releases/{release['id']}/release-now", {})
    return str(release["id"])


def sync_messages(sqs: Any) -> dict[str, str]:
    """release id → the body of its release-now message, read (and deleted) from the sync queue."""
    from chalicelib.config import get_settings

    url = sqs.get_queue_url(QueueName=get_settings().sync_queue_name)["QueueUrl"]
    bodies: dict[str, str] = {}
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies[json.loads(message["Body"])["release_id"]] = message["Body"]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


class FakeDspProcess:
    """``python -m chalicelib.local.fake_dsp`` in a child process on a free port, serving ``catalogue``: its CPU time
    (it is a fake, not a DSP) stays out of the process being measured. Read and clear its request log over HTTP."""

    def __init__(self, catalogue: FakeCatalogue, workdir: Path) -> None:
        path = workdir / "catalogue.json"
        path.write_text(catalogue.model_dump_json())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chalicelib.local.fake_dsp", "--port", "0", "--catalogue", str(path)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()  # "# the fake DSP serves N albums at http://127.0.0.1:PORT"
        if " at http" not in first:
            self.stop()
            raise RuntimeError(f"the fake DSP did not start: {first!r}")
        self.url = first.rsplit(" at ", 1)[1].strip()
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def settings_env(self) -> dict[str, str]:
        answer: dict[str, str] = self.http.get("/_fake/env").json()
        return answer

    def take_requests(self) -> dict[str, int]:
        """Requests per service since the last call (the accounts service's token counted as Spotify's)."""
        recorded = self.http.get("/_fake/requests").json()["requests"]
        self.http.delete("/_fake/requests")
        counts = Counter(request["service"] for request in recorded)
        spotify = counts.pop("spotify", 0) + counts.pop("spotify_accounts", 0)
        return {"spotify": spotify, **counts}

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def fetch_only(providers: list[Any], upc: str, isrcs: list[str]) -> list[Any]:
    """What the sync asks the services, and nothing else: each provider's ``find_release``."""
    return [provider.find_release(upc=upc, isrcs=isrcs) for provider in providers]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1000, result


def run(runs: int, matching_runs: int) -> dict[str, Any]:
    from bench_matching import bench_release

    counter = AwsCounter()
    with tempfile.TemporaryDirectory() as workdir, mock_aws():
        fake = FakeDspProcess(FakeCatalogue(albums=[album_for(index) for index in range(runs + 1)]), Path(workdir))
        try:
            rows = measure(fake, counter, runs)
        finally:
            fake.stop()
    matching = bench_release("album", 9, matching_runs, None)
    return {"rows": rows, "matching": matching}


def measure(fake: FakeDspProcess, counter: AwsCounter, runs: int) -> list[dict[str, Any]]:
    """Provision moto, make ``runs`` + 1 released releases, sync each once; one row per sync."""
    from chalicelib.container import get_catalogue_repository, get_dsp_providers, get_dsp_sync_service, reset_container

    os.environ.update(fake.settings_env())
    provision(
        REPO_ROOT / "infra" / "template.json", boto3.Session(region_name="us-east-1"), parameters={"Stage": "local"}
    )
    reset_container()
    from app import app

    with Client(app, stage_name="test", project_dir=str(REPO_ROOT)) as client:
        ids = [released_release(client, index) for index in range(runs + 1)]
    bodies = sync_messages(boto3.client("sqs", region_name="us-east-1"))
    service = get_dsp_sync_service()
    repository = get_catalogue_repository()
    fake.take_requests()
    rows = []
    with counter.installed():
        for index, release_id in enumerate(ids):
            before = repository.load(release_id)
            assert before is not None and before.release.upc is not None
            isrcs = [t.isrc for t in before.tracks if t.isrc]
            counter.take()
            sync_ms, outcome = timed(partial(service.handle_message, bodies[release_id]))
            dynamo, aws_ms, transactions = counter.take()
            requests = fake.take_requests()
            # The baseline: the same providers' fetches alone (same album, same warm clients), right after.
            fetch_ms, _ = timed(partial(fetch_only, get_dsp_providers(), before.release.upc, isrcs))
            fake.take_requests()
            after = repository.load(release_id)
            assert after is not None
            counter.take()
            rows.append(
                {
                    "run": "cold" if index == 0 else "warm",
                    "outcome": outcome,
                    "locked": (after.release.production_status, after.release.locked_by_sync),
                    "filled": sum(1 for t in after.tracks if t.isrc) - len(isrcs),
                    "sync_ms": sync_ms,
                    "fetch_ms": fetch_ms,
                    "dynamodb_ms": aws_ms["dynamodb"],
                    "transaction_items": transactions,
                    "requests": requests,
                    "dynamodb": {op: n for (svc, op), n in sorted(dynamo.items()) if svc == "dynamodb"},
                    "other_aws": {f"{svc}.{op}": n for (svc, op), n in sorted(dynamo.items()) if svc != "dynamodb"},
                }
            )
    return rows


def report(result: dict[str, Any], runs: int) -> dict[str, Any]:
    """Print the table; return the JSON line's fields."""
    rows = result["rows"]
    cold, warm = rows[0], rows[1:]

    def median(key: str) -> float:
        return statistics.median(r[key] for r in warm)

    sync_ms, fetch_ms, dynamo_ms = median("sync_ms"), median("fetch_ms"), median("dynamodb_ms")
    print(f"DSP sync of a {TRACKS}-track release, fake DSP on loopback, moto in-process; median of {runs} warm syncs")
    outcomes = sorted({(r["outcome"], *r["locked"]) for r in rows})
    print(f"outcome, status, locked_by_sync: {outcomes}; ISRCs filled per sync: {cold['filled']}")
    print(f"{'requests':<14}{'cold':>6}{'min':>6}{'warm':>6}{'min':>6}  at the minimum")
    requests_met = True
    for name, minimum in MINIMUM.items():
        got_cold = cold["requests"].get(name, 0)
        got_warm = max(r["requests"].get(name, 0) for r in warm)
        met = got_cold <= minimum["cold"] and got_warm <= minimum["warm"]
        requests_met &= met
        print(f"{name:<14}{got_cold:>6}{minimum['cold']:>6}{got_warm:>6}{minimum['warm']:>6}  {'yes' if met else 'NO'}")
    calls = [sum(r["dynamodb"].values()) for r in rows]
    print(
        f"DynamoDB calls per sync: {calls[1]} warm, {calls[0]} cold: {rows[1]['dynamodb']};"
        f" items per transaction: {rows[1]['transaction_items']}"
    )
    if rows[1]["other_aws"]:
        print(f"other AWS calls per sync: {rows[1]['other_aws']}")
    print(f"{'wall ms':<13}{'sync':>8}{'in DynamoDB':>13}{'sync - DynamoDB':>17}{'fetch only':>12}{'ratio':>8}")
    for label, sync, dynamo, fetch in (
        ("cold", cold["sync_ms"], cold["dynamodb_ms"], cold["fetch_ms"]),
        ("warm median", sync_ms, dynamo_ms, fetch_ms),
    ):
        own = sync - dynamo
        print(f"{label:<13}{sync:>8.1f}{dynamo:>13.1f}{own:>17.1f}{fetch:>12.1f}{own / fetch:>7.2f}x")
    print(
        "in DynamoDB: time inside moto's in-process DynamoDB (its TransactWriteItems deep-copies every table, so it"
        " grows with the table, not with the sync); ratio = (sync - DynamoDB) / fetch only: what merging, matching"
        " and planning add to the HTTP fetches."
    )
    matching = result["matching"]
    matching_met = matching["ours_ms"] < AIM_MATCHING_MS
    print(
        f"matching 99x99 (bench_matching 'album'): {matching['ours_ms']:.1f} ms median, aim < {AIM_MATCHING_MS:.0f} ms"
        f" {'met' if matching_met else 'NOT met'}"
    )
    return {
        "bench": "dsp_sync",
        "tracks": TRACKS,
        "runs": runs,
        "cpus": len(os.sched_getaffinity(0)),
        "requests_cold": cold["requests"],
        "requests_warm": rows[1]["requests"],
        "requests_minimum": MINIMUM,
        "requests_minimum_met": requests_met,
        "dynamodb_calls_cold": calls[0],
        "dynamodb_calls_warm": calls[1],
        "dynamodb_operations_warm": rows[1]["dynamodb"],
        "transaction_items": rows[1]["transaction_items"],
        "sync_ms_cold": cold["sync_ms"],
        "sync_ms_median": sync_ms,
        "dynamodb_ms_median": dynamo_ms,
        "fetch_only_ms_median": fetch_ms,
        "sync_without_dynamodb_over_fetch": (sync_ms - dynamo_ms) / fetch_ms,
        "matching_99x99_ms": matching["ours_ms"],
        "matching_aim_met": matching_met,
        "outcomes": sorted({r["outcome"] for r in rows}),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="One DSP sync of a 20-track release against the fake DSP.")
    parser.add_argument("--runs", type=int, default=9, help="timed warm syncs (>= 3), after one cold sync")
    parser.add_argument("--matching-runs", type=int, default=15, help="runs of the 99x99 matching (>= 5)")
    args = parser.parse_args(argv)
    if args.runs < 3 or args.matching_runs < 5:
        parser.error("--runs must be >= 3 and --matching-runs >= 5")
    line = report(run(args.runs, args.matching_runs), args.runs)
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
