"""Matching local tracks to merged DSP tracks: title normalisation, the score's parts, ISRC first, the optimal
assignment, ambiguity and the unmatched on either side."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.models.catalogue import Track
from chalicelib.providers.base import DspTrack
from chalicelib.services.dsp_matching import (
    MIN_SCORE,
    assign,
    length_score,
    match_tracks,
    normalise_title,
    position_score,
    score_matrix,
    title_similarity,
    titles_equal,
)
from chalicelib.services.dsp_merge import MergedTrack

NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


def local_track(
    track_id: str, title: str, number: int, duration_ms: int | None = None, isrc: str | None = None, disc: int = 1
) -> Track:
    return Track(
        id=track_id,
        release_id="rel-1",
        title=title,
        track_number=number,
        disc_number=disc,
        duration_ms=duration_ms,
        isrc=isrc,
        created_at=NOW,
        updated_at=NOW,
    )


def dsp_track(
    title: str, number: int, duration_ms: int | None = None, isrc: str | None = None, disc: int = 1
) -> MergedTrack:
    own = DspTrack(
        external_id=f"sp-{disc}-{number}",
        title=title,
        disc_number=disc,
        track_number=number,
        duration_ms=duration_ms,
        isrc=isrc,
    )
    return MergedTrack(disc, number, title, duration_ms, isrc, None, {"spotify": own})


# -- titles -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Halo (feat. Beyoncé)", "halo"),
        ("Halo ft. Beyoncé", "halo"),
        ("Halo featuring Beyoncé & Jay-Z", "halo"),
        ("Help! - Remastered 2011", "help"),
        ("Hey Jude - 2015 Remaster", "hey jude"),
        ("Song (Radio Edit)", "song"),
        ("Song [Live]", "song"),
        ("Song - Mono", "song"),
        ("Señorita", "senorita"),
        ("Rock & Roll", "rock and roll"),
        # Not a version note: kept, so parts and remixes stay different titles.
        ("Song (Part 2)", "song part 2"),
        ("Song - Club Remix", "song club remix"),
        # Nothing would be left: the folded title is kept, as Picard's normalize does.
        ("(Live)", "live"),
    ],
)
def test_normalise_title(raw: str, expected: str) -> None:
    # Given a title as a DSP or an artist writes it / When normalised / Then only the song's name is left
    assert normalise_title(raw) == expected


def test_titles_equal_ignores_version_notes_but_not_parts() -> None:
    # Given a DSP's remaster note and accents / When compared / Then equal; Then a different part is not equal
    assert titles_equal("Cafe Del Mar - Remastered 2011", "Café del Mar")
    assert titles_equal("Song (Radio Edit)", "Song")
    assert not titles_equal("Song (Part 1)", "Song (Part 2)")


def test_title_similarity_is_levenshtein_over_the_longer_length() -> None:
    # Given titles one edit apart out of four characters / Then 1 - 1/4 (beets' _string_dist_basic)
    assert title_similarity("Song", "Sing") == pytest.approx(0.75)
    assert title_similarity("Halo (feat. Beyoncé)", "HALO") == 1.0
    assert title_similarity("abc", "xyz") == 0.0


def test_titles_with_different_numbers_are_other_songs() -> None:
    # Given part 12 and part 13 (one edit apart) / Then their edit similarity is halved; the same numbers are not
    assert title_similarity("Part 12", "Part 13") == pytest.approx(6 / 7 * 0.5)
    assert title_similarity("Symphony No. 5", "Symphony No 5 - Remastered 2011") == 1.0


def test_numbered_parts_in_another_order_match_by_number() -> None:
    # Given parts 1 and 2 in the other order on the DSP, their lengths 6 s apart
    local = [local_track("t1", "Part 1", 1, 180_000), local_track("t2", "Part 2", 2, 186_000)]
    dsp = [dsp_track("Part 2", 1, 186_000), dsp_track("Part 1", 2, 180_000)]
    # When matched / Then each part to its own number, not to the part at its position
    result = match_tracks(local, dsp)
    assert [(m.track_id, m.dsp_index) for m in result.matches] == [("t1", 1), ("t2", 0)]


# -- length and position ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local_ms", "dsp_ms", "expected"),
    [
        (200_000, 200_000, 1.0),
        (200_000, 202_000, 1.0),  # off by 2 s: full score
        (200_000, 197_999, 1.0 - 1 / 28_000),  # just beyond the grace
        (200_000, 216_000, 0.5),  # 14 s beyond the grace of 28 s
        (200_000, 230_000, 0.0),  # 30 s: none
        (200_000, 290_000, 0.0),
    ],
)
def test_length_score(local_ms: int, dsp_ms: int, expected: float) -> None:
    # Given two durations / Then full within 2 s, linear to none at 30 s
    assert length_score(local_ms, dsp_ms) == pytest.approx(expected)


def test_length_score_unknown_is_none() -> None:
    # Given a missing duration on either side / Then no score (the weight is dropped, not scored zero)
    assert length_score(None, 200_000) is None
    assert length_score(200_000, None) is None


def test_missing_duration_drops_the_length_weight() -> None:
    # Given equal titles at the same position, one side without a duration / When scored
    scores = score_matrix([local_track("t1", "Song", 1)], [dsp_track("Song", 1, 200_000)])
    # Then a perfect score: an unknown length is not held against the pair
    assert scores == [[1.0]]


def test_position_score_tolerates_per_release_numbering() -> None:
    # Given a local track numbered 12 across discs, the DSP's disc 2 track 2 at release index 11
    assert position_score(1, 12, 2, 2, 11) == 1.0
    assert position_score(1, 3, 1, 3, 2) == 1.0
    assert position_score(1, 3, 1, 4, 3) == 0.0
    # But disc 2's track 2 is not disc 1's track 2 (release index 1)
    assert position_score(2, 2, 1, 2, 1) == 0.0


def test_same_title_on_two_discs_is_decided_by_the_disc() -> None:
    # Given "Intro" as track 2 of both discs, on both sides, without durations
    local = [local_track("d1", "Intro", 2), local_track("d2", "Intro", 2, disc=2)]
    dsp = [dsp_track("One", 1), dsp_track("Intro", 2), dsp_track("Intro", 1, disc=2), dsp_track("Intro", 2, disc=2)]
    # When matched / Then each to its own disc, neither ambiguous
    result = match_tracks(local, dsp)
    assert [(m.track_id, m.dsp_index) for m in result.matches] == [("d1", 1), ("d2", 3)]
    assert result.ambiguous == []


def test_score_matrix_is_the_weighted_mean_of_the_parts() -> None:
    # Given tracks with and without durations, numbers, accents, discs and positions on both sides
    local = [
        local_track("t1", "Part 2 (Live)", 1, 200_000),
        local_track("t2", "Café", 2),
        local_track("t3", "Intro", 12, 61_000),
        local_track("t4", "Song ft. X", 2, 180_000, disc=2),
    ]
    dsp = [
        dsp_track("Part 3", 1, 215_000),
        dsp_track("Cafe - Mono", 2, 190_000),
        dsp_track("Intro", 1, None, disc=2),
        dsp_track("Outro", 2, 240_000, disc=2),
    ]
    # When scored as a matrix
    scores = score_matrix(local, dsp)
    # Then each cell is beets' weighted mean of the public parts (3 title, 2 length when known, 1 position)
    for i, mine in enumerate(local):
        for j, theirs in enumerate(dsp):
            length = length_score(mine.duration_ms, theirs.duration_ms)
            parts = [
                (title_similarity(mine.title, theirs.title), 3.0),
                (position_score(mine.disc_number, mine.track_number, theirs.disc_number, theirs.track_number, j), 1.0),
            ]
            if length is not None:
                parts.append((length, 2.0))
            expected = sum(v * w for v, w in parts) / sum(w for _, w in parts)
            assert scores[i][j] == pytest.approx(expected), (i, j)


# -- matching ---------------------------------------------------------------------------------------------------------


def test_isrc_matches_first_whatever_the_title() -> None:
    # Given a track renamed locally but with the DSP's ISRC, and another at its place with a similar title
    local = [local_track("t1", "Working Title", 1, isrc="USAAA2600001")]
    dsp = [dsp_track("Final Name", 2, isrc="USAAA2600001"), dsp_track("Working Title (Live)", 1)]
    # When matched
    result = match_tracks(local, dsp)
    # Then the ISRC decides
    assert [(m.track_id, m.dsp_index, m.method, m.score) for m in result.matches] == [("t1", 0, "isrc", 1.0)]
    assert result.unmatched_dsp == [1]


def test_isrc_of_a_lower_priority_service_matches() -> None:
    # Given a merged track whose services disagree on the ISRC, and a local track with the second service's
    own_sp = DspTrack(external_id="sp1", title="A", disc_number=1, track_number=1, isrc="USAAA2600001")
    own_am = DspTrack(external_id="am1", title="A", disc_number=1, track_number=1, isrc="USAAA2600009")
    merged = MergedTrack(1, 1, "A", None, "USAAA2600001", None, {"spotify": own_sp, "apple_music": own_am})
    # When matched / Then by ISRC
    result = match_tracks([local_track("t1", "Other", 5, isrc="USAAA2600009")], [merged])
    assert [(m.dsp_index, m.method) for m in result.matches] == [(0, "isrc")]


def test_duplicate_isrc_is_not_a_unique_match() -> None:
    # Given one ISRC on two DSP tracks (the same recording twice) and on the local first track
    local = [local_track("t1", "Intro", 1, 60_000, isrc="USAAA2600001"), local_track("t2", "Outro", 2, 90_000)]
    dsp = [dsp_track("Outro", 2, 90_000, isrc="USAAA2600001"), dsp_track("Intro", 1, 60_000, isrc="USAAA2600001")]
    # When matched
    result = match_tracks(local, dsp)
    # Then the ISRC does not decide: the score puts t1 on the Intro, not on the first DSP track with its ISRC
    assert [(m.track_id, m.dsp_index, m.method) for m in result.matches] == [("t1", 1, "score"), ("t2", 0, "score")]


def test_duplicate_local_isrc_falls_back_to_the_score() -> None:
    # Given the same ISRC typed on two local tracks
    local = [local_track("t1", "A Song", 1, isrc="USAAA2600001"), local_track("t2", "Be Song", 2, isrc="USAAA2600001")]
    dsp = [dsp_track("A Song", 1, isrc="USAAA2600001"), dsp_track("Be Song", 2, isrc="USAAA2600002")]
    # When matched / Then both by score, each to its own title
    result = match_tracks(local, dsp)
    assert [(m.track_id, m.dsp_index, m.method) for m in result.matches] == [("t1", 0, "score"), ("t2", 1, "score")]


def test_tricky_titles_and_durations_off_by_two_seconds_match_without_isrcs() -> None:
    # Given local titles as the artist wrote them and the DSP's with notes, durations 2 s apart, no ISRCs
    local = [
        local_track("t1", "Halo (feat. Beyoncé)", 1, 200_000),
        local_track("t2", "Café", 2, 180_000),
        local_track("t3", "Summer", 3, 240_000),
    ]
    dsp = [
        dsp_track("Halo ft. Beyonce - Remastered 2011", 1, 202_000),
        dsp_track("Cafe (Radio Edit)", 2, 178_000),
        dsp_track("Summer - Live", 3, 241_000),
    ]
    # When matched
    result = match_tracks(local, dsp)
    # Then each to its own, with a perfect score
    assert [(m.track_id, m.dsp_index, m.score) for m in result.matches] == [
        ("t1", 0, 1.0),
        ("t2", 1, 1.0),
        ("t3", 2, 1.0),
    ]
    assert result.unmatched_local == [] and result.unmatched_dsp == [] and result.ambiguous == []


def test_swapped_order_matches_by_title() -> None:
    # Given two tracks whose running order differs between local and DSP
    local = [local_track("t1", "Morning", 1, 200_000), local_track("t2", "Evening", 2, 260_000)]
    dsp = [dsp_track("Evening", 1, 260_000), dsp_track("Morning", 2, 200_000)]
    # When matched / Then by title and length, not by position
    result = match_tracks(local, dsp)
    assert [(m.track_id, m.dsp_index) for m in result.matches] == [("t1", 1), ("t2", 0)]


def test_bonus_track_on_the_dsp_side_is_unmatched() -> None:
    # Given a DSP edition with a bonus track the local release lacks
    local = [local_track("t1", "One", 1, 200_000), local_track("t2", "Two", 2, 210_000)]
    dsp = [dsp_track("One", 1, 200_000), dsp_track("Two", 2, 210_000), dsp_track("Three (Bonus Track)", 3, 190_000)]
    # When matched / Then the bonus track is reported unmatched
    result = match_tracks(local, dsp)
    assert [m.dsp_index for m in result.matches] == [0, 1]
    assert result.unmatched_dsp == [2] and result.unmatched_local == []


def test_bonus_track_on_the_local_side_is_unmatched() -> None:
    # Given a local track the DSP does not list
    local = [local_track("t1", "One", 1, 200_000), local_track("t2", "Secret Song", 2, 95_000)]
    dsp = [dsp_track("One", 1, 200_000)]
    # When matched / Then it is reported unmatched, not forced onto a DSP track
    result = match_tracks(local, dsp)
    assert [m.track_id for m in result.matches] == ["t1"]
    assert result.unmatched_local == ["t2"]


def test_below_min_score_is_not_matched() -> None:
    # Given a single pair with different titles, lengths 30 s apart and different positions
    local = [local_track("t1", "Alpha", 1, 200_000)]
    dsp = [dsp_track("Zulu", 2, 230_000)]
    # When matched / Then nothing is forced
    result = match_tracks(local, dsp)
    assert result.matches == [] and result.unmatched_local == ["t1"] and result.unmatched_dsp == [0]


def test_renamed_track_in_place_with_same_length_is_matched_at_the_minimum() -> None:
    # Given a track renamed locally, same position and duration / When scored / Then exactly the minimum, matched
    scores = score_matrix([local_track("t1", "xyz", 1, 200_000)], [dsp_track("abc", 1, 200_000)])
    assert scores[0][0] == pytest.approx(MIN_SCORE)
    assert [
        m.track_id for m in match_tracks([local_track("t1", "xyz", 1, 200_000)], [dsp_track("abc", 1, 200_000)]).matches
    ] == ["t1"]


def test_assignment_is_optimal_not_greedy() -> None:
    # Given scores where the single best pair (0,0) forces the worst total
    scores = [[0.95, 0.85], [0.88, 0.55]]
    # When assigned / Then the optimal total 0.85 + 0.88, not greedy's 0.95 + 0.55
    assert assign(scores, 0.5) == [(0, 1), (1, 0)]


def test_optimal_assignment_through_match_tracks() -> None:
    # Given near-identical titles whose running order the DSP swapped: local "Say" then "Stay", DSP "Stay" then "Say"
    local = [local_track("t1", "Say", 1, 210_000), local_track("t2", "Stay", 2)]
    dsp = [dsp_track("Stay", 1, 180_000), dsp_track("Say", 2)]
    scores = score_matrix(local, dsp)
    # (the single best pair is t2 on the DSP's "Say": one letter off but in place; greedy would take it first)
    assert max((score, i, j) for i, row in enumerate(scores) for j, score in enumerate(row))[1:] == (1, 1)
    # When matched
    result = match_tracks(local, dsp)
    # Then each title goes to its own: the best total (0.75 + 0.75), not greedy's 0.81 + 0.54
    assert [(m.track_id, m.dsp_index) for m in result.matches] == [("t1", 1), ("t2", 0)]
    assert sum(m.score for m in result.matches) == pytest.approx(1.5)
    assert result.ambiguous == []


def test_ambiguous_candidates_are_reported_not_matched() -> None:
    # Given two DSP tracks with the same title and no durations, neither at the local track's position
    local = [local_track("t1", "Interlude", 5)]
    dsp = [dsp_track("Interlude", 2), dsp_track("Interlude", 7)]
    # When matched
    result = match_tracks(local, dsp)
    # Then the local track is ambiguous with both candidates, and nothing is matched
    assert result.matches == []
    assert [(a.track_id, [j for j, _ in a.candidates]) for a in result.ambiguous] == [("t1", [0, 1])]
    assert result.unmatched_local == [] and result.unmatched_dsp == [0, 1]


def test_equal_titles_are_decided_by_position() -> None:
    # Given two same-titled DSP tracks, one at the local track's position / Then not ambiguous: the position decides
    result = match_tracks([local_track("t1", "Interlude", 7)], [dsp_track("Interlude", 2), dsp_track("Interlude", 7)])
    assert [(m.track_id, m.dsp_index) for m in result.matches] == [("t1", 1)]
    assert result.ambiguous == []


def test_an_ambiguity_settled_by_a_clear_match_is_matched() -> None:
    # Given two "Skit"s at 3 and 5 locally, the DSP's at 5 and 8 (a bonus track moved the second), no durations
    local = [local_track("t3", "Skit", 3), local_track("t5", "Skit", 5)]
    dsp = [dsp_track("Skit", 5), dsp_track("Skit", 8)]
    # When matched: t5 is clear (in place); t3 is torn between both until t5 takes the one at 5
    result = match_tracks(local, dsp)
    # Then t3 takes the one left, and nothing is ambiguous
    assert [(m.track_id, m.dsp_index) for m in result.matches] == [("t3", 1), ("t5", 0)]
    assert result.ambiguous == [] and result.unmatched_dsp == []


def test_an_ambiguity_whose_candidates_are_all_taken_is_unmatched() -> None:
    # Given a local "Skit" torn between two DSP "Skit"s that two in-place local "Skit"s take
    local = [local_track("t9", "Skit", 9), local_track("t2", "Skit", 2), local_track("t4", "Skit", 4)]
    dsp = [dsp_track("Skit", 2), dsp_track("Skit", 4)]
    # When matched / Then the in-place ones match and the third is unmatched, not ambiguous
    result = match_tracks(local, dsp)
    assert [(m.track_id, m.dsp_index) for m in result.matches] == [("t2", 0), ("t4", 1)]
    assert result.ambiguous == [] and result.unmatched_local == ["t9"]


def test_duplicate_local_tracks_contesting_one_dsp_track_are_ambiguous() -> None:
    # Given the same song twice locally (no position or length to tell) and once on the DSP
    local = [local_track("t1", "Song", 4), local_track("t2", "Song", 5)]
    dsp = [dsp_track("Song", 9)]
    # When matched / Then both reported, each contested by the other; nothing matched
    result = match_tracks(local, dsp)
    assert result.matches == []
    assert [(a.track_id, a.contested_by) for a in result.ambiguous] == [("t1", ["t2"]), ("t2", ["t1"])]


def test_empty_sides() -> None:
    # Given nothing on one side / Then everything on the other is unmatched
    assert match_tracks([], [dsp_track("A", 1)]).unmatched_dsp == [0]
    assert match_tracks([local_track("t1", "A", 1)], []).unmatched_local == ["t1"]
