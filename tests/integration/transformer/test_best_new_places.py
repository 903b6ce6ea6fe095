"""A place first seen already permanently closed is never among the email's best new places (as it is never among
the best rated): the highlights query, on a DuckDB warehouse holding a hand-made restaurants table."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from services.transformer.adapters.marts import WarehouseMarts
from services.transformer.adapters.warehouse import DuckDBWarehouse

pytestmark = pytest.mark.integration


def test_a_place_first_seen_closed_is_not_a_best_new_place(tmp_path: Path):
    path = str(tmp_path / "warehouse.duckdb")
    with duckdb.connect(path) as connection:
        connection.execute(
            "create table restaurants as select * from (values"
            " ('p1', 'Lyon', 'Shut For Good', 'French', 4.9, 900, 'CLOSED_PERMANENTLY', date '2026-01-31',"
            "  date '2026-01-31', null::double, null::double, null::bigint),"
            " ('p2', 'Lyon', 'Open Door', 'Bistro', 4.5, 100, 'OPERATIONAL', date '2026-01-31', date '2026-01-31',"
            "  null::double, null::double, null::bigint))"
            " t(place_id, city, name, cuisine, rating, user_rating_count, business_status, first_seen_date,"
            "  last_seen_date, rating_7d_ago, rating_change_7d, user_rating_count_change_7d)"
        )

    highlights = WarehouseMarts(DuckDBWarehouse(path))._highlights([("Lyon", "2026-01-31")])

    [new] = [items for (kind, _, _), items in highlights.items() if kind == "new"]
    assert [place.name for place in new] == ["Open Door"]
