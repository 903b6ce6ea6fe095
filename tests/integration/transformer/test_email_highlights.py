"""What the success email tells of each city's day, read from the marts built from the hand-made input
(tests/fixtures/marts): the places new that day, the biggest rating movers over 7 days, and the 14-day trend.
Athena cannot run here: every statement the reader issues is parsed as Athena SQL, and its translation to DuckDB
must give the same result (a check of what the Athena text means, not of Athena itself)."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.events import CitySummary
from services.transformer.adapters.marts import WarehouseMarts
from services.transformer.adapters.warehouse import DuckDBWarehouse
from tests.integration.transformer.test_marts import build_hand_made_days
from tests.support.transformer_stack import Stack

pytestmark = pytest.mark.integration

DAYS = [("Lyon", "2026-01-31"), ("Paris", "2026-01-31"), ("Lyon", "2026-01-30")]


class AthenaTextOnDuckDB:
    """A warehouse that speaks Athena's SQL: each statement must parse as Athena SQL; it then runs on DuckDB as
    sqlglot translates it. Keeps every statement issued."""

    def __init__(self, duckdb_warehouse: DuckDBWarehouse) -> None:
        self._duckdb = duckdb_warehouse
        self.issued: list[str] = []

    def relation(self, model: str) -> str:
        return self._duckdb.relation(model)

    def query(self, sql: str) -> list[dict[str, Any]]:
        import sqlglot

        self.issued.append(sql)
        sqlglot.parse_one(sql, read="athena")  # raises ParseError naming the position
        return self._duckdb.query(sqlglot.transpile(sql, read="athena", write="duckdb")[0])


def by_city_day(summaries: list[CitySummary]) -> dict[tuple[str, str], CitySummary]:
    return {(s.city, s.day.isoformat()): s for s in summaries}


def test_the_success_email_gets_each_citys_new_places_movers_and_trend_on_both_dialects(stack: Stack):
    build_hand_made_days(stack)
    duckdb_summaries = WarehouseMarts(DuckDBWarehouse(stack.warehouse_path)).city_summaries(DAYS)
    athena = AthenaTextOnDuckDB(DuckDBWarehouse(stack.warehouse_path))
    athena_summaries = WarehouseMarts(athena).city_summaries(DAYS)

    assert athena_summaries == duckdb_summaries
    assert any("union all" in sql and "rating_change_7d" in sql for sql in athena.issued)
    assert any("city_daily_summary" in sql and "between" in sql for sql in athena.issued)
    got = by_city_day(duckdb_summaries)
    lyon = got[("Lyon", "2026-01-31")]
    assert [(p.name, p.cuisine, p.rating) for p in lyon.new_places] == [("Tokyo Table", "Japanese", 4.8)]
    # Sushi Hana 4.2 -> 4.4; Ramen Ko was not collected on 01-24; the closed bouchon did not move
    assert [
        (m.name, m.cuisine, m.previous, m.current, m.change, m.user_rating_count_change) for m in lyon.rating_movers
    ] == [("Sushi Hana", "Japanese", 4.2, 4.4, 0.2, 10)]
    paris = got[("Paris", "2026-01-31")]
    assert [(p.name, p.cuisine) for p in paris.new_places] == [("Le Zinc", "Bistro")]
    assert paris.rating_movers == []
    # the places first seen on 01-30 are that day's new places; movers of 01-30 are the places last seen then (none)
    earlier = got[("Lyon", "2026-01-30")]
    assert [p.name for p in earlier.new_places] == ["Chez Nous"]
    assert earlier.rating_movers == []

    # the 14 days ending on 01-31 hold three of Lyon's collection days (01-01 is older), oldest first
    assert [(p.day.isoformat(), p.restaurants_seen) for p in lyon.trend] == [
        ("2026-01-24", 2),
        ("2026-01-30", 4),
        ("2026-01-31", 5),
    ]
    assert all(p.weighted_rating is not None for p in lyon.trend)
    assert [p.day.isoformat() for p in paris.trend] == ["2026-01-31"]
    assert [p.day.isoformat() for p in earlier.trend] == ["2026-01-24", "2026-01-30"]
