"""Matching local tracks to merged DSP tracks, as pure functions: ISRC first, then a scored, optimal assignment.

The score is a weighted mean of three named components (title, length, position) whose weights live in one place
(``MatchWeights``) with their source: beets' ``match.distance_weights`` (``track_title`` 3.0, ``track_length`` 2.0,
``track_index`` 1.0, ``beets/config_default.yaml``). Picard weighs the same parts 22 / 8 / 6 + 5 (title / length /
track number + disc number, ``picard/metadata.py`` ``Metadata.compare``): the same order, title first. As in both,
a part whose value is unknown on either side is dropped from the mean, not scored as zero.

Titles are compared as beets does (Levenshtein distance over the longer length), computed by rapidfuzz (C++, 12 MB
in the bundle). The assignment is the Hungarian method of ``munkres`` (Brian Clapper's ``munkres`` 1.1.4, pure
Python, 80 kB), solved per connected group of candidate pairs; beets solves the same problem with ``lap.lapjv``
(``beets/autotag/match.py`` ``assign_items``), which needs numpy (about 73 MB in the bundle). ``assign`` is the one
place to change to switch.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from munkres import Munkres  # type: ignore[import-untyped]  # munkres 1.1.4 ships no type hints
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from chalicelib.models.catalogue import Track

if TYPE_CHECKING:
    from chalicelib.services.dsp_merge import MergedTrack

#: Within this many milliseconds two durations are the same (the issue's tolerance; also the duration-conflict rule).
LENGTH_GRACE_MS = 2_000
#: At this difference the length score reaches 0 (Picard's ``LENGTH_SCORE_THRESHOLD_MS``, ``picard/matching.py``).
LENGTH_ZERO_MS = 30_000


@dataclass(frozen=True)
class MatchWeights:
    """Relative weights of the score's parts (any positive scale; the score is their weighted mean).

    Defaults are beets' ``distance_weights`` for ``track_title`` (3.0), ``track_length`` (2.0) and ``track_index``
    (1.0): with all three known the title is half the score, the length a third, the position a sixth.
    """

    title: float = 3.0
    length: float = 2.0
    position: float = 1.0


DEFAULT_WEIGHTS = MatchWeights()

#: A pair scoring below this is never matched. 0.5 is what a pair scores that agrees on duration (within 2 s) and
#: position but shares nothing in its title (2/6 + 1/6 with the default weights): a renamed track in its place is
#: still matched (and its title becomes a conflict); with less, neither the title nor both of length and position
#: speak for the pair. Without durations the same pair scores 0.25 and is not matched.
MIN_SCORE = 0.5
#: Two candidates closer than this are ambiguous. 0.05 is below the position part (1/6 ≈ 0.17), so equal titles at
#: different positions are decided by the position; and it is about what one character in ten of a title (0.05)
#: or 4 s of duration beyond the grace (0.05) is worth: a difference that small is noise, not evidence.
AMBIGUITY_MARGIN = 0.05


@dataclass(frozen=True)
class TrackMatch:
    """A local track matched to ``dsp[dsp_index]``: by a unique ISRC (``score`` 1.0) or by score (0..1)."""

    track_id: str
    dsp_index: int
    method: Literal["isrc", "score"]
    score: float


@dataclass(frozen=True)
class Ambiguity:
    """A local track not matched because two candidates are within the margin.

    ``candidates``: ``(dsp_index, score)`` of its DSP candidates within the margin of its best, best first.
    ``contested_by``: other local track ids whose best candidate is the same DSP track within the margin (empty when
    the ambiguity is between DSP tracks).
    """

    track_id: str
    candidates: list[tuple[int, float]]
    contested_by: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MatchResult:
    """``matches`` in local order; ``ambiguous`` local tracks (not matched, not in ``unmatched_local``);
    ``unmatched_local`` local track ids with no match, in local order; ``unmatched_dsp`` DSP indexes with no match
    (ambiguous candidates included), ascending."""

    matches: list[TrackMatch]
    ambiguous: list[Ambiguity]
    unmatched_local: list[str]
    unmatched_dsp: list[int]


# -- titles -----------------------------------------------------------------------------------------------------------

#: Words that mark a bracketed or dashed part of a title as a version note the DSPs add, not part of the name
#: (Spotify's "- Remastered 2011", "- Radio Edit", "- Live", "- Mono"; Apple's "(Radio Edit)"). Remix, acoustic,
#: instrumental and demo are left in: they name other recordings.
_VERSION_WORDS = (
    r"remaster(?:ed)?|re-?recorded|radio edit|single edit|edit|single version|album version|original version"
    r"|live|mono|stereo|explicit|clean|bonus track"
)
_VERSION_RE = re.compile(rf"\b(?:{_VERSION_WORDS})\b")
#: ``feat.``/``ft.``/``featuring`` to the end or to the closing bracket (beets' ``SD_PATTERNS`` weighs the same part
#: down to 0.1, ``beets/autotag/distance.py``; we drop it: the featured artists are credits, not the title).
_FEAT_RE = re.compile(r"\s*[(\[]\s*(?:featuring|feat|ft)\b\.?[^)\]]*[)\]]|\s+(?:featuring|feat|ft)\b\.?\s.*$")
_BRACKETED_RE = re.compile(r"\s*[(\[]([^)\]]*)[)\]]")
_DASHED_RE = re.compile(r"\s+[-\u2013\u2014]\s+(.*)$")
_NON_ALNUM_RE = re.compile(r"[^0-9a-z]+")
_NUMBER_RE = re.compile(r"\d+")
#: Titles whose numbers differ (``Part 12`` / ``Part 13``, ``No. 5`` / ``No. 6``) are other songs, not typos: their
#: edit similarity is scaled by this. Sleeve's own rule (beets and Picard have none): without it one digit weighs
#: less than the position, and an album of numbered parts whose running order differs matches part 12 to part 13.
NUMBER_MISMATCH_FACTOR = 0.5


def _fold(text: str) -> str:
    """Case-fold and strip accents: NFKD, then drop the combining marks (``Beyoncé`` → ``beyonce``)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@lru_cache(maxsize=4096)
def normalise_title(title: str) -> str:
    """A title reduced to what names the song: lower case, no accents, no ``feat.``/``ft.``/``featuring`` part, no
    bracketed or dashed version note (``(Radio Edit)``, ``- Remastered 2011``, ``[Live]``, ``- Mono``), ``&`` as
    ``and`` (beets' ``SD_REPLACE``), punctuation removed, single spaces.

    ``"Halo (feat. Beyoncé) - Remastered 2011"`` → ``"halo"``. A title that would normalise to nothing (``"(Live)"``)
    keeps its folded, punctuation-free form instead, as Picard's ``normalize`` does (``picard/similarity.py``).
    """
    folded = _fold(title)
    text = _FEAT_RE.sub("", folded)
    text = _BRACKETED_RE.sub(lambda m: "" if _VERSION_RE.search(m.group(1)) else f" {m.group(1)}", text)
    dashed = _DASHED_RE.search(text)
    if dashed and _VERSION_RE.search(dashed.group(1)):
        text = text[: dashed.start()]
    text = _NON_ALNUM_RE.sub(" ", text.replace("&", " and ")).strip()
    return text or _NON_ALNUM_RE.sub(" ", folded).strip()


def _numbers(normalised: str) -> tuple[int, ...]:
    return tuple(int(run) for run in _NUMBER_RE.findall(normalised))


def _number_factor(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    return NUMBER_MISMATCH_FACTOR if a and b and a != b else 1.0


def title_similarity(a: str, b: str) -> float:
    """Similarity of two titles after ``normalise_title``, 0..1: 1 − Levenshtein distance / the longer length, the
    measure of beets' ``_string_dist_basic`` (``beets/autotag/distance.py``), computed by rapidfuzz; scaled by
    ``NUMBER_MISMATCH_FACTOR`` when both titles hold numbers and they differ."""
    first, second = normalise_title(a), normalise_title(b)
    similarity = float(Levenshtein.normalized_similarity(first, second))
    return similarity * _number_factor(_numbers(first), _numbers(second))


def titles_equal(a: str, b: str) -> bool:
    """Whether two titles are the same after ``normalise_title`` (the rule for a ``title`` conflict)."""
    return normalise_title(a) == normalise_title(b)


# -- length and position ----------------------------------------------------------------------------------------------


def length_score(local_ms: int | None, dsp_ms: int | None) -> float | None:
    """1.0 within 2 s (``LENGTH_GRACE_MS``), falling linearly to 0.0 at 30 s (``LENGTH_ZERO_MS``); None when either
    duration is unknown (the part is then dropped from the score). Milliseconds in.

    Picard's ``length_score`` (``picard/matching.py``) falls linearly from 0 to 30 s; beets subtracts a grace
    (``track_length_grace``, 10 s) before its ratio. We keep Picard's 30 s and a 2 s grace, the conflict tolerance.
    """
    if local_ms is None or dsp_ms is None:
        return None
    excess = abs(local_ms - dsp_ms) - LENGTH_GRACE_MS
    if excess <= 0:
        return 1.0
    return max(0.0, 1.0 - excess / (LENGTH_ZERO_MS - LENGTH_GRACE_MS))


def position_score(local_disc: int, local_track: int, dsp_disc: int, dsp_track: int, dsp_index: int) -> float:
    """1.0 when the local track sits where the DSP track does, else 0.0.

    Same place: the same disc and track number, or, for a local release numbered across discs (all on disc 1), a
    local number equal to a later disc's track's 1-based index on the whole release (``dsp_index + 1``). Binary like
    Picard's ``tracknumber`` and ``discnumber`` parts, and tolerant of per-release numbering like beets'
    ``track_index_changed`` (which compares the index whatever the disc; here disc 2's track 2 is not disc 1's).
    """
    if (local_disc, local_track) == (dsp_disc, dsp_track):
        return 1.0
    return 1.0 if local_disc == 1 and dsp_disc != 1 and local_track == dsp_index + 1 else 0.0


def _isrc_key(isrc: str | None) -> str | None:
    compact = isrc.replace("-", "").strip().upper() if isrc else ""
    return compact or None


# -- matching ---------------------------------------------------------------------------------------------------------


def score_matrix(
    local: Sequence[Track], dsp: Sequence[MergedTrack], weights: MatchWeights = DEFAULT_WEIGHTS
) -> list[list[float]]:
    """``scores[i][j]``, 0..1: the weighted mean of title similarity (``title_similarity``), length score
    (``length_score``; dropped when a duration is unknown) and position score (``position_score``) of ``local[i]``
    against ``dsp[j]``.

    The same parts as those functions, computed a row at a time (rapidfuzz's ``process.extract`` for the titles) so
    that 99×99 stays within milliseconds.
    """
    dsp_titles = [normalise_title(track.title) for track in dsp]
    dsp_numbers = [_numbers(title) for title in dsp_titles]
    at_place: dict[tuple[int, int], list[int]] = {}
    for index, other in enumerate(dsp):
        at_place.setdefault((other.disc_number, other.track_number), []).append(index)
    lengths = [track.duration_ms for track in dsp]
    span = LENGTH_ZERO_MS - LENGTH_GRACE_MS
    w_title, w_length, w_position = weights.title, weights.length, weights.position
    full, short = w_title + w_length + w_position, w_title + w_position
    scores: list[list[float]] = []
    for track in local:
        title = normalise_title(track.title)
        sims = [0.0] * len(dsp)
        for _choice, similarity, index in process.extract(
            title, dsp_titles, scorer=Levenshtein.normalized_similarity, limit=None
        ):
            sims[index] = similarity
        numbers = _numbers(title)
        if numbers:
            sims = [sim * _number_factor(numbers, other) for sim, other in zip(sims, dsp_numbers, strict=True)]
        ms = track.duration_ms
        if ms is None:
            row = [w_title * sim / short for sim in sims]
        else:
            row = [
                w_title * sim / short
                if other_ms is None
                else (
                    w_title * sim
                    + w_length
                    * (1.0 if (excess := abs(ms - other_ms) - LENGTH_GRACE_MS) <= 0 else max(0.0, 1.0 - excess / span))
                )
                / full
                for sim, other_ms in zip(sims, lengths, strict=True)
            ]
        # The position part is 1 for at most a few columns (``position_score``): the same place, or the index.
        same = set(at_place.get((track.disc_number, track.track_number), ()))
        across = track.track_number - 1
        if track.disc_number == 1 and 0 <= across < len(dsp) and dsp[across].disc_number != 1:
            same.add(across)
        for index in same:
            row[index] += w_position / (full if ms is not None and lengths[index] is not None else short)
        scores.append(row)
    return scores


def assign(scores: Sequence[Sequence[float]], min_score: float = MIN_SCORE) -> list[tuple[int, int]]:
    """The optimal assignment: ``(row, column)`` pairs, each row and column at most once, every pair scoring at least
    ``min_score``, maximising the total score (not greedy). Sorted by row.

    Rows and columns are split into the connected groups of their candidate pairs (scores ≥ ``min_score``); each group
    is solved with the Hungarian method (``munkres``), a pair below the minimum costing as much as no pair.
    """
    candidates: dict[int, list[int]] = {
        row: [col for col, score in enumerate(line) if score >= min_score] for row, line in enumerate(scores)
    }
    columns: dict[int, list[int]] = {}
    for row, cols in candidates.items():
        for col in cols:
            columns.setdefault(col, []).append(row)
    pairs: list[tuple[int, int]] = []
    seen_rows: set[int] = set()
    for start, start_cols in candidates.items():
        if start in seen_rows or not start_cols:
            continue
        group_rows, group_cols, frontier = {start}, set(start_cols), list(start_cols)
        while frontier:
            for row in columns[frontier.pop()]:
                if row not in group_rows:
                    group_rows.add(row)
                    new_cols = set(candidates[row]) - group_cols
                    group_cols |= new_cols
                    frontier.extend(new_cols)
        seen_rows |= group_rows
        rows, cols = sorted(group_rows), sorted(group_cols)
        if len(rows) == 1 and len(cols) == 1:
            pairs.append((rows[0], cols[0]))
            continue
        cost = [[1.0 - scores[r][c] if scores[r][c] >= min_score else 1.0 for c in cols] for r in rows]
        for i, j in Munkres().compute(cost):
            if scores[rows[i]][cols[j]] >= min_score:
                pairs.append((rows[i], cols[j]))
    return sorted(pairs)


def match_tracks(
    local: Sequence[Track],
    dsp: Sequence[MergedTrack],
    *,
    weights: MatchWeights = DEFAULT_WEIGHTS,
    min_score: float = MIN_SCORE,
    ambiguity_margin: float = AMBIGUITY_MARGIN,
) -> MatchResult:
    """Match local tracks to merged DSP tracks.

    1. ISRC: a local track and a DSP track match when they share an ISRC that no other local track and no other DSP
       track carries (a DSP track's ISRCs: the merged one and each service's own). An ISRC on two tracks of one side
       (the same recording twice, or a typo) cannot say which is which: those tracks go on to step 2.
    2. The rest are scored (``score_matrix``). A local track whose two best candidates (≥ ``min_score``) are within
       ``ambiguity_margin`` is ambiguous; so are local tracks whose best candidate is the same DSP track within the
       margin of each other.
    3. The others are assigned optimally (``assign``) among pairs scoring at least ``min_score``. The ambiguous are
       then judged again among the DSP tracks left (a repeated "Skit" whose twin was matched by its position is no
       longer ambiguous), until a round matches nothing more. Those still ambiguous are reported and not matched.
    """
    local_keys = [_isrc_key(track.isrc) for track in local]
    dsp_keys = [
        {key for key in (_isrc_key(track.isrc), *(_isrc_key(t.isrc) for t in track.tracks.values())) if key}
        for track in dsp
    ]
    local_count = Counter(key for key in local_keys if key)
    dsp_count = Counter(key for keys in dsp_keys for key in keys)
    dsp_by_isrc = {key: index for index, keys in enumerate(dsp_keys) for key in keys}
    matched: dict[int, TrackMatch] = {}
    taken: set[int] = set()
    for i, key in enumerate(local_keys):
        if key and local_count[key] == 1 and dsp_count[key] == 1 and dsp_by_isrc[key] not in taken:
            matched[i] = TrackMatch(local[i].id, dsp_by_isrc[key], "isrc", 1.0)
            taken.add(dsp_by_isrc[key])

    rows = [i for i in range(len(local)) if i not in matched]
    cols = [j for j in range(len(dsp)) if j not in taken]
    full = score_matrix([local[i] for i in rows], [dsp[j] for j in cols], weights)
    pool_rows, pool_cols = list(range(len(rows))), list(range(len(cols)))
    ambiguous: dict[int, Ambiguity] = {}
    while pool_rows and pool_cols:
        scores = [[full[r][c] for c in pool_cols] for r in pool_rows]
        ambiguous = _ambiguities(
            scores, [rows[r] for r in pool_rows], [cols[c] for c in pool_cols], local, min_score, ambiguity_margin
        )
        keep = [k for k, r in enumerate(pool_rows) if rows[r] not in ambiguous]
        pairs = assign([scores[k] for k in keep], min_score)
        for k, c in pairs:
            r, col = pool_rows[keep[k]], pool_cols[c]
            matched[rows[r]] = TrackMatch(local[rows[r]].id, cols[col], "score", full[r][col])
        if not pairs or not ambiguous:
            break
        # Judge the ambiguous again among the DSP tracks the clear matches left.
        taken_cols = {pool_cols[c] for _, c in pairs}
        pool_rows = [r for r in pool_rows if rows[r] in ambiguous]
        pool_cols = [c for c in pool_cols if c not in taken_cols]
        ambiguous = {} if not pool_cols else ambiguous

    matched_dsp = {match.dsp_index for match in matched.values()}
    return MatchResult(
        matches=[matched[i] for i in sorted(matched)],
        ambiguous=[ambiguous[i] for i in sorted(ambiguous)],
        unmatched_local=[t.id for i, t in enumerate(local) if i not in matched and i not in ambiguous],
        unmatched_dsp=[j for j in range(len(dsp)) if j not in matched_dsp],
    )


def _ambiguities(
    scores: list[list[float]],
    rows: list[int],
    cols: list[int],
    local: Sequence[Track],
    min_score: float,
    margin: float,
) -> dict[int, Ambiguity]:
    """Local index → Ambiguity, for the rows of ``scores`` (local ``rows`` × DSP ``cols``) that are ambiguous."""
    ranked = [
        sorted(((score, c) for c, score in enumerate(line) if score >= min_score), key=lambda p: (-p[0], p[1]))
        for line in scores
    ]
    found: dict[int, Ambiguity] = {}
    for k, line in enumerate(ranked):
        if len(line) >= 2 and line[0][0] - line[1][0] < margin:
            near = [(cols[c], score) for score, c in line if line[0][0] - score < margin]
            found[rows[k]] = Ambiguity(local[rows[k]].id, near)
    # Rows whose best is the same column, within the margin of each other (duplicate local tracks).
    by_best: dict[int, list[tuple[float, int]]] = {}
    for k, line in enumerate(ranked):
        if line:
            by_best.setdefault(line[0][1], []).append((line[0][0], k))
    for c, contenders in by_best.items():
        contenders.sort(key=lambda p: (-p[0], p[1]))
        close = [k for score, k in contenders if contenders[0][0] - score < margin]
        if len(close) < 2:
            continue
        for k in close:
            others = [local[rows[o]].id for o in close if o != k]
            near = found[rows[k]].candidates if rows[k] in found else [(cols[c], ranked[k][0][0])]
            found[rows[k]] = Ambiguity(local[rows[k]].id, near, others)
    return found
