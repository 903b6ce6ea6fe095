"""The success email shows review sentiment and the biggest movers when the transform carries them, and is
unchanged when the NLP stage is off."""

from __future__ import annotations

from contracts.events import CitySummary, ReviewCounts, SentimentMove
from services.notifier.domain.body import render_run_email
from services.notifier.domain.message import EmailContext
from services.notifier.domain.outcomes import settled_outcomes
from tests.unit.notifier.builders import transform


def email_body(event) -> str:
    return render_run_email(event.run_id, settled_outcomes(event), EmailContext()).body


def with_sentiment(**summary_updates) -> object:
    base = transform("passed")
    summary: CitySummary = base.city_summaries[0].model_copy(
        update={
            "average_sentiment": 0.4123,
            "positive_share": 0.6,
            "negative_share": 0.2,
            "scored_reviews": 12,
            "unscored_reviews": 3,
            "top_themes": ["food", "service"],
            "sentiment_movers": [
                SentimentMove(place_id="p1", name="Chez Marcel", previous=0.8, current=0.2, change=-0.6),
                SentimentMove(place_id="p2", name="Le Zinc", previous=0.1, current=0.3, change=0.2),
            ],
            **summary_updates,
        }
    )
    counts = ReviewCounts(
        analyzer="vader", staged=40, already_scored=25, scored=12, empty_text=1, unsupported_language=2, failed=0
    )
    return base.model_copy(update={"city_summaries": [summary], "reviews": counts})


def test_success_email_shows_city_sentiment_themes_and_movers_in_order():
    body = email_body(with_sentiment())

    assert "Review sentiment: +0.41 (-1 to +1) · 60% positive, 20% negative · 12 reviews scored" in body
    assert "Reviews talk most about: food, service" in body
    assert "1. Chez Marcel: +0.80 → +0.20 (-0.60)" in body
    assert "2. Le Zinc: +0.10 → +0.30 (+0.20)" in body
    assert body.index("Sentiment moved most") > body.index("Review sentiment")
    assert "Reviews: 12 new scored (vader), 25 already scored, 3 kept without a score" in body
    assert "(2 in an unsupported language, 1 empty)" in body


def test_success_email_without_nlp_has_no_sentiment_section():
    body = email_body(transform("passed"))

    assert "sentiment" not in body.lower() and "Reviews:" not in body


def test_movers_are_listed_even_without_a_city_average():
    body = email_body(with_sentiment(average_sentiment=None, top_themes=[]))

    assert "Review sentiment" not in body and "1. Chez Marcel" in body
