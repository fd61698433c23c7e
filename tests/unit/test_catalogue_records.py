"""Records ⇄ domain models of the catalogue (pydantic both ways): every field of every model survives the round trip,
so a field added to a model but not to its record fails here, not in production."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from chalicelib.models.catalogue import Collaborator, HistoryEntry, Release, Track
from chalicelib.store.catalogue_records import (
    DSP_SYNC_DUE,
    collaborator_of,
    collaborator_record,
    history_of,
    history_record,
    release_of,
    release_record,
    track_of,
    track_record,
)

CREATED = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
UPDATED = datetime(2026, 2, 3, 4, 5, 6, 654321, tzinfo=UTC)


def a_release(**overrides: object) -> Release:
    """A release with every field set away from its default."""
    fields: dict[str, object] = {
        "id": "r1",
        "owner_id": "alice",
        "title": "Homogenic",
        "display_artist": "Björk",
        "release_type": "ep",
        "release_type_source": "set",
        "label": "One Little Indian",
        "genre": "Electronic",
        "upc": "036000241457",
        "p_line": "℗ 1997 One Little Indian",
        "c_line": "© 1997 One Little Indian",
        "explicit": True,
        "description": "Strings and beats.",
        "production_status": "released",
        "lock_status": "partial_lock",
        "scheduled_release_date": date(2026, 3, 1),
        "actual_release_date": date(2026, 3, 2),
        "locked_at": UPDATED,
        "locked_by_sync": True,
        "distributor_id": "dist-42",
        "distribution_status": "delivered",
        "last_dsp_sync_at": UPDATED,
        "dsp_sync_due_at": UPDATED,
        "dsp_conflicts": [
            {
                "id": "c1",
                "kind": "local_vs_dsp",
                "field": "title",
                "track_id": None,
                "disc_number": None,
                "track_number": None,
                "local_value": "Homogenic",
                "dsp_value": "Homogenic (Remastered)",
                "service": "spotify",
                "dsp_values": {"spotify": "Homogenic (Remastered)", "apple_music": None},
                "status": "resolved",
                "resolution": "merge",
                "value": "Homogenic",
                "detected_at": CREATED,
                "resolved_at": UPDATED,
                "resolved_by": "alice",
            }
        ],
        "dsp_ids": {"spotify": "3RQQmkQEvNCY4prGKE6oc5", "musicbrainz": "b1f1e7ad-0d4a-4c5a-9b6f-6d2a0b0a5f1e"},
        "artwork_url": "https://example.org/a.jpg",
        "track_count": 10,
        "duration_ms": 2_600_000,
        "created_at": CREATED,
        "updated_at": UPDATED,
        "version": 7,
    }
    fields.update(overrides)
    return Release.model_validate(fields)


def test_a_release_with_every_field_set_round_trips():
    release = a_release()
    assert set(release.model_fields_set) == set(Release.model_fields)  # every field really is set

    record = release_record(release, "album")

    assert release_of(record) == release
    assert (record.pk, record.sk, record.release_type, record.inferred_release_type) == (
        "RELEASE#r1",
        "RELEASE",
        "ep",
        "album",
    )
    assert (record.gsi3pk, record.scheduled_release_date) == (DSP_SYNC_DUE, "2026-03-01")


def test_an_inferred_type_is_stored_apart_and_read_back_as_inferred():
    release = a_release(release_type="single", release_type_source="inferred", dsp_conflicts=[], dsp_sync_due_at=None)

    record = release_record(release, "single")

    assert (record.release_type, record.inferred_release_type, record.gsi3pk, record.dsp_conflicts) == (
        None,
        "single",
        None,
        None,
    )
    assert release_of(record) == release


@pytest.mark.parametrize("bpm", [Decimal("120.50"), Decimal("98"), None])
def test_a_track_round_trips_with_its_bpm_as_a_decimal_string(bpm):
    track = Track(
        id="t1",
        release_id="r1",
        title="Jóga",
        track_number=3,
        disc_number=2,
        duration_ms=305_000,
        isrc="GBAYE0601498",
        explicit=True,
        bpm=bpm,
        musical_key="F# minor",
        production_notes="strings\nand beats",
        dsp_ids={"apple_music": "1440857781"},
        created_at=CREATED,
        updated_at=UPDATED,
        version=4,
    )

    record = track_record(track, "alice")

    assert track_of(record) == track
    assert record.bpm == (str(bpm) if bpm is not None else None)
    assert (record.pk, record.sk, record.owner_id) == ("RELEASE#r1", "RELEASE#TRACK#t1", "alice")


@pytest.mark.parametrize("split", [Decimal("33.33"), Decimal("100.00"), None])
def test_a_collaborator_round_trips_with_its_split_in_basis_points(split):
    collaborator = Collaborator(
        id="c1",
        release_id="r1",
        role="writer",
        name="Björk",
        isrc_party_id="0000000121451356",
        split=split,
        creator_id="creator-1",
        created_at=CREATED,
        updated_at=UPDATED,
        version=2,
    )

    record = collaborator_record(collaborator, "alice")

    assert collaborator_of(record) == collaborator
    assert record.split_bp == (int(split * 100) if split is not None else None)


@pytest.mark.parametrize("from_status", [None, "draft"])
def test_a_history_entry_round_trips_even_with_no_from_status(from_status):
    entry = HistoryEntry(
        id="h1",
        release_id="r1",
        from_status=from_status,
        to_status="recording",
        changed_by="alice",
        changed_at=CREATED,
        reason="studio booked",
        metadata={"transition": "start_recording", "lock_status": {"from": "unlocked", "to": "unlocked"}},
    )

    record = history_record(entry)

    assert history_of(record) == entry
    assert record.sk == "HISTORY#2026-01-02T03:04:05.123456Z#h1"
