"""The legacy backfill (issue 11, "Migration of existing data"): ``python -m chalicelib.cli backfill`` over a seeded
table of legacy releases and assets, with the backfill worker driven in-process from the queue (moto)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib import container
from chalicelib.cli import main
from chalicelib.config import stage_resource_name
from chalicelib.errors import UnprocessableError
from chalicelib.models.domain import Asset
from chalicelib.models.media import LEGACY_AI_METADATA
from chalicelib.store.records import AssetRecord, AttachmentRecord, ReleaseRecord
from tests.integration.conftest import STAGE, TABLE, Aws, body_of, call, create_release, run_ingest
from tests.integration.test_media_imports import Target, run_imports

BACKFILL_QUEUE = stage_resource_name(STAGE, "backfill")
BACKFILL_DLQ = stage_resource_name(STAGE, "backfill-dlq")
IMPORTS_QUEUE = stage_resource_name(STAGE, "imports")
CHECKPOINT_KEY = ("BACKFILL#media", "CHECKPOINT")
BASE_TIME = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
MEDIA = {
    "original": {"key": "media/o/a/original.jpg", "width": 1400, "height": 1400, "bytes": 1000, "format": "jpeg"},
    "variants": {},
    "source_format": "jpeg",
    "source_width": 1400,
    "source_height": 1400,
    "cropped": False,
    "dominant_color": "#112233",
    "palette": ["#112233"],
    "placeholder": "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
}


@pytest.fixture
def backfill_env(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """The integration AWS with the import guard opened to loopback over http (P4's local-only settings), so the
    seeded ``artwork_url``s (literal loopback addresses: no DNS) are accepted and their imports queued."""
    monkeypatch.setenv("SLEEVE_IMPORT_ALLOW_HTTP", "true")
    monkeypatch.setenv("SLEEVE_IMPORT_ALLOW_PRIVATE", "true")
    container.reset_container()
    yield aws
    container.reset_container()


@pytest.fixture
def cover_server() -> Iterator[Target]:
    """A real http server on 127.0.0.1 serving a PNG at ``/cover.png`` (the imports tests' ``Target``)."""
    served = Target()
    yield served
    served.server.shutdown()
    served.server.server_close()


def _put_raw(records: list[Any]) -> None:
    """Put the records' items as old code wrote them (their serialised attributes only: nothing the backfill adds)."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    requests = [{"PutRequest": {"Item": record.serialize(null_check=False)}} for record in records]
    for start in range(0, len(requests), 25):
        client.batch_write_item(RequestItems={TABLE: requests[start : start + 25]})


def _legacy_asset(n: int, *, owner: str, **extra: Any) -> AssetRecord:
    created = BASE_TIME + timedelta(minutes=n)
    asset_id = f"a{n:04d}"
    values: dict[str, Any] = {
        "pk": f"ASSET#{asset_id}",
        "sk": "ASSET",
        "gsi1pk": f"OWNER#{owner}#ASSETS",
        "gsi1sk": f"{created.isoformat()}#{asset_id}",
        "asset_id": asset_id,
        "owner_id": owner,
        "status": "ready",
        "upload_key": f"uploads/{owner}/{asset_id}",
        "declared_content_type": "image/jpeg",
        "declared_bytes": 1000,
        "max_bytes": 20_000_000,
        "filename": f"cover-{n}.jpg",
        "media": MEDIA,
        "created_at": created,
        "updated_at": created,
    }
    values.update(extra)
    return AssetRecord(**{k: v for k, v in values.items() if v is not None})


def _legacy_release(n: int, *, owner: str, artwork_url: str | None, locked: bool = False) -> ReleaseRecord:
    created = BASE_TIME + timedelta(minutes=n)
    release_id = f"r{n:04d}"
    record = ReleaseRecord(
        pk=f"RELEASE#{release_id}",
        sk="RELEASE",
        gsi1pk=f"OWNER#{owner}#RELEASES",
        gsi1sk=f"{created.isoformat()}#{release_id}",
        gsi2pk=f"OWNER#{owner}#STATUS#{'locked' if locked else 'draft'}",
        gsi2sk=f"{created.isoformat()}#{release_id}",
        release_id=release_id,
        owner_id=owner,
        title=f"Release {n}",
        display_artist="Björk",
        production_status="locked" if locked else "draft",
        lock_status="locked" if locked else "unlocked",
        artwork_url=artwork_url,
        created_at=created,
        updated_at=created,
    )
    record.version = 1
    return record


def seed_legacy_table(*, releases: int = 120, assets: int = 240) -> dict[str, list[str]]:
    """A legacy table: ``releases`` releases (a sixth without artwork_url, a sixth with artwork_url and an uploaded
    cover, a sixth locked with artwork_url, the rest with only artwork_url) and ``assets`` assets (most as old
    uploads with a filename; some without one, some that have a title and name, some already described, some
    tombstoned, some made by the library: list keys but no AI metadata). Returns the ids by what the backfill should
    do with them."""
    expect: dict[str, list[str]] = {
        k: [] for k in ("import", "covered", "locked", "no_url", "tombstoned", "kept", "library")
    }
    records: list[Any] = []
    for n in range(releases):
        owner = f"owner{n % 4}"
        kind = n % 6
        url = None if kind == 0 else f"http://127.0.0.1:9/art/{n}.jpg"
        release = _legacy_release(n, owner=owner, artwork_url=url, locked=kind == 2)
        records.append(release)
        if kind == 0:
            expect["no_url"].append(release.release_id)
        elif kind == 1:
            cover = _legacy_asset(
                10_000 + n,
                owner=owner,
                attach_to=f"RELEASE#{release.release_id}#cover",
                gsi2pk=f"RELEASE#{release.release_id}#ASSETS",
                gsi2sk=f"{BASE_TIME.isoformat()}#a{10_000 + n:04d}",
            )
            records.append(cover)
            pointer = AttachmentRecord(
                pk=f"RELEASE#{release.release_id}",
                sk="ATTACHMENT#cover",
                owner_id=owner,
                asset_id=cover.asset_id,
                asset_created_at=cover.created_at,
                attached_at=cover.created_at,
                latest_asset_id=cover.asset_id,
                latest_created_at=cover.created_at,
            )
            records.append(pointer)
            expect["covered"].append(release.release_id)
        elif kind == 2:
            expect["locked"].append(release.release_id)
        else:
            expect["import"].append(release.release_id)
    for n in range(assets):
        owner = f"owner{n % 4}"
        kind = n % 10
        if kind == 0:
            record = _legacy_asset(n, owner=owner, filename=None, status="failed", media=None)
        elif kind == 1:
            record = _legacy_asset(n, owner=owner, title=f"Title {n}", name=f"L.CAS.ATL.{n:03d}")
        elif kind == 2:
            record = _legacy_asset(n, owner=owner, name=f"L.CAS.ATL.{n:03d}")
        elif kind == 3:
            record = _legacy_asset(
                n, owner=owner, creator_description="typed by me", ai_metadata={"generated_by": "someone"}
            )
            expect["kept"].append(record.asset_id)
        elif kind == 4:
            record = _legacy_asset(n, owner=owner, gsi1pk=None, gsi1sk=None, deleted_at=BASE_TIME)
            expect["tombstoned"].append(record.asset_id)
        elif kind == 7:  # made by the library (both list keys), with no AI metadata nor description: not legacy
            created = BASE_TIME + timedelta(minutes=n)
            record = _legacy_asset(
                n,
                owner=owner,
                gsi3pk=f"OWNER#{owner}#ASSETS#SOURCE#upload",
                gsi3sk=f"{created.isoformat()}#a{n:04d}",
                gsi4pk=f"OWNER#{owner}#ASSETS#TYPE#image",
                gsi4sk=f"{created.isoformat()}#a{n:04d}",
            )
            expect["library"].append(record.asset_id)
        elif kind == 5:
            record = _legacy_asset(n, owner=owner, source="ai_upscaled", status="pending", media=None)
        else:
            record = _legacy_asset(n, owner=owner)
        records.append(record)
    _put_raw(records)
    return expect


def dump_table() -> dict[tuple[str, str], dict[str, Any]]:
    """Every item of the table but the backfill's own checkpoint, by (pk, sk), as DynamoDB JSON."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    items: dict[tuple[str, str], dict[str, Any]] = {}
    for page in client.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True):
        for item in page["Items"]:
            key = (item["pk"]["S"], item["sk"]["S"])
            if key != CHECKPOINT_KEY:
                items[key] = item
    return items


def queue_url(aws: Aws, name: str) -> str:
    return str(aws.sqs.get_queue_url(QueueName=name)["QueueUrl"])


def drain(aws: Aws, name: str) -> list[dict[str, Any]]:
    """Every message waiting on queue ``name``, deleted as read."""
    url = queue_url(aws, name)
    messages: list[dict[str, Any]] = []
    while True:
        batch = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        messages.extend(batch)


def run_worker(client: Client, aws: Aws) -> list[str]:
    """Deliver every waiting backfill message to ``handle_backfill`` (the Lambda SQS event shape); the bodies."""
    bodies = [m["Body"] for m in drain(aws, BACKFILL_QUEUE)]
    for body in bodies:
        event = client.events.generate_sqs_event(message_bodies=[body], queue_name=BACKFILL_QUEUE)
        client.lambda_.invoke("handle_backfill", event)
    return bodies


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    """``python -m chalicelib.cli backfill ARGS`` in-process; its JSON summary (the last stdout line)."""
    assert main(["backfill", "--no-progress", "--page-size", "50", *args]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    return dict(json.loads(lines[-1]))


def test_a_second_run_over_the_legacy_table_changes_nothing(
    backfill_env: Aws, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given: a legacy table of 120 releases and 240 assets (plus the covers' assets and pointers)
    expect = seed_legacy_table()
    before = dump_table()

    # When: the backfill runs and its worker handles every message
    started = time.perf_counter()
    first = run_cli(capsys)
    fanned_out = time.perf_counter()
    handled = run_worker(client, backfill_env)
    timings = (fanned_out - started, time.perf_counter() - fanned_out)
    after_first = dump_table()

    # Then: every release with only an artwork_url has one import queued, as its cover, from that URL
    assert first["finished"] and first["sent"] == len(handled)
    imports = [json.loads(m["Body"]) for m in drain(backfill_env, IMPORTS_QUEUE)]
    assert len(imports) == len(expect["import"])
    for release_id in expect["import"]:
        mark = after_first[(f"RELEASE#{release_id}", "BACKFILL#artwork")]
        assert mark["state"]["S"] == "started"
        asset = after_first[(f"ASSET#{mark['asset_id']['S']}", "ASSET")]
        assert asset["attach_to"]["S"] == f"RELEASE#{release_id}#cover"
        assert asset["source"]["S"] == "import"
        assert asset["source_url"]["S"] == f"http://127.0.0.1:9/art/{int(release_id[1:])}.jpg"
    assert {m["asset_id"] for m in imports} == {
        after_first[(f"RELEASE#{r}", "BACKFILL#artwork")]["asset_id"]["S"] for r in expect["import"]
    }
    # ... a covered release is marked covered and keeps its cover; a locked one and one without a URL get nothing
    for release_id in expect["covered"]:
        assert after_first[(f"RELEASE#{release_id}", "BACKFILL#artwork")]["state"]["S"] == "covered"
        pointer = (f"RELEASE#{release_id}", "ATTACHMENT#cover")
        assert after_first[pointer] == before[pointer]
    for release_id in expect["locked"] + expect["no_url"]:
        assert (f"RELEASE#{release_id}", "BACKFILL#artwork") not in after_first
    # ... releases themselves are unchanged (their version, hence their ETag, too)
    for key, item in before.items():
        if key[1] == "RELEASE":
            assert after_first[key] == item
    # ... every live legacy asset has its list keys and AI metadata; descriptions come from title, name, filename
    for (pk, sk), item in after_first.items():
        if sk != "ASSET" or (pk, sk) not in before:
            continue
        asset_id = pk.removeprefix("ASSET#")
        if asset_id in expect["tombstoned"] + expect["library"]:
            assert item == before[(pk, sk)]
            continue
        owner, source = item["owner_id"]["S"], item["source"]["S"]
        assert item["gsi3pk"]["S"] == f"OWNER#{owner}#ASSETS#SOURCE#{source}"
        assert item["gsi4pk"]["S"] == f"OWNER#{owner}#ASSETS#TYPE#image"
        assert item["gsi3sk"] == item["gsi4sk"] == item["gsi1sk"]
        if asset_id in expect["kept"]:
            assert item["creator_description"]["S"] == "typed by me"
            assert item["ai_metadata"]["M"] == {"generated_by": {"S": "someone"}}
            continue
        assert item["ai_metadata"]["M"] == {k: {"S": v} for k, v in LEGACY_AI_METADATA.items()}
        old = before[(pk, sk)]
        wanted = next((old[f]["S"] for f in ("title", "name", "filename") if f in old), None)
        assert item.get("creator_description", {}).get("S") == wanted
    # ... and the described assets are searchable by those words
    from chalicelib.container import get_media_index

    hits, _ = get_media_index().search("owner1", "Title 1", limit=5, offset=0)
    assert "a0001" in [hit.asset.id for hit in hits]

    # When: it runs a second time (the pass finished, so it starts over) and the worker handles what it sent
    second = run_cli(capsys)
    run_worker(client, backfill_env)

    # Then: not one item changed, and no import was started
    assert second["finished"] and not second["resumed"]
    assert dump_table() == after_first
    assert drain(backfill_env, IMPORTS_QUEUE) == []
    # Only the locked releases (their artwork cannot change yet) are sent again, and their messages change nothing:
    # the Scan meets a release's mark before the release (same partition, "BACKFILL#artwork" < "RELEASE").
    assert second["releases"] == len(expect["locked"]) and second["skipped_done"] == len(expect["import"]) + len(
        expect["covered"]
    )
    assert second["assets"] == 0
    with capsys.disabled():
        print(
            f"\nbackfill of {len(before)} items: {first['sent']} messages; CLI {timings[0]:.2f} s, "
            f"worker {timings[1]:.2f} s ({timings[1] / len(handled) * 1000:.0f} ms per message), moto in-process"
        )


def test_a_dry_run_sends_and_writes_nothing(backfill_env: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    # Given: a small legacy table
    seed_legacy_table(releases=12, assets=20)
    before = dump_table()

    # When: the backfill runs with --dry-run
    assert main(["backfill", "--no-progress", "--dry-run", "--page-size", "7"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()

    # Then: it prints the messages it would send and its summary, and the table and queue are untouched
    summary = json.loads(lines[-1])
    printed = [json.loads(line) for line in lines[:-1]]
    assert summary["dry_run"] and summary["finished"] and summary["sent"] == len(printed) > 0
    assert {m["type"] for m in printed} == {"backfill.release", "backfill.asset"}
    assert dump_table() == before
    assert drain(backfill_env, BACKFILL_QUEUE) == []
    client = boto3.client("dynamodb", region_name="us-east-1")
    assert "Item" not in client.get_item(
        TableName=TABLE, Key={"pk": {"S": CHECKPOINT_KEY[0]}, "sk": {"S": CHECKPOINT_KEY[1]}}
    )


def test_limit_stops_after_n_messages_and_a_rerun_resumes_from_the_checkpoint(
    backfill_env: Aws, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given: a legacy table, and what an uninterrupted dry run would send
    seed_legacy_table(releases=30, assets=60)
    assert main(["backfill", "--no-progress", "--dry-run"]) == 0
    everything = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()[:-1]]

    # When: the backfill stops after 17 messages (inside a page of 10 items... any page), then runs again
    first = run_cli(capsys, "--limit", "17")
    sent_first = [json.loads(m["Body"]) for m in drain(backfill_env, BACKFILL_QUEUE)]
    second = run_cli(capsys)
    sent_second = [json.loads(m["Body"]) for m in drain(backfill_env, BACKFILL_QUEUE)]

    # Then: the first run sent 17 and did not finish; the rerun resumed after them: every item sent exactly once
    assert first["sent"] == len(sent_first) == 17 and not first["finished"]
    assert second["resumed"] and second["finished"] and second["sent"] == len(sent_second) == len(everything) - 17
    keyed = sorted(json.dumps(m, sort_keys=True) for m in sent_first + sent_second)
    assert keyed == sorted(json.dumps(m, sort_keys=True) for m in everything)


def test_restart_ignores_the_checkpoint(backfill_env: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    # Given: a run stopped by --limit
    seed_legacy_table(releases=6, assets=10)
    run_cli(capsys, "--limit", "3")
    drain(backfill_env, BACKFILL_QUEUE)

    # When: the next run says --restart
    summary = run_cli(capsys, "--restart")

    # Then: it starts from the beginning (the three items are sent again)
    assert not summary["resumed"] and summary["finished"]
    assert len(drain(backfill_env, BACKFILL_QUEUE)) == summary["sent"] > 3


def test_a_dead_lettered_message_is_logged_and_counted(
    backfill_env: Aws, client: Client, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given: two backfill messages that failed every retry, and a body that is not a backfill message
    bodies = ['{"type":"backfill.asset","asset_id":"a0001"}', '{"type":"backfill.release","release_id":"r1"}']

    # When: the dead-letter consumer receives them
    for body in [*bodies, "not json"]:
        event = client.events.generate_sqs_event(message_bodies=[body], queue_name=BACKFILL_DLQ)
        client.lambda_.invoke("handle_backfill_dead_letter", event)

    # Then: each is logged as an error, the two backfill messages counted, and the next run prints the count
    dead = [r for r in caplog.records if r.getMessage() == "backfill item dead-lettered"]
    assert [(r.levelname, getattr(r, "marked_failed", None)) for r in dead] == [
        ("ERROR", True),
        ("ERROR", True),
        ("ERROR", False),
    ]
    assert run_cli(capsys, "--dry-run")["dead_lettered"] == 2


class _RefusingImporter:
    """The import service refusing every URL, as it answers a URL its guard refuses."""

    calls = 0

    def start(self, owner_id: str, source_url: str, **_: Any) -> Asset:
        self.calls += 1
        raise UnprocessableError("refused", code="url_not_allowed", details={"reason": "private_address"})


def test_a_refused_artwork_url_is_marked_and_never_tried_again(
    backfill_env: Aws, client: Client, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a release whose legacy artwork_url the import service refuses
    _put_raw([_legacy_release(3, owner="alice", artwork_url="https://10.0.0.1/art.jpg")])
    importer = _RefusingImporter()
    monkeypatch.setattr(container, "get_import_service", lambda: importer)

    # When: the backfill runs twice, the worker handling each run's messages (the second one twice: a redelivery)
    run_cli(capsys)
    run_worker(client, backfill_env)
    run_cli(capsys)
    for body in run_worker(client, backfill_env):
        client.lambda_.invoke(
            "handle_backfill", client.events.generate_sqs_event(message_bodies=[body], queue_name=BACKFILL_QUEUE)
        )

    # Then: the import was asked once; the mark says refused with the code; nothing is queued
    assert importer.calls == 1
    mark = dump_table()[("RELEASE#r0003", "BACKFILL#artwork")]
    assert mark["state"]["S"] == "refused" and mark["refusal"]["S"] == "url_not_allowed"
    assert drain(backfill_env, IMPORTS_QUEUE) == []


def test_a_redelivered_release_message_starts_no_second_import(backfill_env: Aws, client: Client) -> None:
    # Given: a legacy release with only an artwork_url
    _put_raw([_legacy_release(4, owner="alice", artwork_url="http://127.0.0.1:9/art/4.jpg")])
    body = '{"type":"backfill.release","release_id":"r0004"}'

    # When: its message is delivered twice
    for _ in range(2):
        event = client.events.generate_sqs_event(message_bodies=[body], queue_name=BACKFILL_QUEUE)
        client.lambda_.invoke("handle_backfill", event)

    # Then: one import asset, one import queued
    assert len(drain(backfill_env, IMPORTS_QUEUE)) == 1
    imported = [k for k, item in dump_table().items() if k[1] == "ASSET" and item["source"]["S"] == "import"]
    assert len(imported) == 1


def test_a_claim_left_by_a_dead_worker_is_taken_over_without_a_second_import(backfill_env: Aws) -> None:
    # Given: a release whose worker claimed its import and started it, then died before recording it
    from chalicelib.container import get_backfill_service
    from chalicelib.store.backfill import BackfillStore

    _put_raw([_legacy_release(5, owner="alice", artwork_url="http://127.0.0.1:9/art/5.jpg")])
    old = datetime.now(UTC) - timedelta(hours=1)
    token = BackfillStore().claim_artwork(
        "r0005", owner_id="alice", source_url="http://127.0.0.1:9/art/5.jpg", state="claimed", stale_before=old
    )
    assert token is not None
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.update_item(
        TableName=TABLE,
        Key={"pk": {"S": "RELEASE#r0005"}, "sk": {"S": "BACKFILL#artwork"}},
        UpdateExpression="SET claimed_at = :old",
        ExpressionAttributeValues={":old": {"S": old.strftime("%Y-%m-%dT%H:%M:%S.%f+0000")}},
    )
    started = container.get_import_service().start(
        "alice", "http://127.0.0.1:9/art/5.jpg", source="import", attach_to="RELEASE#r0005#cover"
    )
    drain(backfill_env, IMPORTS_QUEUE)

    # When: the message is delivered again after the claim's lease
    outcome = get_backfill_service().backfill_release("r0005")

    # Then: the claim is taken over and the import already started is recorded; nothing new is queued
    assert outcome == "started"
    mark = dump_table()[("RELEASE#r0005", "BACKFILL#artwork")]
    assert mark["state"]["S"] == "started" and mark["asset_id"]["S"] == started.id
    assert drain(backfill_env, IMPORTS_QUEUE) == []


def test_a_release_claimed_by_a_running_worker_is_left_to_it(backfill_env: Aws) -> None:
    # Given: a legacy release whose import another worker claimed a moment ago (and has not started yet)
    from chalicelib.container import get_backfill_service
    from chalicelib.store.backfill import BackfillStore

    url = "http://127.0.0.1:9/art/6.jpg"
    _put_raw([_legacy_release(6, owner="alice", artwork_url=url)])
    stale_before = datetime.now(UTC) - timedelta(minutes=5)
    assert BackfillStore().claim_artwork(
        "r0006", owner_id="alice", source_url=url, state="claimed", stale_before=stale_before
    )

    # When: a second delivery of its message reaches another worker
    outcome = get_backfill_service().backfill_release("r0006")

    # Then: it starts nothing and leaves the claim as it was
    assert outcome == "busy"
    assert drain(backfill_env, IMPORTS_QUEUE) == []
    assert dump_table()[("RELEASE#r0006", "BACKFILL#artwork")]["state"]["S"] == "claimed"


def test_a_legacy_artwork_url_ends_as_the_releases_cover_through_the_import_and_ingest_workers(
    backfill_env: Aws, client: Client, cover_server: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given: a release with only a legacy artwork_url, served by a real http server on loopback
    target = cover_server
    release = create_release(client, artwork_url=target.url())
    assert body_of(call(client, "GET", f"/releases/{release['id']}/artwork"))["fallback_url"] == target.url()

    # When: the backfill runs, then the imports and ingest workers run
    run_cli(capsys)
    run_worker(client, backfill_env)
    run_imports(client)
    run_ingest(client, backfill_env)

    # Then: the release's cover is the imported image, made once from that URL
    mark = dump_table()[(f"RELEASE#{release['id']}", "BACKFILL#artwork")]
    artwork = body_of(call(client, "GET", f"/releases/{release['id']}/artwork"))
    assert artwork["status"] == "ready" and artwork["asset_id"] == mark["asset_id"]["S"]
    assert artwork["fallback_url"] is None
    assert target.seen == ["/cover.png"]

    # When: the backfill runs again
    after = dump_table()
    run_cli(capsys)
    run_worker(client, backfill_env)

    # Then: nothing changes and nothing is fetched again
    assert dump_table() == after and drain(backfill_env, IMPORTS_QUEUE) == [] and target.seen == ["/cover.png"]


@pytest.mark.parametrize(
    "body",
    ["not json", "{}", '{"type":"backfill.asset"}', '{"type":"backfill.release","release_id":""}', '{"type":"x"}'],
)
def test_a_malformed_message_is_logged_and_dropped(
    backfill_env: Aws, client: Client, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    # When: the worker receives a body that is not a backfill message
    event = client.events.generate_sqs_event(message_bodies=[body], queue_name=BACKFILL_QUEUE)
    client.lambda_.invoke("handle_backfill", event)

    # Then: it is logged as malformed and nothing is written
    handled = [r for r in caplog.records if r.getMessage() == "backfill item handled"]
    assert [getattr(r, "outcome", None) for r in handled] == ["malformed"]
    assert dump_table() == {}
