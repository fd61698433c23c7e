"""Storage keys of an asset: every key ingest writes lies under the asset's prefixes, each run under its own."""

from __future__ import annotations

from chalicelib.services.storage_keys import (
    asset_prefixes,
    derived_key,
    media_key,
    parse_upload_key,
    run_prefixes,
    upload_key,
)

ASSET = "0123456789abcdef0123456789abcdef"


def test_asset_prefixes_cover_the_upload_and_every_run():
    # Given an asset's prefixes
    prefixes = asset_prefixes("alice", ASSET)
    # Then they are the upload key and the media/ and derived/ prefixes, in that order
    assert prefixes == [f"uploads/alice/{ASSET}", f"media/alice/{ASSET}/", f"derived/alice/{ASSET}/"]
    # And every key any run writes starts with one of them
    for run in ("r1", "r2"):
        for key in (
            upload_key("alice", ASSET),
            media_key("alice", ASSET, run, "original", "jpg"),
            media_key("alice", ASSET, run, "tiny", "webp"),
            derived_key("alice", ASSET, run, "large", "png"),
        ):
            assert any(key.startswith(prefix) for prefix in prefixes), key


def test_the_prefixes_of_one_asset_do_not_reach_another_assets_keys():
    # Given a second asset whose id starts with the first one's id
    other = ASSET + "ff"
    # Then no media or derived key of it lies under the first asset's prefixes
    keys = [media_key("alice", other, "r", "original", "jpg"), derived_key("alice", other, "r", "tiny", "png")]
    assert not any(key.startswith(prefix) for key in keys for prefix in asset_prefixes("alice", ASSET)[1:])


def test_two_runs_never_share_a_key():
    # Given two runs of the same asset
    first, second = run_prefixes("alice", ASSET, "r1"), run_prefixes("alice", ASSET, "r2")
    # Then their prefixes are disjoint and each run's keys lie under its own prefixes only
    assert not any(a.startswith(b) or b.startswith(a) for a in first for b in second)
    assert media_key("alice", ASSET, "r1", "small", "webp").startswith(first[0])
    assert derived_key("alice", ASSET, "r1", "small", "png").startswith(first[1])


def test_upload_keys_round_trip():
    assert parse_upload_key(upload_key("alice", ASSET)) == ("alice", ASSET)
    assert parse_upload_key(f"media/alice/{ASSET}/r/original.jpg") is None
