"""Merging DSP releases the way Harmony does: GTIN and per-medium track-count refusals, priority per field, and every
disagreement between the merged services reported."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.providers.base import DspMedium, DspRelease, DspService, DspTrack
from chalicelib.services.dsp_merge import Disagreement, merge_releases

TITLES = ("Halo", "Café", "Summer")


def release(
    service: DspService,
    *,
    gtin: str | None = "036000241457",
    counts: tuple[int, ...] = (3,),
    release_date: date | None = date(2026, 10, 2),
    isrcs: dict[int, str | None] | None = None,
    durations: dict[int, int | None] | None = None,
    titles: dict[int, str] | None = None,
    explicit: dict[int, bool | None] | None = None,
) -> DspRelease:
    """A release of ``counts`` tracks per medium; per-track overrides keyed by the 0-based index over the release."""
    media: list[DspMedium] = []
    index = 0
    for disc, count in enumerate(counts, start=1):
        tracks = []
        for number in range(1, count + 1):
            tracks.append(
                DspTrack(
                    external_id=f"{service}-{disc}-{number}",
                    title=(titles or {}).get(index, TITLES[index % len(TITLES)] + f" {index}"),
                    disc_number=disc,
                    track_number=number,
                    duration_ms=(durations or {}).get(index, 200_000 + index * 1_000),
                    isrc=(isrcs or {}).get(index, f"USAAA26{index:05d}"),
                    explicit=(explicit or {}).get(index),
                )
            )
            index += 1
        media.append(DspMedium(position=disc, tracks=tracks))
    return DspRelease(
        service=service,
        external_id=f"{service}-album",
        title="Album",
        gtin=gtin,
        release_date=release_date,
        media=media,
    )


def test_no_release_merges_to_none() -> None:
    # Given no service found the release / When merged / Then no release and nothing reported
    result = merge_releases([])
    assert result.release is None and result.rejected == [] and result.disagreements == []


def test_identical_releases_merge_without_disagreement() -> None:
    # Given three services listing the same release / When merged
    result = merge_releases([release("spotify"), release("apple_music"), release("musicbrainz")])
    # Then all merged in priority order, each position carrying every service's own track
    assert result.release is not None
    assert result.release.services == ["spotify", "apple_music", "musicbrainz"]
    assert result.release.external_ids["apple_music"] == "apple_music-album"
    assert [t.isrc for t in result.release.tracks] == ["USAAA2600000", "USAAA2600001", "USAAA2600002"]
    assert set(result.release.tracks[1].tracks) == {"spotify", "apple_music", "musicbrainz"}
    assert result.rejected == [] and result.disagreements == []


def test_gtin_with_leading_zeros_is_the_same() -> None:
    # Given a UPC-A and the same number as EAN-13 with a leading zero / When merged / Then both merged
    result = merge_releases([release("spotify", gtin="036000241457"), release("apple_music", gtin="0036000241457")])
    assert result.release is not None and result.release.services == ["spotify", "apple_music"]
    assert result.rejected == []
    assert result.release.gtins == {"spotify": "036000241457", "apple_music": "0036000241457"}


def test_gtin_mismatch_is_rejected_and_reported() -> None:
    # Given MusicBrainz stating another barcode / When merged
    result = merge_releases([release("spotify"), release("apple_music"), release("musicbrainz", gtin="5099902988023")])
    # Then MusicBrainz is not merged, and the refusal says both values
    assert result.release is not None and result.release.services == ["spotify", "apple_music"]
    assert [(r.service, r.code) for r in result.rejected] == [("musicbrainz", "gtin_mismatch")]
    assert result.rejected[0].details == {
        "gtin": "5099902988023",
        "reference_gtin": "036000241457",
        "reference_service": "spotify",
    }


def test_missing_gtin_is_compatible_and_the_next_stated_is_the_reference() -> None:
    # Given the first service states no GTIN / When merged
    result = merge_releases([release("spotify", gtin=None), release("apple_music"), release("musicbrainz", gtin="111")])
    # Then the reference GTIN is Apple's, Spotify is merged, MusicBrainz rejected against Apple
    assert result.release is not None and result.release.gtin == "036000241457"
    assert result.release.services == ["spotify", "apple_music"]
    assert [(r.service, r.details["reference_service"]) for r in result.rejected] == [("musicbrainz", "apple_music")]


def test_a_release_rejected_for_its_tracks_sets_no_reference_gtin() -> None:
    # Given Spotify without a GTIN, Apple with one but a bonus track, MusicBrainz with another GTIN and Spotify's tracks
    result = merge_releases(
        [release("spotify", gtin=None), release("apple_music", counts=(4,)), release("musicbrainz", gtin="111")]
    )
    # Then Apple is rejected for its tracks and its GTIN is not held against MusicBrainz, which is merged
    assert [(r.service, r.code) for r in result.rejected] == [("apple_music", "track_count_mismatch")]
    assert result.release is not None and result.release.services == ["spotify", "musicbrainz"]
    assert result.release.gtin == "111"


def test_track_count_per_medium_mismatch_is_rejected() -> None:
    # Given the same total (4 tracks) split 2+2 on Apple and 3+1 on Spotify / When merged
    result = merge_releases([release("spotify", counts=(3, 1)), release("apple_music", counts=(2, 2))])
    # Then Apple is rejected: the counts per medium differ even though the total agrees
    assert result.release is not None and result.release.services == ["spotify"]
    assert [(r.service, r.code) for r in result.rejected] == [("apple_music", "track_count_mismatch")]
    assert result.rejected[0].details["track_counts"] == [2, 2]
    assert "2+2" in result.rejected[0].message and "3+1" in result.rejected[0].message


def test_a_bonus_track_on_one_service_is_a_track_count_mismatch() -> None:
    # Given Apple listing a bonus track / When merged / Then Apple is not merged, Spotify's tracklist is kept
    result = merge_releases([release("spotify"), release("apple_music", counts=(4,))])
    assert result.release is not None and len(result.release.tracks) == 3
    assert [r.code for r in result.rejected] == ["track_count_mismatch"]


def test_three_services_one_disagreeing_on_an_isrc() -> None:
    # Given MusicBrainz stating another ISRC for the second track / When merged
    result = merge_releases(
        [release("spotify"), release("apple_music"), release("musicbrainz", isrcs={1: "GBAAA2600099"})]
    )
    # Then merged all three, the ISRC from Spotify (priority), and the disagreement reported at 1-2
    assert result.release is not None and result.release.tracks[1].isrc == "USAAA2600001"
    assert result.disagreements == [
        Disagreement(
            "isrc",
            1,
            2,
            {"spotify": "USAAA2600001", "apple_music": "USAAA2600001", "musicbrainz": "GBAAA2600099"},
        )
    ]


def test_missing_values_are_filled_from_the_next_service_and_do_not_disagree() -> None:
    # Given Spotify without an ISRC and a duration on the first track, Apple with both
    result = merge_releases(
        [release("spotify", isrcs={0: None}, durations={0: None}), release("apple_music", explicit={0: True})]
    )
    # Then the merged track takes Apple's values and no disagreement is reported
    assert result.release is not None
    first = result.release.tracks[0]
    assert (first.isrc, first.duration_ms, first.explicit) == ("USAAA2600000", 200_000, True)
    assert result.disagreements == []


@pytest.mark.parametrize(("apple_ms", "disagree"), [(202_000, False), (202_001, True), (197_999, True)])
def test_durations_disagree_only_beyond_two_seconds(apple_ms: int, disagree: bool) -> None:
    # Given Apple's first track 2 s (or just over) off Spotify's 200 s / When merged
    result = merge_releases([release("spotify"), release("apple_music", durations={0: apple_ms})])
    # Then a duration disagreement only beyond 2 s
    assert [d.field for d in result.disagreements] == (["duration_ms"] if disagree else [])


def test_titles_disagree_only_after_normalisation() -> None:
    # Given a remaster note and accents on one side, a different word on the other
    result = merge_releases(
        [
            release("spotify", titles={0: "Café - Remastered 2011", 1: "Morning"}),
            release("apple_music", titles={0: "Cafe", 1: "Mourning"}),
        ]
    )
    # Then only the second track's titles disagree; the merged title is the reference's own
    assert [(d.field, d.track_number) for d in result.disagreements] == [("title", 2)]
    assert result.release is not None and result.release.tracks[0].title == "Café - Remastered 2011"


def test_explicit_disagreement_ignores_unrated() -> None:
    # Given Spotify rating explicit, Apple clean, MusicBrainz not rating
    result = merge_releases(
        [
            release("spotify", explicit={0: True}),
            release("apple_music", explicit={0: False}),
            release("musicbrainz", explicit={0: None}),
        ]
    )
    # Then one disagreement naming only the two that rate it
    assert [(d.field, d.values) for d in result.disagreements] == [
        ("explicit", {"spotify": True, "apple_music": False})
    ]


def test_release_dates_disagree_and_the_first_stated_wins() -> None:
    # Given MusicBrainz without a date and Apple a day later than Spotify / When merged
    result = merge_releases(
        [
            release("spotify", release_date=None),
            release("apple_music", release_date=date(2026, 10, 3)),
            release("musicbrainz", release_date=date(2026, 10, 2)),
        ]
    )
    # Then the date comes from Apple (the first stating one) and the difference is reported
    assert result.release is not None and result.release.release_date == date(2026, 10, 3)
    assert result.disagreements == [
        Disagreement(
            "actual_release_date", None, None, {"apple_music": date(2026, 10, 3), "musicbrainz": date(2026, 10, 2)}
        )
    ]
    assert result.release.release_dates["spotify"] is None


def test_a_release_without_tracks_is_merged_but_adds_no_tracks() -> None:
    # Given MusicBrainz listing no media (compatible with any track counts, as in Harmony)
    empty = release("musicbrainz").model_copy(update={"media": []})
    result = merge_releases([release("spotify"), empty])
    # Then it is merged (its id and date count) and the tracks are Spotify's alone
    assert result.release is not None and result.release.services == ["spotify", "musicbrainz"]
    assert set(result.release.tracks[0].tracks) == {"spotify"}


def test_a_service_twice_is_refused() -> None:
    # Given the same service twice / Then a ValueError, not a silent pick
    with pytest.raises(ValueError, match="at most once"):
        merge_releases([release("spotify"), release("spotify")])
