"""Staging -> score new reviews -> marts, through the real transformer batch path (moto, DuckDB, dbt, VADER)."""

from __future__ import annotations

import gzip
import json

import pytest

from services.common.names import ENRICHED_PREFIX
from services.transformer.domain.sentiment import ScoringBuilder
from tests.integration.nlp.conftest import place_line, review
from tests.support.transformer_stack import BUCKET, Stack

pytestmark = pytest.mark.integration

DAY1, DAY2 = "2026-02-01", "2026-02-02"
GOOD = "Excellent meal, flawless service. Highly recommended!"
BAD = "Disappointed, the dish was cold and the waiter unfriendly."


def day_one_reviews() -> dict[str, list[dict]]:
    return {
        "p1": [
            # English original, French text from Google: the original is scored
            review("p1", 0, text="Excellent repas, service impeccable.", original=GOOD, original_language="en"),
            # French only: VADER cannot read it -> kept, counted, not scored (themes still found)
            review(
                "p1",
                1,
                text="Trop cher pour la qualité proposée.",
                original="Trop cher pour la qualité proposée.",
                original_language="fr",
            ),
        ],
        "p2": [
            review("p2", 0, text=BAD, language="en", rating=2),
            review("p2", 1, text="   ", language="fr", rating=3),  # empty -> kept, counted, not scored
        ],
    }


def drop_day(stack: Stack, day: str, reviews: dict[str, list[dict]]) -> None:
    body = "".join(place_line(place, day, items) + "\n" for place, items in reviews.items())
    stack.drop(f"raw/places/dt={day}/run-{day}__lyon.jsonl", body.encode())


def enriched_ids(stack: Stack, day: str) -> list[str]:
    listing = stack.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{ENRICHED_PREFIX}dt={day}/").get("Contents", [])
    ids = []
    for item in listing:
        body = stack.s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        ids += [json.loads(line)["review_id"] for line in gzip.decompress(body).decode().splitlines()]
    return ids


def test_new_reviews_are_scored_between_staging_and_marts_and_unscorable_ones_are_kept_and_counted(nlp_stack: Stack):
    drop_day(nlp_stack, DAY1, day_one_reviews())

    outcome = nlp_stack.run(nlp_stack.s3_messages(1))

    assert outcome.error is None, outcome.error
    [event] = nlp_stack.published(1)
    assert event.outcome == "passed", (event.error, event.failures)
    counts = event.reviews
    assert counts is not None
    assert (counts.staged, counts.scored, counts.unsupported_language, counts.empty_text, counts.already_scored) == (
        4,
        2,
        1,
        1,
        0,
    )
    rows = nlp_stack.query(
        "select place_id, score_status, sentiment_label, analyzed_text_source, themes from review_sentiments"
        " order by place_id, score_status"
    )
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("p1", "scored", "POSITIVE", "original"),
        ("p1", "unsupported_language", None, None),
        ("p2", "empty_text", None, None),
        ("p2", "scored", "NEGATIVE", "text"),
    ]
    assert rows[1][4] == ["price"]  # themes come from the FR/EN lexicon even when the sentiment is not scored
    [(p1_avg, p1_pos, p1_neg, p1_scored, p1_unscored, p1_theme)] = nlp_stack.query(
        "select average_sentiment, positive_share, negative_share, scored_reviews, unscored_reviews, top_theme"
        " from restaurants where place_id = 'p1'"
    )
    assert 0.5 < p1_avg <= 1 and (p1_pos, p1_neg, p1_scored, p1_unscored) == (1.0, 0.0, 1, 1)
    assert p1_theme == "food"
    [summary] = event.city_summaries
    assert summary.scored_reviews == 2 and summary.unscored_reviews == 2
    assert summary.positive_share == 0.5 and summary.negative_share == 0.5
    assert -1 <= (summary.average_sentiment or 0) <= 1
    assert summary.top_themes[:2] == ["food", "service"]
    assert summary.sentiment_movers == []  # first run: nothing to compare with


def test_no_author_name_or_photo_reaches_staging_or_the_marts(nlp_stack: Stack):
    drop_day(nlp_stack, DAY1, day_one_reviews())
    nlp_stack.run(nlp_stack.s3_messages(1))
    nlp_stack.published(1)

    for relation in ("stg_places__reviews", "review_sentiments", "restaurants", "city_daily_summary"):
        columns = [
            c[0]
            for c in nlp_stack.query(
                f"select column_name from information_schema.columns where table_name = '{relation}'"
            )
        ]
        assert columns and not any("author" in c or "photo" in c for c in columns), (relation, columns)
        dump = json.dumps(nlp_stack.query(f"select * from {relation}"), default=str)
        assert "Secret-Author" not in dump and "SECRETPHOTO" not in dump and "contrib/123" not in dump


def test_a_review_seen_again_is_never_scored_twice_and_new_ones_move_the_sentiment(nlp_stack: Stack):
    drop_day(nlp_stack, DAY1, day_one_reviews())
    nlp_stack.run(nlp_stack.s3_messages(1))
    nlp_stack.published(1)
    first_ids = set(enriched_ids(nlp_stack, DAY1))
    assert len(first_ids) == 4

    again = day_one_reviews()
    again["p1"].append(review("p1", 2, text=BAD, language="en", rating=1))  # a new, negative review
    drop_day(nlp_stack, DAY2, again)
    outcome = nlp_stack.run(nlp_stack.s3_messages(1))

    assert outcome.error is None, outcome.error
    [event] = nlp_stack.published(1)
    assert event.outcome == "passed", (event.error, event.failures)
    assert event.reviews is not None
    assert (event.reviews.staged, event.reviews.already_scored, event.reviews.scored) == (5, 4, 1)
    second_ids = enriched_ids(nlp_stack, DAY2)
    assert len(second_ids) == 1 and not first_ids & set(second_ids)
    assert nlp_stack.query("select count(*), count(distinct review_id) from review_sentiments") == [(5, 5)]
    assert nlp_stack.query(
        "select first_seen_date::varchar, last_seen_date::varchar from review_sentiments"
        " where place_id = 'p2' and score_status = 'scored'"
    ) == [(DAY1, DAY2)]
    [summary] = event.city_summaries
    [mover] = summary.sentiment_movers
    assert mover.place_id == "p1" and mover.previous is not None and mover.change < -0.5
    assert mover.current == pytest.approx(mover.previous + mover.change, abs=0.002)


def test_the_same_day_dropped_again_rescores_nothing(nlp_stack: Stack):
    drop_day(nlp_stack, DAY1, day_one_reviews())
    nlp_stack.run(nlp_stack.s3_messages(1))
    nlp_stack.published(1)
    nlp_stack.s3.put_object(
        Bucket=BUCKET,
        Key=f"raw/places/dt={DAY1}/again__lyon.jsonl",
        Body=("".join(place_line(p, DAY1, r) + "\n" for p, r in day_one_reviews().items())).encode(),
    )

    nlp_stack.run(nlp_stack.s3_messages(1))

    [event] = nlp_stack.published(1)
    assert event.reviews is not None and (event.reviews.scored, event.reviews.already_scored) == (0, 4)
    assert len(enriched_ids(nlp_stack, DAY1)) == 4


def test_with_the_stage_off_reviews_are_ignored_and_the_marts_carry_empty_sentiment_columns(stack: Stack):
    drop_day(stack, DAY1, day_one_reviews())  # reviews in raw, but NLP_ENABLED is not set

    outcome = stack.run(stack.s3_messages(1))

    assert outcome.error is None and not isinstance(stack.deps.builder, ScoringBuilder)
    [event] = stack.published(1)
    assert event.outcome == "passed" and event.reviews is None
    assert {m.name for m in event.models}.isdisjoint({"stg_places__reviews", "review_sentiments"})
    assert stack.query("select count(*) from information_schema.tables where table_name = 'review_sentiments'") == [
        (0,)
    ]
    assert stack.query("select count(*), count(average_sentiment) from restaurants") == [(2, 0)]
    assert not stack.s3.list_objects_v2(Bucket=BUCKET, Prefix=ENRICHED_PREFIX).get("Contents")
    [summary] = event.city_summaries
    assert summary.average_sentiment is None and summary.sentiment_movers == []
