"""The success email lists, per city, the places new that day (with cuisine) and the biggest 7-day rating movers
when the transform carries them, and is unchanged when it does not (an event from an older transformer)."""

from __future__ import annotations

from contracts.events import RatedRestaurant, RatingMove, TransformCompleted
from services.notifier.domain.body import render_run_email
from services.notifier.domain.message import EmailContext
from services.notifier.domain.outcomes import settled_outcomes
from tests.unit.notifier.builders import transform


def email_body(event: TransformCompleted) -> str:
    return render_run_email(event.run_id, settled_outcomes(event), EmailContext()).body


def with_highlights(**summary_updates: object) -> TransformCompleted:
    base = transform("passed")
    summary = base.city_summaries[0].model_copy(
        update={
            "new_places": [
                RatedRestaurant(
                    place_id="n1", name="Tokyo Table", rating=4.8, user_rating_count=25, cuisine="Japanese"
                ),
                RatedRestaurant(place_id="n2", name="Chez Nous", rating=None, cuisine="Unspecified"),
            ],
            "rating_movers": [
                RatingMove(
                    place_id="m1",
                    name="Sushi Hana",
                    cuisine="Japanese",
                    previous=4.2,
                    current=4.4,
                    change=0.2,
                    user_rating_count_change=10,
                ),
                RatingMove(place_id="m2", name="Ramen Ko", cuisine="Ramen", previous=4.5, current=4.3, change=-0.2),
            ],
            **summary_updates,
        }
    )
    return base.model_copy(update={"city_summaries": [summary]})


def test_success_email_lists_new_places_with_cuisine_and_the_rating_movers_in_order():
    body = email_body(with_highlights())

    assert "New today (2 of 3, best rated first):" in body  # the fixture's day has 3 new places
    assert "• Tokyo Table · Japanese (4.8, 25 ratings)" in body
    assert "• Chez Nous · Unspecified (no rating yet)" in body
    assert "Rating moved most over 7 days:" in body
    assert "▲ Sushi Hana · Japanese: 4.2 → 4.4 (+0.20, +10 ratings)" in body
    assert "▼ Ramen Ko · Ramen: 4.5 → 4.3 (-0.20)" in body
    assert (
        body.index("Best rated:")
        < body.index("New today")
        < body.index("Rating moved most")
        < body.index("Data tests:")
    )


def test_a_citys_first_collection_says_every_place_is_new():
    body = email_body(with_highlights(new_restaurants=20, restaurants_seen=20))

    assert "the city's first collection, so all 20 places are new" in body


def test_success_email_from_an_older_transformer_has_no_highlights():
    body = email_body(transform("passed"))

    assert "New today" not in body and "Rating moved" not in body
