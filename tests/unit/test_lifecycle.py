"""The production lifecycle, its guards and side effects, the lock rules, the release-type rule and split arithmetic."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import product
from typing import Any

import pytest

from chalicelib.errors import ConflictError
from chalicelib.models.catalogue import (
    Collaborator,
    Release,
    ReleaseDetail,
    Track,
    bp_to_percent,
    percent_to_bp,
    split_totals_bp,
)
from chalicelib.services.lifecycle import (
    artwork_editable,
    children_editable,
    editable_fields,
    infer_release_type,
    plan_transition,
    require_children_editable,
    require_fields_editable,
)

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
TOMORROW = TODAY + timedelta(days=1)
YESTERDAY = TODAY - timedelta(days=1)

STATUSES = ("draft", "recording", "mixed", "mastered", "scheduled", "released", "locked")

#: The lifecycle as documented (brief and README), in lifecycle order: status → the statuses it may move to.
EXPECTED_TARGETS: dict[str, list[str]] = {
    "draft": ["recording", "mixed"],
    "recording": ["mixed"],
    "mixed": ["mastered"],
    "mastered": ["scheduled", "released"],
    "scheduled": ["released"],
    "released": ["locked"],
    "locked": [],
}

#: The lock status a release has in each production status when it got there through the lifecycle.
NATURAL_LOCK = {
    "draft": "unlocked",
    "recording": "unlocked",
    "mixed": "unlocked",
    "mastered": "unlocked",
    "scheduled": "partial_lock",
    "released": "partial_lock",
    "locked": "locked",
}

ALL_RELEASE_FIELDS = {
    "title",
    "display_artist",
    "release_type",
    "label",
    "genre",
    "upc",
    "p_line",
    "c_line",
    "explicit",
    "description",
    "scheduled_release_date",
    "distributor_id",
    "distribution_status",
    "artwork_url",
}
PARTIAL_LOCK_FIELDS = {
    "label",
    "genre",
    "p_line",
    "c_line",
    "description",
    "distributor_id",
    "distribution_status",
    "artwork_url",
}


@pytest.fixture
def make_release() -> Callable[..., Release]:
    """``make_release("mastered", scheduled_release_date=...)``: a release in that status with its natural lock."""

    def make(status: str = "draft", **fields: Any) -> Release:
        values: dict[str, Any] = {
            "id": "rel-1",
            "owner_id": "alice",
            "title": "Homogenic",
            "display_artist": "Björk",
            "production_status": status,
            "lock_status": NATURAL_LOCK[status],
            "created_at": NOW - timedelta(days=30),
            "updated_at": NOW - timedelta(days=1),
            "version": 7,
        }
        values.update(fields)
        return Release(**values)

    return make


def _track(number: int, duration_ms: int | None) -> Track:
    return Track(
        id=f"trk-{number}",
        release_id="rel-1",
        title=f"Track {number}",
        track_number=number,
        duration_ms=duration_ms,
        created_at=NOW,
        updated_at=NOW,
    )


def _tracks(*durations_ms: int | None) -> list[Track]:
    return [_track(number, duration) for number, duration in enumerate(durations_ms, start=1)]


def _minutes(minutes: int, seconds: int = 0) -> int:
    return (minutes * 60 + seconds) * 1000


def _plan(release: Release, target: str, *, track_count: int = 1, **kwargs: Any):
    return plan_transition(release, target, track_count=track_count, today=TODAY, now=NOW, **kwargs)


# --- every (from, to) pair ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "target"), list(product(STATUSES, STATUSES)))
def test_every_status_pair_is_allowed_exactly_as_the_lifecycle_table_says(make_release, current, target):
    # Given a release whose guards are all satisfied (a track, a future date, the natural lock of its status)
    release = make_release(current, scheduled_release_date=TOMORROW)

    if target in EXPECTED_TARGETS[current]:
        plan = _plan(release, target)
        assert plan.changes["production_status"] == target
        assert plan.transition.target == target
        assert current in plan.transition.sources
        assert plan.metadata["transition"] == plan.transition.name
    else:
        with pytest.raises(ConflictError) as caught:
            _plan(release, target)
        assert caught.value.code == "invalid_transition"
        assert caught.value.status == 409
        assert caught.value.details == {
            "current_status": current,
            "requested": target,
            "allowed": EXPECTED_TARGETS[current],
        }


def test_the_table_covers_all_49_pairs_and_allows_eight():
    assert len(STATUSES) == 7
    assert sum(len(targets) for targets in EXPECTED_TARGETS.values()) == 8


def test_planning_does_not_change_the_release(make_release):
    release = make_release("mastered", scheduled_release_date=TOMORROW)
    before = release.model_dump()
    _plan(release, "released")
    _plan(release, "scheduled")
    assert release.model_dump() == before


# --- guards -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("current", ["draft", "recording"])
def test_mixing_needs_a_track(make_release, current):
    with pytest.raises(ConflictError) as caught:
        _plan(make_release(current), "mixed", track_count=0)
    assert caught.value.code == "no_tracks"
    assert _plan(make_release(current), "mixed", track_count=1).changes == {"production_status": "mixed"}


def test_an_invalid_transition_is_reported_before_the_track_guard(make_release):
    with pytest.raises(ConflictError) as caught:
        _plan(make_release("mixed"), "mixed", track_count=0)
    assert caught.value.code == "invalid_transition"


def test_only_mixing_needs_a_track(make_release):
    assert _plan(make_release("draft"), "recording", track_count=0).changes == {"production_status": "recording"}
    plan = _plan(make_release("mastered"), "released", track_count=0)
    assert plan.changes["production_status"] == "released"


def test_scheduling_needs_a_date(make_release):
    with pytest.raises(ConflictError) as caught:
        _plan(make_release("mastered", scheduled_release_date=None), "scheduled")
    assert caught.value.code == "scheduled_date_required"


@pytest.mark.parametrize("when", [TODAY, YESTERDAY, date(2020, 1, 1)], ids=["today", "yesterday", "years-ago"])
def test_scheduling_refuses_a_date_that_is_not_in_the_future(make_release, when):
    with pytest.raises(ConflictError) as caught:
        _plan(make_release("mastered", scheduled_release_date=when), "scheduled")
    assert caught.value.code == "scheduled_date_not_in_future"
    assert caught.value.details == {"scheduled_release_date": when.isoformat(), "today": "2025-03-14"}


def test_a_scheduled_date_argument_overrides_a_stored_past_date(make_release):
    release = make_release("mastered", scheduled_release_date=YESTERDAY)
    plan = _plan(release, "scheduled", scheduled_date=TOMORROW)
    assert plan.changes["scheduled_release_date"] == TOMORROW
    assert plan.metadata["scheduled_release_date"] == "2025-03-15"


def test_a_scheduled_date_argument_overrides_a_stored_future_date(make_release):
    release = make_release("mastered", scheduled_release_date=date(2025, 6, 1))
    with pytest.raises(ConflictError) as caught:
        _plan(release, "scheduled", scheduled_date=TODAY)
    assert caught.value.code == "scheduled_date_not_in_future"
    assert caught.value.details["scheduled_release_date"] == "2025-03-14"


def test_a_scheduled_date_argument_suffices_without_a_stored_date(make_release):
    plan = _plan(make_release("mastered"), "scheduled", scheduled_date=date(2025, 6, 1))
    assert plan.changes["scheduled_release_date"] == date(2025, 6, 1)


def test_the_scheduled_date_guard_only_applies_to_scheduling(make_release):
    # Releasing now from mastered needs no scheduled date at all.
    plan = _plan(make_release("mastered", scheduled_release_date=None), "released")
    assert plan.changes["production_status"] == "released"


@pytest.mark.parametrize("lock_status", ["unlocked", "locked"])
def test_locking_needs_a_partial_lock_first(make_release, lock_status):
    # A released release that an administrator unlocked is back to "unlocked".
    with pytest.raises(ConflictError) as caught:
        _plan(make_release("released", lock_status=lock_status), "locked")
    assert caught.value.code == "not_partially_locked"
    assert caught.value.details == {"lock_status": lock_status}


# --- side effects -------------------------------------------------------------------------------------------------


def test_start_recording_only_changes_the_status(make_release):
    plan = _plan(make_release("draft"), "recording")
    assert plan.changes == {"production_status": "recording"}
    assert plan.metadata == {"transition": "start_recording"}
    assert plan.enqueue_sync is False


def test_mastering_only_changes_the_status(make_release):
    plan = _plan(make_release("mixed"), "mastered")
    assert plan.changes == {"production_status": "mastered"}
    assert plan.metadata == {"transition": "complete_mastering"}
    assert plan.enqueue_sync is False


def test_scheduling_sets_the_date_and_a_partial_lock(make_release):
    plan = _plan(make_release("mastered", scheduled_release_date=TOMORROW), "scheduled")
    assert plan.changes == {
        "production_status": "scheduled",
        "scheduled_release_date": TOMORROW,
        "lock_status": "partial_lock",
    }
    assert plan.enqueue_sync is False
    assert plan.metadata == {
        "transition": "schedule",
        "scheduled_release_date": "2025-03-15",
        "lock_status": {"from": "unlocked", "to": "partial_lock"},
    }


def test_releasing_a_mastered_release_sets_todays_date_a_partial_lock_and_asks_for_a_sync(make_release):
    plan = _plan(make_release("mastered"), "released")
    assert plan.changes == {
        "production_status": "released",
        "actual_release_date": TODAY,
        "lock_status": "partial_lock",
        "dsp_sync_due_at": NOW,
    }
    assert plan.enqueue_sync is True
    assert plan.metadata == {
        "transition": "release",
        "actual_release_date": "2025-03-14",
        "lock_status": {"from": "unlocked", "to": "partial_lock"},
    }


def test_releasing_a_scheduled_release_records_no_lock_change(make_release):
    # Scheduling already set the partial lock: the history must not claim a change from partial_lock to partial_lock.
    plan = _plan(make_release("scheduled", scheduled_release_date=TOMORROW), "released")
    assert plan.changes["actual_release_date"] == TODAY  # the real date, not the scheduled one
    assert plan.changes["dsp_sync_due_at"] == NOW
    assert plan.enqueue_sync is True
    assert plan.metadata == {"transition": "release", "actual_release_date": "2025-03-14"}


@pytest.mark.parametrize("by_sync", [False, True])
def test_locking_sets_the_lock_its_time_and_who_locked(make_release, by_sync):
    plan = _plan(make_release("released"), "locked", by_sync=by_sync)
    assert plan.changes == {
        "production_status": "locked",
        "lock_status": "locked",
        "locked_at": NOW,
        "locked_by_sync": by_sync,
    }
    assert plan.enqueue_sync is False
    assert plan.metadata == {"transition": "lock", "lock_status": {"from": "partial_lock", "to": "locked"}}


# --- lock rules ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lock_status", "expected"),
    [("unlocked", ALL_RELEASE_FIELDS), ("partial_lock", PARTIAL_LOCK_FIELDS), ("locked", set())],
)
def test_editable_fields_per_lock_status(lock_status, expected):
    assert set(editable_fields(lock_status)) == expected


def test_the_partial_lock_freezes_what_the_dsps_deliver():
    frozen = ALL_RELEASE_FIELDS - set(editable_fields("partial_lock"))
    assert frozen == {
        "title",
        "display_artist",
        "release_type",
        "upc",
        "explicit",
        "scheduled_release_date",
    }


def test_every_release_field_is_editable_while_unlocked(make_release):
    require_fields_editable(make_release("draft"), set(ALL_RELEASE_FIELDS))  # does not raise


@pytest.mark.parametrize("status", ["scheduled", "released"])
def test_metadata_stays_editable_under_a_partial_lock(make_release, status):
    require_fields_editable(make_release(status), set(PARTIAL_LOCK_FIELDS))  # does not raise


def test_no_field_at_all_is_always_fine(make_release):
    require_fields_editable(make_release("locked"), set())  # does not raise


@pytest.mark.parametrize(
    ("status", "fields", "frozen"),
    [
        ("scheduled", {"upc", "genre", "title", "explicit"}, ["explicit", "title", "upc"]),
        (
            "released",
            {"scheduled_release_date", "display_artist", "label"},
            ["display_artist", "scheduled_release_date"],
        ),
        ("locked", {"label", "artwork_url"}, ["artwork_url", "label"]),
        ("locked", set(PARTIAL_LOCK_FIELDS), sorted(PARTIAL_LOCK_FIELDS)),
        ("draft", {"title", "production_status"}, ["production_status"]),  # not a release field at all
    ],
)
def test_frozen_fields_are_refused_with_their_sorted_names(make_release, status, fields, frozen):
    release = make_release(status)
    with pytest.raises(ConflictError) as caught:
        require_fields_editable(release, fields)
    assert caught.value.code == "fields_locked"
    assert caught.value.details == {"fields": frozen, "lock_status": release.lock_status}


@pytest.mark.parametrize(
    ("lock_status", "children", "artwork"),
    [("unlocked", True, True), ("partial_lock", False, True), ("locked", False, False)],
)
def test_tracks_collaborators_and_artwork_per_lock_status(lock_status, children, artwork):
    assert children_editable(lock_status) is children
    assert artwork_editable(lock_status) is artwork


def test_require_children_editable_refuses_a_locked_release(make_release):
    require_children_editable(make_release("mastered"), "Tracks")  # does not raise
    with pytest.raises(ConflictError) as caught:
        require_children_editable(make_release("scheduled"), "Tracks")
    assert caught.value.code == "release_locked"
    assert caught.value.details == {"lock_status": "partial_lock", "production_status": "scheduled"}
    assert caught.value.message.startswith("Tracks cannot change")


# --- release type -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("durations", "expected"),
    [
        pytest.param([], None, id="no-tracks"),
        pytest.param([_minutes(3, 30)], "single", id="one-short-track"),
        pytest.param([_minutes(9, 59)] * 3, "single", id="three-of-9:59"),
        pytest.param([_minutes(10) - 1] * 3, "single", id="three-a-millisecond-under-10-min"),
        pytest.param([_minutes(10)], "ep", id="one-track-of-10:00"),
        pytest.param([_minutes(3), _minutes(10)], "ep", id="two-with-a-10:00"),
        pytest.param([_minutes(3), _minutes(3), _minutes(10)], "ep", id="three-with-a-10:00"),
        pytest.param([_minutes(29, 59)], "ep", id="one-track-of-29:59"),
        pytest.param([_minutes(3)] * 4, "ep", id="four-short"),
        pytest.param([_minutes(3)] * 6, "ep", id="six-short"),
        pytest.param([_minutes(3)] * 7, "album", id="seven-short"),
        pytest.param([_minutes(1)] * 7, "album", id="seven-totalling-7-min"),
        pytest.param([_minutes(10)] * 3, "album", id="three-of-10:00-total-30:00"),
        pytest.param([_minutes(6)] * 5, "album", id="five-of-6:00-total-30:00"),
        pytest.param([_minutes(7, 30)] * 4 + [0], "album", id="four-of-7:30-total-30:00"),
        pytest.param([_minutes(7, 30)] * 3 + [_minutes(7, 30) - 1], "ep", id="four-a-millisecond-under-30:00"),
        pytest.param([_minutes(30)], "album", id="one-track-of-30:00"),
        pytest.param([_minutes(20), _minutes(10)], "album", id="two-totalling-30:00"),
    ],
)
def test_infer_release_type(durations, expected):
    assert infer_release_type(_tracks(*durations)) == expected


@pytest.mark.parametrize(
    ("durations", "expected"),
    [
        pytest.param([None], "single", id="one-unknown"),
        pytest.param([None, None, None], "single", id="three-unknown"),
        pytest.param([None] * 4, "ep", id="four-unknown"),
        pytest.param([None] * 7, "album", id="seven-unknown"),
        pytest.param([None, _minutes(10)], "ep", id="unknown-and-10:00"),
        pytest.param([None, _minutes(29, 59), None], "ep", id="unknowns-add-nothing-to-29:59"),
        pytest.param([None, _minutes(30)], "album", id="unknown-and-30:00"),
    ],
)
def test_unknown_durations_count_as_zero(durations, expected):
    assert infer_release_type(_tracks(*durations)) == expected


# --- splits -------------------------------------------------------------------------------------------------------


def _collaborator(number: int, role: str, split: str | None) -> Collaborator:
    return Collaborator(
        id=f"col-{number}",
        release_id="rel-1",
        role=role,
        name=f"Person {number}",
        split=Decimal(split) if split is not None else None,
        created_at=NOW,
        updated_at=NOW,
    )


def _detail(make_release: Callable[..., Release], *splits: tuple[str, str | None]) -> ReleaseDetail:
    collaborators = [_collaborator(number, role, split) for number, (role, split) in enumerate(splits, start=1)]
    return ReleaseDetail(release=make_release("draft"), tracks=[], collaborators=collaborators)


@pytest.mark.parametrize(
    ("percent", "bp"),
    [("33.33", 3333), ("33.34", 3334), ("100", 10_000), ("100.00", 10_000), ("0.01", 1), ("0", 0), ("12.5", 1250)],
)
def test_percent_to_bp(percent, bp):
    assert percent_to_bp(Decimal(percent)) == bp


@pytest.mark.parametrize(
    ("bp", "text"),
    [(3333, "33.33"), (10_000, "100.00"), (1, "0.01"), (0, "0.00"), (1250, "12.50"), (9999, "99.99")],
)
def test_bp_to_percent_has_two_decimals(bp, text):
    percent = bp_to_percent(bp)
    assert percent == Decimal(text)
    assert str(percent) == text


def test_bp_round_trip_is_exact_for_every_two_decimal_percent():
    for bp in range(0, 10_001):
        assert percent_to_bp(bp_to_percent(bp)) == bp


def test_thirds_written_as_33_33_33_33_33_34_complete_a_pool(make_release):
    detail = _detail(make_release, ("writer", "33.33"), ("composer", "33.33"), ("lyricist", "33.34"))
    splits = detail.splits()
    assert splits["publishing"].total == Decimal("100.00")
    assert splits["publishing"].complete is True
    assert splits["master"].total == Decimal("0.00")
    assert splits["master"].complete is False


def test_three_times_33_33_is_not_complete(make_release):
    detail = _detail(make_release, ("writer", "33.33"), ("writer", "33.33"), ("writer", "33.33"))
    splits = detail.splits()
    assert splits["publishing"].total == Decimal("99.99")
    assert splits["publishing"].complete is False


def test_a_tenth_of_a_percent_ten_times_is_exactly_one_percent(make_release):
    # 0.1 added ten times in binary floating point is 0.9999999999999999; the basis-point sum is exact.
    detail = _detail(make_release, *[("main_artist", "0.1")] * 10)
    assert split_totals_bp(detail.collaborators) == {"master": 100, "publishing": 0}
    assert detail.splits()["master"].total == Decimal("1.00")


def test_each_pool_is_summed_on_its_own(make_release):
    detail = _detail(
        make_release,
        ("main_artist", "50"),
        ("producer", "25.5"),
        ("mixer", "24.5"),
        ("writer", "60"),
        ("publisher", "20"),
        ("featured_artist", None),  # credited without a split
        ("arranger", None),
    )
    assert split_totals_bp(detail.collaborators) == {"master": 10_000, "publishing": 8_000}
    splits = detail.splits()
    assert (splits["master"].total, splits["master"].complete) == (Decimal("100.00"), True)
    assert (splits["publishing"].total, splits["publishing"].complete) == (Decimal("80.00"), False)


def test_no_collaborators_means_two_empty_pools(make_release):
    detail = _detail(make_release)
    assert split_totals_bp([]) == {"master": 0, "publishing": 0}
    assert set(detail.splits()) == {"master", "publishing"}
    assert all(summary.total == 0 and not summary.complete for summary in detail.splits().values())


def test_split_totals_serialise_as_numbers(make_release):
    detail = _detail(make_release, ("writer", "33.33"), ("composer", "33.33"), ("lyricist", "33.34"))
    dumped = {group: summary.model_dump(mode="json") for group, summary in detail.splits().items()}
    assert dumped == {"master": {"total": 0.0, "complete": False}, "publishing": {"total": 100.0, "complete": True}}
