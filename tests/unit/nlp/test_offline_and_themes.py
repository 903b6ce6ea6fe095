"""The offline analyzer for real (VADER's lexicon shipped in the package), the text rule, and the theme lexicon."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.transformer.adapters.vader import VaderAnalyzer
from services.transformer.domain.model import Document
from services.transformer.domain.sentiment import StagedReview, choose_text
from services.transformer.domain.themes import THEMES, extract_themes, find_terms

DBT = Path(__file__).resolve().parents[3] / "dbt"


@pytest.fixture(scope="module")
def vader() -> VaderAnalyzer:
    return VaderAnalyzer()


def test_vader_labels_clear_english_reviews_and_scores_stay_in_range(vader: VaderAnalyzer):
    batch = vader.analyze(
        [
            Document("good", "Excellent meal, flawless service. Highly recommended!", "en"),
            Document("bad", "Disappointed, the dish was cold and the waiter unfriendly.", "en"),
            Document("flat", "We went there on Tuesday.", "en"),
        ]
    )
    by_key = {a.key: a for a in batch.analyses}
    assert (by_key["good"].label, by_key["bad"].label, by_key["flat"].label) == ("POSITIVE", "NEGATIVE", "NEUTRAL")
    assert by_key["good"].score > 0.5 and by_key["bad"].score < -0.5
    for analysis in batch.analyses:
        assert -1 <= analysis.score <= 1 and analysis.mixed == 0.0
        assert analysis.positive + analysis.negative + analysis.neutral == pytest.approx(1.0, abs=0.01)
    assert by_key["good"].key_phrases == ("meal", "service")


def test_vader_reads_english_only(vader: VaderAnalyzer):
    assert [vader.language_for(c) for c in ("en", "en-GB", "fr", "", None)] == ["en", "en", None, None, None]


def staged(**kw: str | None) -> StagedReview:
    base: dict[str, str | None] = {
        "review_text": None,
        "review_language": None,
        "original_text": None,
        "original_language": None,
    }
    base.update(kw)
    return StagedReview("r", "p", "2026-01-01", **base)  # type: ignore[arg-type]


def test_the_original_english_text_is_preferred_over_googles_translation(vader: VaderAnalyzer):
    choice = choose_text(
        staged(review_text="Très bon", review_language="fr", original_text="Very good", original_language="en"),
        vader,
    )
    assert (choice.status, choice.source, choice.document) == ("scored", "original", Document("r", "Very good", "en"))


def test_googles_english_text_is_used_when_the_original_is_in_another_language(vader: VaderAnalyzer):
    choice = choose_text(
        staged(review_text="Very good", review_language="en", original_text="Sehr gut", original_language="de"),
        vader,
    )
    assert (choice.status, choice.source) == ("scored", "text")


def test_blank_texts_are_empty_and_unsupported_languages_are_not_scored(vader: VaderAnalyzer):
    assert choose_text(staged(review_text="   ", review_language="en"), vader).status == "empty_text"
    assert choose_text(staged(), vader).status == "empty_text"
    unsupported = choose_text(staged(review_text="Très bon", review_language="fr"), vader)
    assert (unsupported.status, unsupported.document) == ("unsupported_language", None)


def test_themes_are_found_in_french_and_english_accents_and_case_ignored():
    assert extract_themes([("Le SERVICE était lent, l'addition trop chère", "fr")]) == ["service", "price", "wait"]
    assert extract_themes([("Tasty dishes, lovely terrace", "en-GB")]) == ["food", "ambience"]
    assert extract_themes([("Hygiène douteuse", "fr")]) == ["cleanliness"]
    assert extract_themes([("Sehr gutes Essen", "de"), (None, "en"), ("", "fr")]) == []


def test_a_stem_does_not_match_inside_another_word():
    assert find_terms("The waiter was nice", "en") == [("service", "waiter")]  # not "wait"
    assert find_terms("unfriendly", "en") == [("service", "unfriendly")]


def test_the_dbt_theme_list_matches_the_python_declaration():
    macros = (DBT / "macros" / "nlp.sql").read_text(encoding="utf-8")
    listed = re.search(r"review_themes\(\) %}\s*\{\{ return\(\[(.*?)\]\)", macros)
    assert listed is not None
    assert tuple(t.strip(" '") for t in listed.group(1).split(",")) == THEMES
