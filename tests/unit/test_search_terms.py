"""The media library's search rules: normalisation, tokens, field weights and scoring (services/search_terms.py)."""

from __future__ import annotations

import pytest

from chalicelib.errors import UnprocessableError
from chalicelib.services.search_terms import (
    FIELD_WEIGHTS,
    MAX_QUERY_TOKENS,
    MAX_TERMS_PER_ASSET,
    MAX_TOKEN_CHARS,
    Term,
    normalise,
    query_tokens,
    score,
    tag_key,
    terms_of,
    tokenise,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Beyoncé", "beyonce"),
        ("BEYONCÉ", "beyonce"),
        ("Straße", "strasse"),
        ("Ｆｕｌｌ ｗｉｄｔｈ", "full width"),  # NFKD: compatibility forms
        ("Mø", "mo"),
        ("Ærøskøbing", "aeroskobing"),
        ("İstanbul", "istanbul"),  # casefold gives i + U+0307, a combining mark, dropped
        ("ﬁne", "fine"),  # the ligature decomposes
        ("Sigur Rós", "sigur ros"),
    ],
)
def test_normalise_folds_case_and_accents(text: str, expected: str) -> None:
    # Given text with case, accents, compatibility forms / When normalised / Then plain lower-case letters remain
    assert normalise(text) == expected


def test_tokenise_splits_names_and_punctuation_and_keeps_other_scripts() -> None:
    # Given a generated name, punctuation, an underscore and Cyrillic / When tokenised
    # Then runs of letters and digits in reading order, each once; the underscore separates; Cyrillic stays
    assert tokenise("L.CAS.ATL.001") == ["l", "cas", "atl", "001"]
    assert tokenise("Night-drive, night_DRIVE!") == ["night", "drive"]
    assert tokenise("Дельфи́н") == ["дельфин"]
    assert tokenise("  ...  ") == []


def test_tokenise_cuts_long_words() -> None:
    # Given a word longer than the cap / When tokenised / Then it is cut, so a query cut the same way still matches
    assert tokenise("a" * 100) == ["a" * MAX_TOKEN_CHARS]


def test_tag_key_folds_case_accents_and_spaces_only() -> None:
    # Given tags differing in case, accents and spacing / Then one key; a hyphen keeps a tag apart
    assert tag_key("  Électro   Pop ") == tag_key("electro pop") == "electro pop"
    assert tag_key("hip-hop") != tag_key("hip hop")


def test_terms_keep_the_best_field_weight_and_every_field() -> None:
    # Given a word in the description and in the title / When the terms are made
    terms = terms_of({"description": ["A blue night"], "title": ["Blue"], "tags": ["Night"]})
    # Then it weighs as a title word and lists both fields in weight order
    assert terms["blue"] == Term(FIELD_WEIGHTS["title"], ("title", "description"))
    assert terms["night"] == Term(FIELD_WEIGHTS["tags"], ("tags", "description"))
    assert terms["a"] == Term(FIELD_WEIGHTS["description"], ("description",))


def test_terms_are_capped_best_weighted_first() -> None:
    # Given a long description and a title / When the terms are made
    description = " ".join(f"word{n}" for n in range(MAX_TERMS_PER_ASSET + 50))
    terms = terms_of({"description": [description], "title": ["Zebra"]})
    # Then at most the cap, and the title word is kept
    assert len(terms) == MAX_TERMS_PER_ASSET
    assert "zebra" in terms


def test_score_ranks_title_above_description_and_exact_above_prefix() -> None:
    # Given one asset with the word in its title, one with it in its description
    in_title = terms_of({"title": ["Ocean"]})
    in_description = terms_of({"description": ["ocean"]})
    # When scored for the whole word and for a prefix
    exact_title, matched = score(["ocean"], in_title) or (0.0, [])
    prefix_title, _ = score(["oce"], in_title) or (0.0, [])
    exact_description, _ = score(["ocean"], in_description) or (0.0, [])
    # Then exact > prefix in the same field, and even a title prefix beats a description's whole word
    assert exact_title > prefix_title > exact_description
    assert matched == ["title"]


def test_score_needs_every_query_word() -> None:
    # Given an asset about a blue ocean / When a query has a word it lacks / Then no match (AND)
    terms = terms_of({"title": ["Blue ocean"]})
    assert score(["blue", "oce"], terms) is not None
    assert score(["blue", "sky"], terms) is None


def test_score_takes_the_best_word_a_prefix_matches() -> None:
    # Given "bea" that begins "beach" (description) and is the whole title word "bea"
    terms = terms_of({"title": ["Bea"], "description": ["beach"]})
    # When scored / Then the exact title word counts, and both fields are not claimed
    assert score(["bea"], terms) == (FIELD_WEIGHTS["title"] * 1.0, ["title"])


def test_query_tokens_refuses_an_empty_query() -> None:
    # Given a query of punctuation only / When tokenised for search / Then 422 query_too_short
    with pytest.raises(UnprocessableError) as caught:
        query_tokens(" -- !! ")
    assert caught.value.code == "query_too_short"
    assert caught.value.status == 422


def test_query_tokens_refuses_too_many_words() -> None:
    # Given more distinct words than the cap / Then 422 query_too_long (each word costs one Query)
    with pytest.raises(UnprocessableError) as caught:
        query_tokens(" ".join(f"w{n}" for n in range(MAX_QUERY_TOKENS + 1)))
    assert caught.value.code == "query_too_long"
    assert query_tokens("Beyoncé beyonce BEYONCE") == ["beyonce"]
