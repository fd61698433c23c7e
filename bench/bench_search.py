"""Benchmark: media search (``MediaIndex.search``) on a 10,000-asset library in moto, against a full-library baseline.

Set-up (not timed): ``moto.mock_aws`` in-process, provisioned from infra/template.json (as tests/integration/
conftest.py does); ``--assets`` ready image assets of one owner (plus ``--assets`` / 20 of another owner, so owner
isolation is part of the data), generated deterministically (``--seed``): a 2–4 word title, a creator description
(60 %), a description (40 %), 1–4 tags of 60, a generated name ``{L}.{CAT}.{SUB}.{nnn}`` (30 %), words drawn from a
Zipf-like vocabulary of 3,000 with accented ones (Beyoncé, café, Straße…), and a stored-image ``media`` map like the
ingest's (original, four variants, derived formats) so the asset items have a realistic size. Each asset is indexed
through ``MediaIndex.reindex(None, asset)``, the production path; its write units are counted (below).

Query shapes (words picked from the generated corpus by how many assets hold them, so the figures say what they
measure): a rare word (~10 assets), a common word (~8 % of assets), a two-letter type-ahead prefix, a one-letter
prefix (the worst case: every word beginning with that letter), two words (AND), an accented name typed without its
accent ("beyonce"), and a part of a generated name ("l.cas.atl").

Ours: ``MediaIndex.search(owner, q, limit=20, offset=0)`` — one Query per query word on its term partition plus one
BatchGetItem of the page's assets. Baseline, in the same run, on the same table: a full Query of the owner's library
(gsi1 ``OWNER#{owner}#ASSETS``, every page), each asset's words made and scored in Python with the same rules
(``search_terms``), sorted, first 20 — what search costs without an index. Both read eventually consistently. The two
answers are compared (same ids in the same order) so the baseline also checks ours.

Read units, by DynamoDB's documented rules (moto's ``ConsumedCapacity`` is a constant per call — 0.5 for a Query,
the key count for a BatchGetItem — whatever the bytes, so it is not used): every DynamoDB call is seen by wrapping
``botocore.client.BaseClient._make_api_call``; each returned item's size is computed from its attribute names and
values ("DynamoDB item sizes and formats": UTF-8 bytes of names and strings, numbers ≈ 1 byte per two significant
digits + 1, lists/maps 3 bytes + 1 per element, booleans/null 1 byte); a Query page costs ⌈Σ item sizes / 4 KB⌉ read
units, a BatchGetItem ⌈size / 4 KB⌉ per item (each item is read separately), halved for eventually consistent reads
("Read consistency" and "Capacity unit consumption for reads"). No FilterExpression is used, so the items returned are
the items read. Write units of indexing: 1 per item written (every term and tag item is under 1 KB).

Times are wall-clock in moto in-process: moto answers a GSI Query by walking every item of the table and a table
Query by sorting the partition, and serialises through botocore, so absolute times measure the emulator; the read
units are DynamoDB's. Reported per shape: matches, p50/p95 ms over ``--runs`` (ours) and ``--baseline-runs``
(baseline), read units per query, and the ratios baseline/ours. Last line: JSON.
Run: ``.venv/bin/python bench/bench_search.py [--assets N] [--runs N] [--baseline-runs N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

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
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)

import boto3  # noqa: E402
import botocore.client  # noqa: E402
from moto import mock_aws  # noqa: E402

from chalicelib.local.provision import provision  # noqa: E402
from chalicelib.models.domain import Asset  # noqa: E402
from chalicelib.services.search_terms import asset_terms, query_tokens, score, tokenise  # noqa: E402

OWNER = "owner-0c1d2e3f"
OTHER = "owner-99aa88bb"
PAGE = 20
T0 = datetime(2025, 1, 1, tzinfo=UTC)
ACCENTED = ("Beyoncé", "café", "Straße", "señorita", "déjà", "naïve", "Björk", "Sigur Rós", "Mø", "Ærø")
TAGS = (*(f"tag{n}" for n in range(50)), "press kit", "Électro", "hip hop", "lo-fi", "vinyl", "tour", "live")
#: Asset fields the generated library leaves unset (None), not written as attributes.
UNSET = ("ai_metadata", "music_metadata", "album_art", "video", "deleted_at", "error", "enhancement")
LAYERS = ("G", "S", "L", "M", "W", "C")
CATEGORIES = ("CAS", "ATL", "NYC", "POP", "ROCK", "JAZ", "EDM", "LOF")


# -- DynamoDB's read-unit rules ------------------------------------------------------------------------------------


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value by DynamoDB's documented rules (the name is counted by the caller)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = str(Decimal(inner).normalize()).lstrip("-").replace(".", "").lstrip("0") or "0"
        digits = digits.split("E")[0].rstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(value_size(element) + 1 for element in inner)
    if kind == "M":
        return 3 + sum(len(name.encode()) + value_size(element) + 1 for name, element in inner.items())
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: element}) for element in inner)
    raise ValueError(kind)


def item_size(item: dict[str, Any]) -> int:
    """Bytes of an item: Σ (UTF-8 bytes of the attribute name + the value's size)."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def read_units(operation: str, params: dict[str, Any], answer: dict[str, Any]) -> float:
    """Read units of one call: a Query page ⌈Σ sizes / 4 KB⌉, a BatchGetItem Σ ⌈size / 4 KB⌉; × 0.5 when eventually
    consistent."""
    if operation == "Query":
        units = math.ceil(sum(item_size(item) for item in answer.get("Items", [])) / 4096)
        consistent = params.get("ConsistentRead", False)
    elif operation == "BatchGetItem":
        units = sum(math.ceil(item_size(item) / 4096) for items in answer["Responses"].values() for item in items)
        consistent = any(spec.get("ConsistentRead", False) for spec in params["RequestItems"].values())
    else:
        return 0.0
    return units * (1.0 if consistent else 0.5)


class Meter:
    """Counts DynamoDB calls, read units and items returned while ``on``."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.units = 0.0
        self.items = 0
        self.dynamo_s = 0.0

    def reset(self) -> None:
        self.calls.clear()
        self.units = 0.0
        self.items = 0
        self.dynamo_s = 0.0


@contextmanager
def metered(meter: Meter) -> Iterator[None]:
    original = botocore.client.BaseClient._make_api_call

    def wrapper(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        started = time.perf_counter()
        answer = original(self, operation_name, api_params)
        meter.dynamo_s += time.perf_counter() - started
        if getattr(self.meta, "service_model", None) and self.meta.service_model.service_name == "dynamodb":
            meter.calls[operation_name] += 1
            meter.units += read_units(operation_name, api_params, answer)
            if operation_name == "Query":
                meter.items += len(answer.get("Items", []))
            elif operation_name == "BatchGetItem":
                meter.items += sum(len(items) for items in answer["Responses"].values())
        return answer

    botocore.client.BaseClient._make_api_call = wrapper  # type: ignore[method-assign]
    try:
        yield
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


@contextmanager
def plain_json_answers() -> Iterator[None]:
    """moto's DynamoDB answers serialised with ``json.dumps`` instead of moto's model-driven serialiser.

    moto 5.2 walks every attribute value of an answer against botocore's service model (about 0.1 ms per value here):
    a Query of 50 assets with their media maps took seconds, so a 10,000-asset library could not be read at all. The
    answers are already DynamoDB's wire shapes (``{"S": …}`` dicts), so ``json.dumps`` gives the same body; answers it
    cannot encode (bytes, datetimes) and errors go through moto's serialiser as before.
    """
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.serialized

    def serialized(self: Any, action_result: ActionResult) -> Any:
        result = action_result.result
        if isinstance(result, dict):
            try:
                body = json.dumps(result)
            except TypeError:
                return original(self, action_result)
            return 200, {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}, body
        return original(self, action_result)

    DynamoHandler.serialized = serialized  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.serialized = original  # type: ignore[method-assign]


@contextmanager
def partition_queries() -> Iterator[None]:
    """moto's table Query reads only the asked partition, and its item list is no longer sorted first.

    moto 5.2 answers every Query by sorting every item of the table (``Table.all_items``) and walking them all for the
    partition: with 10,000 assets (about 300,000 items) one Query took many seconds whatever it asked for, which
    DynamoDB never does (a Query reads its partition). Here a table Query starts from its partition's items (moto
    still sorts them by sort key and applies the key condition), and ``all_items`` skips the table-wide sort (a GSI
    Query sorts its own results; nothing here Scans). A GSI Query likewise starts from the items of its index
    partition, picked by a plain comparison of the key's string (moto then checks, sorts and pages them as before).
    The answers are unchanged.
    """
    from moto.dynamodb.models.table import Table

    original_query, original_all = Table.query, Table.all_items

    def all_items(self: Any) -> Any:
        scope = getattr(self, "_bench_partition", None)
        if scope is not None:
            return scope
        if self.range_key_attr:
            return [item for hash_set in self.items.values() for item in hash_set.values()]
        return list(self.items.values())

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name is None and hash_key is not None and self.range_key_attr:
            self._bench_partition = list(self.items[hash_key].values()) if hash_key in self.items else []
        elif index_name is not None and hash_key is not None:
            (index,) = [index for index in self.all_indexes() if index.name == index_name]
            (name,) = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
            wanted = hash_key.value
            self._bench_partition = [
                item
                for hash_set in self.items.values()
                for item in hash_set.values()
                if (value := item.attrs.get(name)) is not None and value.value == wanted
            ]
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            self._bench_partition = None

    Table.query, Table.all_items = query, all_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.query, Table.all_items = original_query, original_all  # type: ignore[method-assign]


# -- The library -----------------------------------------------------------------------------------------------------


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ra", "so", "tu", "ve", "zi", "do", "pa", "ri", "sha", "glo", "bri", "ston"]
    syllables += ["nar", "el", "ion", "ar", "ow", "en", "ly", "th", "qu", "ex"]
    words: dict[str, None] = {}
    while len(words) < size:
        words.setdefault("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))), None)
    return list(words)


def sentence(rng: random.Random, words: list[str], weights: list[float], count: int) -> str:
    chosen = rng.choices(words, weights=weights, k=count)
    if rng.random() < 0.02:
        chosen[rng.randrange(len(chosen))] = rng.choice(ACCENTED)
    return " ".join(chosen).capitalize()


def media_of(owner: str, asset_id: str) -> dict[str, Any]:
    """A stored-image map like the ingest's: the original, four variants, derived formats of each."""
    base = f"media/{owner}/{asset_id}/r0123456789abcdef"

    def image(name: str, fmt: str, px: int) -> dict[str, Any]:
        return {"key": f"{base}/{name}.{fmt}", "width": px, "height": px, "bytes": px * px // 3, "format": fmt}

    sizes = {"tiny": 64, "small": 300, "medium": 640, "large": 1400}
    derived_sizes = {**sizes, "original": 3000}
    return {
        "original": image("original", "jpeg", 3000),
        "variants": {name: image(name, "webp", px) for name, px in sizes.items()},
        "derived": {name: {fmt: image(name, fmt, px) for fmt in ("png", "jpeg")} for name, px in derived_sizes.items()},
        "missing_variants": [],
        "source_format": "jpeg",
        "source_width": 3000,
        "source_height": 3000,
        "cropped": False,
        "dominant_color": "#335577",
        "palette": ["#335577", "#aabbcc", "#112233", "#ffeedd", "#998877"],
        "placeholder": "LEHV6nWB2yk8pyo0adR*.7kCMdnj",
        "placeholder_kind": "blurhash",
        "animated": False,
        "frame_count": 1,
    }


def make_asset(rng: random.Random, words: list[str], weights: list[float], owner: str, index: int) -> Asset:
    asset_id = f"{rng.getrandbits(128):032x}"
    created = T0 + timedelta(minutes=index)
    fields: dict[str, Any] = {"title": sentence(rng, words, weights, rng.randint(2, 4))}
    if rng.random() < 0.6:
        fields["creator_description"] = sentence(rng, words, weights, rng.randint(5, 15))
    if rng.random() < 0.4:
        fields["description"] = sentence(rng, words, weights, rng.randint(10, 25))
    if rng.random() < 0.01:
        fields["title"] = f"Beyoncé {fields['title']}"
    fields["tags"] = rng.sample(TAGS, rng.randint(1, 4))
    if rng.random() < 0.3:
        fields["name"] = f"{rng.choice(LAYERS)}.{rng.choice(CATEGORIES)}.{rng.choice(CATEGORIES)}.{index % 1000:03d}"
    return Asset.model_validate(
        {
            "id": asset_id,
            "owner_id": owner,
            "status": "ready",
            "upload_key": f"uploads/{owner}/{asset_id}",
            "declared_content_type": "image/jpeg",
            "declared_bytes": 2_400_000,
            "max_bytes": 25_000_000,
            "filename": f"IMG_{index:05d}.jpg",
            "media": media_of(owner, asset_id),
            "created_at": created,
            "updated_at": created,
            "source": "upload",
            **fields,
        }
    )


def seed_library(assets: int, rng: random.Random) -> tuple[list[Asset], dict[str, float]]:
    """Write the assets and index them; returns the owner's assets and the write figures."""
    from chalicelib.container import get_media_index
    from chalicelib.store.media_index import batch_write
    from chalicelib.store.records import AssetRecord

    index = get_media_index()  # binds the records to the table
    words = vocabulary(rng)
    weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(words))]
    mine = [make_asset(rng, words, weights, OWNER, index) for index in range(assets)]
    others = [make_asset(rng, words, weights, OTHER, index) for index in range(max(1, assets // 20))]
    records = []
    for asset in (*mine, *others):
        record = AssetRecord(
            pk=f"ASSET#{asset.id}",
            sk="ASSET",
            gsi1pk=f"OWNER#{asset.owner_id}#ASSETS",
            gsi1sk=f"{asset.created_at.isoformat()}#{asset.id}",
            asset_id=asset.id,
            **asset.model_dump(
                exclude={"id", "created_at", "updated_at", "ai_metadata", "music_metadata"}, mode="json"
            ),
            created_at=asset.created_at,
            updated_at=asset.updated_at,
        )
        records.append(record)
    batch_write(records, [])
    writes = Meter()
    calls = 0
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        nonlocal calls
        if operation_name == "BatchWriteItem":
            calls += 1
            for requests in api_params["RequestItems"].values():
                writes.items += len(requests)
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]
    try:
        for asset in (*mine, *others):
            index.reindex(None, asset)
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
    sizes = [item_size(record.serialize()) for record in records[:200]]
    total = len(mine) + len(others)
    return mine, {
        "index_items_per_asset": writes.items / total,
        "index_write_units_per_asset": writes.items / total,
        "batch_calls_per_asset": calls / total,
        "asset_item_bytes_median": statistics.median(sizes),
    }


def pick_shapes(library: list[Asset]) -> dict[str, str]:
    """Query shapes named by what they measure, their words picked by document frequency in ``library``."""
    frequency: Counter[str] = Counter()
    for asset in library:
        frequency.update(asset_terms(asset).keys())
    alphabetic = {word: count for word, count in frequency.items() if word.isalpha() and len(word) >= 5}

    def closest(target: int, exclude: tuple[str, ...] = ()) -> str:
        return min((w for w in alphabetic if w not in exclude), key=lambda w: (abs(alphabetic[w] - target), w))

    rare = closest(10)
    common = closest(int(len(library) * 0.08))
    with_common: Counter[str] = Counter()
    for asset in library:
        terms = asset_terms(asset)
        if common in terms:
            with_common.update(word for word in terms if word in alphabetic and word != common)
    partner = min(with_common, key=lambda w: (abs(with_common[w] - 20), w))
    return {
        "rare word": rare,
        "common word": common,
        "2-letter prefix": common[:2],
        "1-letter prefix": common[:1],
        "two words (AND)": f"{common} {partner[:4]}",
        "accent-free 'beyonce'": "beyonce",
        "name part 'l.cas.atl'": "l.cas.atl",
    }


def baseline(owner: str, query: str) -> list[str]:
    """The same search answered by reading the whole library (gsi1, every page) and scoring in Python."""
    from chalicelib.store.assets import asset_of
    from chalicelib.store.records import AssetRecord

    tokens = query_tokens(query)
    scored = []
    for record in AssetRecord.by_owner.query(f"OWNER#{owner}#ASSETS", consistent_read=False):
        asset = asset_of(record)
        if asset.deleted_at is not None:
            continue
        result = score(tokens, asset_terms(asset))
        if result is not None:
            scored.append((-result[0], -int(asset.created_at.timestamp() * 1000), asset.id))
    return [asset_id for _, _, asset_id in sorted(scored)[:PAGE]]


def ours(owner: str, query: str) -> list[str]:
    from chalicelib.container import get_media_index

    hits, _ = get_media_index().search(owner, query, limit=PAGE, offset=0)
    return [hit.asset.id for hit in hits]


def timed(function: Callable[[str, str], list[str]], query: str, runs: int, meter: Meter) -> dict[str, Any]:
    times, own, units, items, calls = [], [], [], [], []
    result: list[str] = []
    for _ in range(runs):
        meter.reset()
        started = time.perf_counter()
        result = function(OWNER, query)
        times.append((time.perf_counter() - started) * 1000)
        own.append(times[-1] - meter.dynamo_s * 1000)
        units.append(meter.units)
        items.append(meter.items)
        calls.append(sum(meter.calls.values()))
    ordered = sorted(times)
    return {
        "p50_ms": statistics.median(times),
        "p95_ms": ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)],
        "own_p50_ms": statistics.median(own),
        "read_units": statistics.median(units),
        "items_read": statistics.median(items),
        "calls": statistics.median(calls),
        "result": result,
    }


def run(assets: int, runs: int, baseline_runs: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    with mock_aws(), plain_json_answers(), partition_queries():
        provision(
            REPO_ROOT / "infra" / "template.json", boto3.Session(region_name="us-east-1"), parameters={"Stage": "local"}
        )
        from chalicelib.container import reset_container

        reset_container()
        started = time.perf_counter()
        library, writes = seed_library(assets, rng)
        writes["seed_s"] = time.perf_counter() - started
        shapes = pick_shapes(library)
        frequency = Counter[str]()
        for asset in library:
            frequency.update(asset_terms(asset).keys())
        meter = Meter()
        rows = []
        with metered(meter):
            for shape, query in shapes.items():
                ours(OWNER, query)  # warm-up (imports, caches)
                mine = timed(ours, query, runs, meter)
                theirs = timed(baseline, query, baseline_runs, meter)
                tokens = query_tokens(query)
                matches = sum(1 for asset in library if score(tokens, asset_terms(asset)) is not None)
                rows.append(
                    {
                        "shape": shape,
                        "q": query,
                        "matches": matches,
                        "same_answer": mine["result"] == theirs["result"],
                        "ours": {k: v for k, v in mine.items() if k != "result"},
                        "baseline": {k: v for k, v in theirs.items() if k != "result"},
                        "time_ratio": theirs["p50_ms"] / mine["p50_ms"],
                        "read_unit_ratio": theirs["read_units"] / mine["read_units"] if mine["read_units"] else None,
                    }
                )
    assert tokenise("Beyoncé") == ["beyonce"]
    return {
        "assets": assets,
        "runs": runs,
        "baseline_runs": baseline_runs,
        "seed": seed,
        "writes": writes,
        "rows": rows,
    }


def report(result: dict[str, Any]) -> None:
    writes = result["writes"]
    print(
        f"library: {result['assets']} assets of one owner (+{max(1, result['assets'] // 20)} of another), seeded and "
        f"indexed in {writes['seed_s']:.0f} s; index items per asset {writes['index_items_per_asset']:.1f} "
        f"(= write units, each item < 1 KB), BatchWriteItem calls per asset {writes['batch_calls_per_asset']:.2f}; "
        f"asset item median {writes['asset_item_bytes_median']:.0f} B"
    )
    print("ms: wall p50/p95 in moto, and p50 outside DynamoDB calls (our code: parsing, scoring); RU: read units/query")
    print(
        f"{'shape':<24}{'q':<14}{'match':>6} | {'ours p50/p95':>14} {'own':>6} {'RU':>6} | "
        f"{'base p50/p95':>14} {'own':>6} {'RU':>7} | {'time x':>6} {'RU x':>6} same"
    )
    for row in result["rows"]:
        mine, base = row["ours"], row["baseline"]
        ratio = f"{row['read_unit_ratio']:.0f}" if row["read_unit_ratio"] else "-"
        print(
            f"{row['shape']:<24}{row['q']:<14}{row['matches']:>6} | "
            f"{mine['p50_ms']:>6.0f}/{mine['p95_ms']:<7.0f} {mine['own_p50_ms']:>6.1f} {mine['read_units']:>6.1f} | "
            f"{base['p50_ms']:>6.0f}/{base['p95_ms']:<7.0f} {base['own_p50_ms']:>6.0f} {base['read_units']:>7.1f} | "
            f"{row['time_ratio']:>6.1f} {ratio:>6} {row['same_answer']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    result = run(args.assets, args.runs, args.baseline_runs, args.seed)
    report(result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
