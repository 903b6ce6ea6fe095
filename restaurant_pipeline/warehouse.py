"""Read-only looks into the local DuckDB warehouse (for the demo and operators)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

LOCK_WAIT_SECONDS = 30.0


def _connect(warehouse: Path) -> Any:
    """A read-only connection; waits while a dbt run holds the file (one writer at a time)."""
    import duckdb

    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            return duckdb.connect(str(warehouse), read_only=True)
        except duckdb.IOException:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def _relation(connection: Any, name: str) -> tuple[str, set[str]]:
    rows = connection.execute(
        "select table_schema, column_name from information_schema.columns where table_name = ? order by table_schema",
        [name],
    ).fetchall()
    if not rows:
        raise LookupError(f"no table {name!r} in the warehouse yet")
    schema = rows[0][0]
    return f'"{schema}"."{name}"', {column for table_schema, column in rows if table_schema == schema}


def query(warehouse: Path, sql_for: Any, params: list[Any]) -> list[dict[str, Any]]:
    connection = _connect(warehouse)
    try:
        sql = sql_for(connection)
        cursor = connection.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        connection.close()


def best_rated(warehouse: Path, city: str, limit: int = 5) -> list[dict[str, Any]]:
    def sql(connection: Any) -> str:
        table, columns = _relation(connection, "restaurants")
        # as in the email: a permanently closed place is no recommendation
        status = "and coalesce(business_status, '') <> 'CLOSED_PERMANENTLY'" if "business_status" in columns else ""
        # a warehouse built before these columns existed still answers, without them
        extra = "".join(
            f", {column}" if column in columns else f", null as {column}"
            for column in ("cuisine", "rating_change_7d", "formatted_address")
        )
        return (
            f"select name, rating, user_rating_count, price_level{extra} from {table} "
            f"where lower(city) = lower(?) {status} and rating is not null "
            f"order by rating desc, user_rating_count desc nulls last limit {int(limit)}"
        )

    return query(warehouse, sql, [city])


def city_summary(warehouse: Path, cities: list[str]) -> list[dict[str, Any]]:
    def sql(connection: Any) -> str:
        table, columns = _relation(connection, "city_daily_summary")
        day = "summary_date" if "summary_date" in columns else "day"
        wanted = [
            c
            for c in (
                "city",
                day,
                "restaurants_seen",
                "new_restaurants",
                "closed_restaurants",
                "average_rating",
                "weighted_rating",
            )
            if c in columns
        ]
        placeholders = ", ".join("lower(?)" for _ in cities)
        return (
            f"select {', '.join(wanted)} from {table} t where lower(city) in ({placeholders}) "
            f"and {day} = (select max({day}) from {table} s where s.city = t.city) order by city"
        )

    return query(warehouse, sql, list(cities))
