"""The failing-row samples the email shows are read from the test's stored failures, of the run's days only, with
the SQL WarehouseMarts sends (here on DuckDB, the local warehouse)."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from services.transformer.adapters.marts import WarehouseMarts

pytestmark = pytest.mark.integration


class DuckDbRunner:
    def __init__(self) -> None:
        self.connection = duckdb.connect()

    def relation(self, model: str) -> str:
        return f'"memory"."main"."{model}"'

    def query(self, sql: str) -> list[dict[str, Any]]:
        cursor = self.connection.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_stored_failures_of_other_days_are_not_sampled():
    runner = DuckDbRunner()
    runner.connection.execute(
        "create table failures as select * from (values "
        "('old-1', date '2026-01-01'), ('old-2', date '2026-01-01'), ('today', date '2026-01-02')"
        ") as t(place_id, collection_date)"
    )

    samples = WarehouseMarts(runner).failing_rows('"memory"."main"."failures"', 5, ["2026-01-02"])

    assert samples == [{"place_id": "today", "collection_date": "2026-01-02"}]


def test_stored_failures_that_name_no_day_are_not_sampled():
    runner = DuckDbRunner()
    runner.connection.execute("create table failures as select 'p1' as place_id, 2 as occurrences")

    assert WarehouseMarts(runner).failing_rows('"memory"."main"."failures"', 5, ["2026-01-02"]) == []
