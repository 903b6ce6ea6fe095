"""A run at the pipeline's maximum (50 cities: CollectionRequested.cities has max_length=50) with long city names
and every list of the events full, for the tests that measure what such a run puts on the bus."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from contracts.events import (
    CitySummary,
    DayPoint,
    RatedRestaurant,
    RatingMove,
    SentimentMove,
)

MAX_CITIES = 50
NAME_LENGTH = 100  # contracts.events.CityName: at most 100 characters
DAY = date(2026, 1, 1)
# The longest run id a RunId admits (80 characters), collector-style (services/collector/domain/plan.py).
RUN_ID = ("manual-20260101T080000Z-" + "a1b2c3d4e5" * 6)[:80]


def long_name(seed: str, length: int = NAME_LENGTH) -> str:
    """`length` characters, many of them 2 or 3 bytes in UTF-8 (accents, kanji), starting with `seed`."""
    filler = "-Saint-Étienne-sur-Loire-aux-Châteaux-東京都千代田区-"
    return (seed + filler * (length // len(filler) + 1))[:length]


def city_names(count: int = MAX_CITIES) -> list[str]:
    return [long_name(f"{index:02d}") for index in range(count)]


def _place(index: int, city: str) -> RatedRestaurant:
    return RatedRestaurant(
        place_id=f"ChIJ{index:04d}" + "x" * 23,  # Places ids are ~27 characters
        name=long_name(f"Chez {index} ", 100),
        rating=4.9,
        user_rating_count=123_456,
        address=long_name(f"{index} rue de {city[:20]} ", 200),
        cuisine="Restaurant gastronomique",
    )


def maximal_summary(city: str, day: date = DAY) -> CitySummary:
    """A city's summary with every list at its contract's maximum and long names in each."""
    return CitySummary(
        city=city,
        day=day,
        restaurants_seen=9_999,
        new_restaurants=1_234,
        closed_restaurants=567,
        average_rating=4.31,
        weighted_rating=4.27,
        price_level_mix={
            "free": 1,
            "inexpensive": 2_000,
            "moderate": 5_000,
            "expensive": 2_000,
            "very_expensive": 999,
            "unknown": 997,
        },
        top_rated=[_place(index, city) for index in range(5)],
        sentiment_movers=[
            SentimentMove(
                place_id=f"ChIJs{index:03d}" + "x" * 23,
                name=long_name(f"Bistro {index} "),
                previous=0.1,
                current=0.9,
                change=0.8,
            )
            for index in range(5)
        ],
        average_sentiment=0.42,
        positive_share=0.61,
        negative_share=0.12,
        scored_reviews=49_995,
        unscored_reviews=5,
        top_themes=[long_name(f"theme {index} ", 60) for index in range(6)],
        new_places=[_place(index + 10, city) for index in range(5)],
        rating_movers=[
            RatingMove(
                place_id=f"ChIJm{index:03d}" + "x" * 23,
                name=long_name(f"Brasserie {index} "),
                cuisine="Restaurant gastronomique",
                previous=3.9,
                current=4.6,
                change=0.7,
                user_rating_count_change=1_234,
            )
            for index in range(5)
        ],
        trend=[
            DayPoint(day=day - timedelta(days=13 - offset), restaurants_seen=9_000 + offset, weighted_rating=4.2)
            for offset in range(14)
        ],
    )


def failing_rows(count: int = 5) -> list[dict[str, Any]]:
    """Failing rows as a test's stored failures hold them: a mart row with long text in it."""
    return [
        {
            "place_id": f"ChIJf{index:03d}" + "x" * 23,
            "name": long_name(f"Le {index} "),
            "formatted_address": long_name(f"{index} avenue ", 200),
            "city": long_name("00"),
            "primary_type": "french_restaurant",
            "types": long_name("restaurant,food,point_of_interest,establishment ", 120),
            "rating": 4.4,
            "user_rating_count": 321,
            "collection_date": DAY.isoformat(),
        }
        for index in range(count)
    ]
