"""``python -m chalicelib.cli backfill``: its options, its output and its fan-out loop, on an in-memory store and
queue (the AWS path is tests/integration/test_backfill.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib import container
from chalicelib.cli import build_parser, main
from chalicelib.services.backfill import BackfillService, PageProgress
from chalicelib.store.backfill import Checkpoint, ScannedItem, ScanPage
from chalicelib.store.queues import QueueSendError


def _key(n: int) -> dict[str, Any]:
    return {"pk": {"S": f"K#{n}"}, "sk": {"S": "X"}}


@dataclass
class MemoryStore:
    """The backfill store's Scan and checkpoint over a list of items (``scan_page`` pages it ``page_size`` at a
    time and resumes after the item whose key it is given, as DynamoDB's ExclusiveStartKey does)."""

    items: list[ScannedItem]
    saved: Checkpoint | None = None
    saves: list[dict[str, Any]] = field(default_factory=list)

    def scan_page(self, start_key: dict[str, Any] | None, *, page_size: int) -> ScanPage:
        keys = [item.key for item in self.items]
        start = keys.index(start_key) + 1 if start_key else 0
        chunk = self.items[start : start + page_size]
        more = start + page_size < len(self.items)
        return ScanPage(items=chunk, scanned=len(chunk), last_key=chunk[-1].key if more and chunk else None)

    def checkpoint(self) -> Checkpoint | None:
        return self.saved

    def save_checkpoint(self, **values: Any) -> None:
        self.saves.append(values)
        self.saved = Checkpoint(
            last_key=values["last_key"],
            scanned=values["scanned"],
            sent=values["sent"],
            dead_lettered=0,
            started_at=values["started_at"],
            finished_at=None if values["last_key"] else values["started_at"],
        )

    def approximate_item_count(self) -> int:
        return len(self.items)


@dataclass
class MemoryQueue:
    sent: list[dict[str, str]] = field(default_factory=list)
    refuse: bool = False

    def send_batch(self, messages: list[dict[str, str]]) -> int:
        if self.refuse:
            raise QueueSendError("refused", details={"queue": "q", "error": "AccessDenied"})
        self.sent += messages
        return len(messages)


def _service(store: MemoryStore, queue: MemoryQueue) -> BackfillService:
    """The service on ``store`` and ``queue``; the per-item collaborators are never reached by the fan-out."""

    def unused() -> Any:
        raise AssertionError("the fan-out never builds the importer or the index")

    return BackfillService(
        store=store,  # type: ignore[arg-type]
        releases=None,  # type: ignore[arg-type]
        assets=None,  # type: ignore[arg-type]
        covers=None,  # type: ignore[arg-type]
        queue=queue,
        importer=unused,
        media_index=unused,
    )


def _items() -> list[ScannedItem]:
    """Assets 0-9, then a release whose final mark precedes it, a release with a claim only, and two more assets."""
    items = [ScannedItem("asset", f"a{n}", _key(n)) for n in range(10)]
    items += [
        ScannedItem("mark", "r1", _key(100), final=True),
        ScannedItem("release", "r1", _key(101)),
        ScannedItem("mark", "r2", _key(102), final=False),
        ScannedItem("release", "r2", _key(103)),
        ScannedItem("asset", "a10", _key(10)),
        ScannedItem("asset", "a11", _key(11)),
    ]
    return items


def test_options_parse_and_a_limit_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["backfill", "--dry-run", "--limit", "5", "--restart"])
    assert (args.dry_run, args.limit, args.restart) == (True, 5, True)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["backfill", "--limit", "0"])
    assert "must be a whole number above 0" in capsys.readouterr().err


def test_a_release_after_its_final_mark_is_not_sent_even_across_a_page_boundary() -> None:
    # Given: the mark of r1 ends a page and r1 starts the next (page size 11)
    store, queue = MemoryStore(_items()), MemoryQueue()

    # When: the backfill runs
    report = _service(store, queue).run(page_size=11)

    # Then: r1 is skipped; r2 (only claimed) is sent; every asset is sent once
    assert {"type": "backfill.release", "release_id": "r1"} not in queue.sent
    assert {"type": "backfill.release", "release_id": "r2"} in queue.sent
    assert report.skipped_done == 1 and report.sent == len(queue.sent) == 13 and report.finished


def test_a_limit_inside_a_page_saves_the_last_sent_items_key_and_the_rerun_resumes_after_it() -> None:
    # Given: pages of 5 items
    store, queue = MemoryStore(_items()), MemoryQueue()
    service = _service(store, queue)

    # When: the first run stops after 7 messages (inside the second page), the second runs to the end
    first = service.run(limit=7, page_size=5)
    assert store.saved is not None and store.saved.last_key == _key(6)
    second = service.run(page_size=5)

    # Then: every message was sent exactly once, in order
    assert not first.finished and second.resumed and second.finished
    assert [m.get("asset_id") or m.get("release_id") for m in queue.sent] == [
        *(f"a{n}" for n in range(10)),
        "r2",
        "a10",
        "a11",
    ]


def test_a_finished_pass_starts_over_and_restart_ignores_a_checkpoint() -> None:
    store, queue = MemoryStore(_items()), MemoryQueue()
    service = _service(store, queue)
    service.run(page_size=4)
    assert not service.run(page_size=4).resumed  # finished: a new pass
    service.run(limit=2, page_size=4)
    assert not service.run(restart=True, page_size=4).resumed
    assert store.saves[-1]["reset_dead"] is False and any(s["reset_dead"] for s in store.saves)


def test_the_command_prints_a_progress_bar_and_a_json_summary(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: the service on memory
    store, queue = MemoryStore(_items()), MemoryQueue()
    monkeypatch.setattr(container, "get_backfill_service", lambda: _service(store, queue))

    # When: the command runs
    assert main(["backfill", "--page-size", "4"]) == 0
    out, err = capsys.readouterr()

    # Then: stderr has tqdm's bar over the 16 items scanned; stdout the summary
    assert "backfill: 100%" in err and "16/16" in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["sent"] == 13 and summary["finished"] and not summary["dry_run"]


def test_a_dry_run_prints_each_message_and_sends_and_saves_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, queue = MemoryStore(_items()), MemoryQueue()
    monkeypatch.setattr(container, "get_backfill_service", lambda: _service(store, queue))
    assert main(["backfill", "--dry-run", "--no-progress"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 14 and json.loads(lines[0]) == {"type": "backfill.asset", "asset_id": "a0"}
    assert queue.sent == [] and store.saves == []


def test_a_refused_batch_exits_1_with_the_error_and_leaves_the_page_unsaved(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, queue = MemoryStore(_items()), MemoryQueue(refuse=True)
    monkeypatch.setattr(container, "get_backfill_service", lambda: _service(store, queue))
    assert main(["backfill", "--no-progress"]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "queue_unavailable"
    assert store.saves == []


def test_progress_reports_what_each_page_read_and_sent() -> None:
    store, queue = MemoryStore(_items()), MemoryQueue()
    pages: list[PageProgress] = []
    _service(store, queue).run(page_size=8, on_page=pages.append)
    assert [(p.scanned, p.sent) for p in pages] == [(8, 8), (8, 5)]
