"""The demo's look into the local warehouse: the best-rated places with their cuisine, on new and old marts."""

from __future__ import annotations

from pathlib import Path

import duckdb

from restaurant_pipeline.warehouse import best_rated


def make_warehouse(path: Path, with_new_columns: bool) -> None:
    extra = ", cuisine varchar, rating_change_7d double, formatted_address varchar" if with_new_columns else ""
    with duckdb.connect(str(path)) as connection:
        connection.execute(
            "create table restaurants (place_id varchar, city varchar, name varchar, rating double,"
            f" user_rating_count integer, price_level varchar, business_status varchar{extra})"
        )
        values = [
            ("a", "Lyon", "Sushi Hana", 4.4, 160, "moderate", "OPERATIONAL"),
            ("b", "Lyon", "Closed Gem", 4.9, 900, "expensive", "CLOSED_PERMANENTLY"),
            ("c", "Lyon", "Ramen Ko", 4.3, 210, "inexpensive", "OPERATIONAL"),
            ("d", "Paris", "Le Zinc", 5.0, 80, "moderate", "OPERATIONAL"),
        ]
        for row in values:
            more = (("Japanese" if row[0] == "a" else "Ramen"), 0.2, "1 Rue A") if with_new_columns else ()
            connection.execute(
                f"insert into restaurants values ({', '.join('?' * (len(row) + len(more)))})", [*row, *more]
            )


def test_best_rated_gives_cuisine_change_and_address_and_skips_closed_places(tmp_path: Path):
    path = tmp_path / "warehouse.duckdb"
    make_warehouse(path, with_new_columns=True)

    rows = best_rated(path, "lyon")

    assert [(r["name"], r["cuisine"], r["rating_change_7d"], r["formatted_address"]) for r in rows] == [
        ("Sushi Hana", "Japanese", 0.2, "1 Rue A"),
        ("Ramen Ko", "Ramen", 0.2, "1 Rue A"),
    ]


def test_best_rated_still_answers_on_marts_built_before_the_new_columns(tmp_path: Path):
    path = tmp_path / "warehouse.duckdb"
    make_warehouse(path, with_new_columns=False)

    rows = best_rated(path, "Lyon")

    assert [(r["name"], r["cuisine"], r["rating_change_7d"]) for r in rows] == [
        ("Sushi Hana", None, None),
        ("Ramen Ko", None, None),
    ]
