"""Adapter: the marts, read after a build. The one place the transformer writes SQL to read them (MartReader);
the warehouse underneath (warehouse.py: DuckDB locally, Athena on AWS) only runs it. The SQL here is the subset both
engines read alike (no dialect-specific function); dbt/macros/warehouse.sql holds what differs for the models."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, Protocol

from contracts.events import CitySummary, DayPoint, RatedRestaurant, RatingMove, SentimentMove
from services.transformer.domain.model import DAY_COLUMNS, SAMPLE_ROWS, StagedReview

MOVERS = 5
HIGHLIGHTS = 5  # new places and rating movers per city and day in the success email
TREND_DAYS = 14  # the success email's sparklines: the days ending on the run's day
PRICE_LEVELS = ("free", "inexpensive", "moderate", "expensive", "very_expensive", "unknown")
_MISSING_RELATION = re.compile(r"does not exist|TABLE_NOT_FOUND|not found", re.IGNORECASE)


class SqlRunner(Protocol):
    def relation(self, model: str) -> str: ...

    def query(self, sql: str) -> list[dict[str, Any]]: ...


class WarehouseMarts:
    """MartReader over a warehouse that runs SQL."""

    def __init__(self, warehouse: SqlRunner) -> None:
        self._warehouse = warehouse

    def row_counts(self, models: Sequence[str]) -> dict[str, int]:
        """Rows in each mart built by this run (a skipped mart may not exist yet)."""
        relation = self._warehouse.relation
        union = " union all ".join(
            f"select '{model}' as model, count(*) as n from {relation(model)}" for model in models
        )
        return {str(row["model"]): int(row["n"]) for row in self._warehouse.query(union)}

    def failing_rows(self, relation: str, limit: int, days: Sequence[str]) -> list[dict[str, Any]]:
        """At most `limit` rows a failed test kept, of the given collection days only (none when the rows name no
        day: they cannot be told apart from other days' rows)."""
        first = self._warehouse.query(f"select * from {relation} limit 1")
        column = next((name for name in DAY_COLUMNS if first and name in first[0]), None)
        if column is None or not days:
            return []
        wanted = ", ".join(f"date '{date.fromisoformat(day).isoformat()}'" for day in days)
        rows = self._warehouse.query(
            f'select * from {relation} where cast("{column}" as date) in ({wanted}) limit {int(limit)}'
        )
        return [{key: _plain(value) for key, value in row.items()} for row in rows[:limit]]

    def city_summaries(self, pairs: Sequence[tuple[str, str]]) -> list[CitySummary]:
        if not pairs:
            return []
        relation = self._warehouse.relation
        wanted = " or ".join(f"(city = {_literal(city)} and summary_date = date '{day}')" for city, day in pairs)
        rows = self._warehouse.query(f"select * from {relation('city_daily_summary')} where {wanted}")
        top_where = " or ".join(f"(city = {_literal(city)} and snapshot_date = date '{day}')" for city, day in pairs)
        top_rows = self._warehouse.query(
            "select * from ("
            " select city, snapshot_date, place_id, name, rating, user_rating_count, row_number() over ("
            "  partition by city, snapshot_date order by rating desc, user_rating_count desc, place_id) as position"
            f" from {relation('restaurant_daily_snapshots')}"
            # a permanently closed place is not a recommendation, however good its reviews were
            f" where rating is not null and coalesce(business_status, '') <> 'CLOSED_PERMANENTLY' and ({top_where})"
            f") ranked where position <= {SAMPLE_ROWS}"
        )
        highlights = self._highlights(pairs)
        trends = self._trends(pairs)
        summaries = []
        for row in rows:
            day = _as_date(row["summary_date"])
            top = sorted(
                (r for r in top_rows if r["city"] == row["city"] and _as_date(r["snapshot_date"]) == day),
                key=lambda r: int(r["position"]),
            )
            summary = CitySummary(
                city=row["city"],
                day=day,
                restaurants_seen=int(row["restaurants_seen"]),
                new_restaurants=int(row["new_restaurants"]),
                closed_restaurants=int(row["closed_restaurants"]),
                average_rating=_round(row["average_rating"]),
                weighted_rating=_round(row["weighted_rating"]),
                price_level_mix={
                    level: int(row[f"price_{level}"] or 0) for level in PRICE_LEVELS if int(row[f"price_{level}"] or 0)
                },
                top_rated=[
                    RatedRestaurant(
                        place_id=r["place_id"],
                        name=r["name"] or r["place_id"],
                        rating=_round(r["rating"]),
                        user_rating_count=None if r["user_rating_count"] is None else int(r["user_rating_count"]),
                    )
                    for r in top
                ],
                new_places=highlights.get(("new", row["city"], day), []),
                rating_movers=highlights.get(("moved", row["city"], day), []),
                trend=trends.get((row["city"], day), []),
            )
            summaries.append(self._with_sentiment(summary, row))
        return sorted(summaries, key=lambda s: (s.city, s.day))

    def _highlights(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str, date], list[Any]]:
        """What changed, per (kind, city, day), in one query (one Athena round trip): the places first seen that day
        ("new"; best rated first, never one Google reports permanently closed) and the places seen that day whose
        rating moved most over 7 days ("moved").
        The queries of docs/marts.md, "What the success email needs"; plain SQL that DuckDB and Athena read alike
        (tests/integration/transformer/test_email_highlights.py parses what is issued as Athena SQL)."""
        restaurants = self._warehouse.relation("restaurants")
        first_seen = " or ".join(f"(city = {_literal(city)} and first_seen_date = date '{day}')" for city, day in pairs)
        last_seen = " or ".join(f"(city = {_literal(city)} and last_seen_date = date '{day}')" for city, day in pairs)
        rows = self._warehouse.query(
            "select * from ("
            " select 'new' as kind, city, first_seen_date as day, place_id, name, cuisine, rating, user_rating_count,"
            " cast(null as double) as rating_7d_ago, cast(null as double) as rating_change_7d,"
            " cast(null as bigint) as user_rating_count_change_7d, row_number() over ("
            "  partition by city, first_seen_date"
            "  order by rating desc nulls last, user_rating_count desc nulls last, place_id) as position"
            f" from {restaurants} where coalesce(business_status, '') <> 'CLOSED_PERMANENTLY' and ({first_seen})"
            " union all"
            " select 'moved' as kind, city, last_seen_date as day, place_id, name, cuisine, rating, user_rating_count,"
            " rating_7d_ago, rating_change_7d, cast(user_rating_count_change_7d as bigint), row_number() over ("
            "  partition by city, last_seen_date order by abs(rating_change_7d) desc, place_id) as position"
            f" from {restaurants} where rating_change_7d <> 0 and ({last_seen})"
            f") highlights where position <= {HIGHLIGHTS}"
            " order by kind, city, day, position"
        )
        found: dict[tuple[str, str, date], list[Any]] = {}
        for row in rows:
            name = str(row["name"] or row["place_id"])
            item: RatedRestaurant | RatingMove = (
                RatedRestaurant(
                    place_id=str(row["place_id"]),
                    name=name,
                    rating=_round(row["rating"]),
                    user_rating_count=_int(row["user_rating_count"]),
                    cuisine=row["cuisine"],
                )
                if row["kind"] == "new"
                else RatingMove(
                    place_id=str(row["place_id"]),
                    name=name,
                    cuisine=row["cuisine"],
                    previous=float(row["rating_7d_ago"]),
                    current=float(row["rating"]),
                    change=round(float(row["rating_change_7d"]), 2),
                    user_rating_count_change=_int(row["user_rating_count_change_7d"]),
                )
            )
            found.setdefault((str(row["kind"]), str(row["city"]), _as_date(row["day"])), []).append(item)
        return found

    def _trends(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, date], list[DayPoint]]:
        """Each (city, day)'s collection days among the TREND_DAYS days ending on it, oldest first: one query."""
        windows = {
            (city, date.fromisoformat(day)): date.fromisoformat(day) - timedelta(days=TREND_DAYS - 1)
            for city, day in pairs
        }
        wanted = " or ".join(
            f"(city = {_literal(city)} and summary_date between date '{start:%Y-%m-%d}' and date '{day:%Y-%m-%d}')"
            for (city, day), start in windows.items()
        )
        rows = self._warehouse.query(
            "select city, summary_date, restaurants_seen, weighted_rating"
            f" from {self._warehouse.relation('city_daily_summary')} where {wanted}"
            " order by city, summary_date"
        )
        points = [(str(row["city"]), _as_date(row["summary_date"]), row) for row in rows]
        return {
            (city, day): [
                DayPoint(
                    day=seen,
                    restaurants_seen=int(row["restaurants_seen"]),
                    weighted_rating=_round(row["weighted_rating"]),
                )
                for name, seen, row in points
                if name == city and start <= seen <= day
            ]
            for (city, day), start in windows.items()
        }

    def _with_sentiment(self, summary: CitySummary, row: dict[str, Any]) -> CitySummary:
        """Review sentiment (average, shares, themes, the biggest movers) when the NLP stage filled the day."""
        if row.get("scored_reviews") is None:  # the NLP columns are null when the stage was off
            return summary
        themes = sorted(
            ((name[len("theme_") :], int(value or 0)) for name, value in row.items() if name.startswith("theme_")),
            key=lambda item: -item[1],
        )
        movers = self._warehouse.query(
            "select place_id, name, previous_average_sentiment as previous, average_sentiment as current"
            f" from {self._warehouse.relation('restaurants')}"
            f" where city = {_literal(summary.city)} and last_seen_date = date '{summary.day.isoformat()}'"
            " and average_sentiment is not null and previous_average_sentiment is not null"
            " and average_sentiment <> previous_average_sentiment"
            " order by abs(average_sentiment - previous_average_sentiment) desc, place_id"
            f" limit {MOVERS}"
        )
        return summary.model_copy(
            update={
                "average_sentiment": _round(row.get("average_sentiment")),
                "positive_share": _round(row.get("positive_share")),
                "negative_share": _round(row.get("negative_share")),
                "scored_reviews": _int(row.get("scored_reviews")),
                "unscored_reviews": _int(row.get("unscored_reviews")),
                "top_themes": [name for name, count in themes if count > 0][:3],
                "sentiment_movers": [
                    SentimentMove(
                        place_id=str(m["place_id"]),
                        name=str(m["name"] or m["place_id"]),
                        previous=_round(m["previous"]),
                        current=float(_round(m["current"]) or 0.0),
                        change=round(float(m["current"]) - float(m["previous"]), 3),
                    )
                    for m in movers
                ],
            }
        )

    def staged_reviews(self) -> tuple[list[StagedReview], int]:
        """The staged reviews not already scored in the review_sentiments mart, and how many were."""
        staged = self._warehouse.relation("stg_places__reviews")
        columns = (
            "r.review_id, r.place_id, cast(r.collection_date as varchar) as collection_date, r.review_text, "
            "r.review_language, r.original_text, r.original_language"
        )
        try:
            rows = self._warehouse.query(
                f"select {columns}, case when m.review_id is null then 0 else 1 end as in_mart"
                f" from {staged} as r left join {self._warehouse.relation('review_sentiments')} as m"
                " on m.review_id = r.review_id and m.score_status <> 'pending'"
            )
        except Exception as exc:
            if not _MISSING_RELATION.search(str(exc)):
                raise
            rows = [{**row, "in_mart": 0} for row in self._warehouse.query(f"select {columns} from {staged} as r")]
        reviews = [
            StagedReview(
                review_id=str(row["review_id"]),
                place_id=str(row["place_id"]),
                collection_date=str(row["collection_date"])[:10],
                review_text=row["review_text"],
                review_language=row["review_language"],
                original_text=row["original_text"],
                original_language=row["original_language"],
            )
            for row in rows
            if not int(row["in_mart"])
        ]
        return sorted(reviews, key=lambda r: r.review_id), sum(1 for row in rows if int(row["in_mart"]))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
