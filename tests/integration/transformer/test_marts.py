"""The marts on a small hand-made input (tests/fixtures/marts/places.csv: six places, two cities, four days spanning
31 days, one late backfill) come out as computed by hand (restaurants.csv, city_cuisine_daily_summary.csv there),
through the real transformer path: raw object, S3 event, validation, dbt build on the DuckDB target."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import zlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.support.transformer_stack import Stack

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "marts"
# The late day last: 2026-01-24 arrives after 2026-01-31 was built (a backfill), and must change nothing else.
BUILD_ORDER = ("2026-01-01", "2026-01-30", "2026-01-31", "2026-01-24")


def read_csv(name: str) -> list[dict[str, str]]:
    with (FIXTURES / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def place_object(row: dict[str, str], day: str) -> dict[str, Any]:
    """One line as the collector writes it: the Places API place plus the collection metadata."""
    place: dict[str, Any] = {
        "id": row["id"],
        "displayName": {"text": row["name"], "languageCode": "fr"},
        "formattedAddress": row["formatted_address"],
        "location": {"latitude": float(row["latitude"]), "longitude": float(row["longitude"])},
        "rating": float(row["rating"]),
        "userRatingCount": int(row["user_rating_count"]),
        "businessStatus": row["business_status"],
        "types": [row["primary_type"], "restaurant", "food"] if row["primary_type"] != "restaurant" else ["restaurant"],
        "primaryType": row["primary_type"],
        "googleMapsUri": f"https://maps.google.com/?cid={zlib.crc32(row['id'].encode())}",
        "_collection": {
            "run_id": f"hand-{day}",
            "city": row["city"],
            "run_cities": ["Lyon", "Paris"],
            "trigger_source": "schedule",
            "query": f"restaurants in {row['city']}",
            "rectangle": None,
            "page": 1,
            "collected_at": f"{day}T08:00:00Z",
        },
    }
    if row["price_level"]:
        place["priceLevel"] = row["price_level"]
    return place


def build_hand_made_days(stack: Stack) -> None:
    rows = read_csv("places.csv")
    for day in BUILD_ORDER:
        lines = [json.dumps(place_object(r, day), ensure_ascii=False) for r in rows if r["dt"] == day]
        stack.drop(f"raw/places/dt={day}/hand-{day}__lyon.jsonl", ("\n".join(lines) + "\n").encode())
        outcome = stack.run(stack.s3_messages(1))
        assert outcome.error is None
        [event] = stack.published(1)
        assert event.outcome == "passed", (day, event.error, event.failures)


def typed(value: str, like: Any) -> Any:
    """A fixture cell in the type DuckDB returned for that column ('' is null)."""
    if value == "":
        return None
    if isinstance(like, bool):
        return value == "true"
    if isinstance(like, int):
        return int(value)
    if isinstance(like, float):
        return float(value)
    if isinstance(like, date):
        return date.fromisoformat(value)
    return value


def same(actual: Any, expected: Any) -> bool:
    if isinstance(actual, float) and isinstance(expected, float):
        return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-9)
    return actual == expected


def assert_rows_match(stack: Stack, table: str, key: tuple[str, ...], fixture: str) -> None:
    expected_rows = read_csv(fixture)
    columns = list(expected_rows[0])
    actual = stack.query(f"select {', '.join(columns)} from {table} order by {', '.join(key)}")
    assert len(actual) == len(expected_rows), (table, actual)
    by_key = {tuple(str(row[columns.index(k)]) for k in key): row for row in actual}
    # a column that is null in every actual row gives no type to convert to: compare as text then
    likes = {c: next((row[i] for row in actual if row[i] is not None), "") for i, c in enumerate(columns)}
    mismatches = []
    for expected in expected_rows:
        row = by_key.get(tuple(expected[k] for k in key))
        assert row is not None, f"{table}: no row {tuple(expected[k] for k in key)}"
        for i, column in enumerate(columns):
            want = typed(expected[column], likes[column])
            if not same(row[i], want):
                mismatches.append(f"{table} {tuple(expected[k] for k in key)} {column}: got {row[i]!r}, want {want!r}")
    assert not mismatches, "\n".join(mismatches)


def test_hand_made_input_gives_the_hand_computed_marts_even_with_a_late_day(stack: Stack):
    build_hand_made_days(stack)

    assert_rows_match(stack, "restaurants", ("place_id",), "restaurants.csv")
    assert_rows_match(
        stack, "city_cuisine_daily_summary", ("city", "cuisine", "summary_date"), "city_cuisine_daily_summary.csv"
    )
    # one level finer than city_daily_summary: a city's cuisines of a day add up to its day
    mismatched = stack.query(
        "select c.city, c.summary_date from city_daily_summary c"
        " join (select city, summary_date, sum(restaurants_seen) as seen_, sum(new_restaurants) as new_,"
        "  sum(closed_restaurants) as closed_, sum(price_unknown) as unknown_"
        "  from city_cuisine_daily_summary group by all) as k using (city, summary_date)"
        " where (c.restaurants_seen, c.new_restaurants, c.closed_restaurants, c.price_unknown)"
        " <> (k.seen_, k.new_, k.closed_, k.unknown_)"
    )
    assert mismatched == []
    [(types, uri, address)] = stack.query(
        "select types, google_maps_uri, formatted_address from restaurant_daily_snapshots"
        " where place_id = 'hand-a' and snapshot_date = date '2026-01-31'"
    )
    assert types == ["japanese_restaurant", "restaurant", "food"]
    assert uri.startswith("https://maps.google.com/?cid=") and address == "1 Rue de la République, 69002 Lyon"


REPO = Path(__file__).resolve().parents[3]
# What each query of docs/marts.md (and any copy in the README) answers on the hand-made input: the values of one
# column, in order. The latest collection day is 2026-01-31.
ANSWERS: dict[str, tuple[str, list[Any]]] = {
    "question 1": ("name", ["Tokyo Table", "Sushi Hana"]),
    "question 2": ("name", ["Tokyo Table", "Sushi Hana"]),
    # Chez Nous (01-30) and Tokyo Table (01-31); Le Zinc is new on Paris's first collection day, so left out
    "question 3": ("name", ["Tokyo Table", "Chez Nous"]),
    "question 4": ("name", ["Sushi Hana", "Ramen Ko"]),  # +0.4 and -0.2; the closed bouchon did not move
    "question 5": ("cuisine", ["Japanese", "French", "Ramen", "Unspecified"]),
    "email new places": ("name", ["Tokyo Table", "Le Zinc"]),
    "email movers": ("name", ["Sushi Hana"]),  # Ramen Ko was not collected on 01-24; the bouchon did not move
    "email trend": ("restaurants_seen", [2, 4, 5]),  # Lyon on 01-24, 01-30, 01-31; 01-01 is older than 14 days
}
# The README's ready `restaurant-pipeline sql "…"` commands (local, and `--aws` for Athena), by their comment.
READY_ANSWERS: dict[str, tuple[str, list[Any]]] = {
    "best-rated by cuisine": ANSWERS["question 1"],
    "opened this week": ANSWERS["question 3"],
    "biggest movers": ("name", ["Sushi Hana"]),  # +0.2 over 7 days; Ramen Ko has no 7-day-old rating
}
READY_COMMAND = re.compile(r'^restaurant-pipeline sql (?P<aws>--aws )?"(?P<sql>[^"]+)"$')


def ready_queries(path: Path) -> list[tuple[str, bool, str]]:
    """(label, on Athena, SQL) of each `restaurant-pipeline sql "…"` line under a `# ready: <label>` comment."""
    found = []
    label = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# ready: "):
            label = line[len("# ready: ") :]
            continue
        match = READY_COMMAND.match(line)
        if label and match:
            found.append((label, bool(match.group("aws")), match.group("sql")))
        label = None
    return found


def documented_queries(path: Path) -> list[tuple[str, str, str]]:
    """(label, targets, SQL) of each ```sql block opening with `-- <label> · <targets>`."""
    text = path.read_text(encoding="utf-8")
    found = []
    for block in text.split("```sql\n")[1:]:
        sql = block.split("```", 1)[0]
        header = sql.splitlines()[0]
        assert header.startswith("-- ") and " · " in header, f"{path.name}: a sql block without its label: {header}"
        label, targets = header[3:].split(" · ", 1)
        found.append((label, targets, sql))
    return found


def answer(stack: Stack, sql: str, column: str) -> list[Any]:
    import duckdb

    with duckdb.connect(stack.warehouse_path, read_only=True) as connection:
        cursor = connection.execute(sql)
        names = [d[0] for d in cursor.description]
        return [row[names.index(column)] for row in cursor.fetchall()]


def test_every_documented_query_answers_its_question_on_both_warehouses(stack: Stack, tmp_path: Path):
    import sqlglot

    build_hand_made_days(stack)
    queries = documented_queries(REPO / "docs" / "marts.md") + documented_queries(REPO / "README.md")
    assert {label for label, _, _ in queries} == set(ANSWERS)
    for label, targets, sql in queries:
        column, expected = ANSWERS[label]
        assert "DuckDB" in targets or "Athena" in targets, label
        if "DuckDB" in targets:
            assert answer(stack, sql, column) == expected, (label, "DuckDB")
        if "Athena" in targets:
            # Athena cannot run here: the query must parse as Athena SQL, and sqlglot's translation of it to
            # DuckDB must give the same answer (a check of what the Athena form means, not of Athena itself).
            sqlglot.parse_one(sql, read="athena")
            translated = sqlglot.transpile(sql, read="athena", write="duckdb")[0]
            assert answer(stack, translated, column) == expected, (label, "Athena", translated)

    ready = ready_queries(REPO / "README.md")
    assert sorted((label, aws) for label, aws, _ in ready) == sorted(
        (label, aws) for label in READY_ANSWERS for aws in (False, True)
    )
    for label, on_athena, sql in ready:
        column, expected = READY_ANSWERS[label]
        if on_athena:
            sqlglot.parse_one(sql, read="athena")
            sql = sqlglot.transpile(sql, read="athena", write="duckdb")[0]
        assert answer(stack, sql, column) == expected, (label, "Athena" if on_athena else "DuckDB", sql)

    # the command the README and docs/marts.md give to run a saved query locally, on a state folder holding this
    # warehouse (no stack running: the marts answer without one)
    command = "restaurant-pipeline sql --file query.sql"
    for path in (REPO / "README.md", REPO / "docs" / "marts.md"):
        assert f"`{command}`" in path.read_text(encoding="utf-8"), path.name
    (tmp_path / "query.sql").write_text(next(sql for label, _, sql in queries if label == "question 1"))
    state = tmp_path / "state"
    (state / "warehouse").mkdir(parents=True)
    shutil.copy(stack.warehouse_path, state / "warehouse" / "warehouse.duckdb")
    cli = shlex.quote(str(Path(sys.executable).parent / "restaurant-pipeline"))
    shown = subprocess.run(
        command.replace("restaurant-pipeline", cli, 1) + " --csv",
        shell=True,
        cwd=tmp_path,
        env={**os.environ, "PIPELINE_STATE_DIR": str(state)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert [line.split(",")[0] for line in shown.stdout.splitlines()] == ["name", "Tokyo Table", "Sushi Hana"]


# The columns the marts had before issue 20 (the release a deployed warehouse may still hold).
PREVIOUS_COLUMNS = {
    "restaurant_daily_snapshots": "place_id snapshot_date city name rating user_rating_count price_level "
    "business_status run_id collected_at source_key loaded_at dbt_invocation_id",
    "restaurants": "place_id city name rating user_rating_count price_level business_status first_seen_date "
    "last_seen_date scored_reviews unscored_reviews average_sentiment previous_average_sentiment positive_share "
    "negative_share top_theme dbt_invocation_id",
}


def test_marts_of_the_previous_release_gain_the_new_columns_on_the_next_build(stack: Stack):
    import duckdb

    rows = read_csv("places.csv")
    for day in ("2026-01-01", "2026-01-30"):
        lines = [json.dumps(place_object(r, day), ensure_ascii=False) for r in rows if r["dt"] == day]
        stack.drop(f"raw/places/dt={day}/hand-{day}__lyon.jsonl", ("\n".join(lines) + "\n").encode())
        assert stack.run(stack.s3_messages(1)).error is None
        assert stack.published(1)[0].outcome == "passed"
    with duckdb.connect(stack.warehouse_path) as connection:  # back to the previous release's shape
        for table, keep in PREVIOUS_COLUMNS.items():
            columns = [c for (c,) in connection.execute(f"select name from pragma_table_info('{table}')").fetchall()]
            for column in set(columns) - set(keep.split()):
                connection.execute(f"alter table {table} drop column {column}")
        connection.execute("drop table city_cuisine_daily_summary")

    lines = [json.dumps(place_object(r, "2026-01-31"), ensure_ascii=False) for r in rows if r["dt"] == "2026-01-31"]
    stack.drop("raw/places/dt=2026-01-31/hand-2026-01-31__lyon.jsonl", ("\n".join(lines) + "\n").encode())
    assert stack.run(stack.s3_messages(1)).error is None
    [event] = stack.published(1)

    assert event.outcome == "passed", (event.error, event.failures)
    assert stack.query(
        "select place_id, cuisine, first_seen_closed_date::varchar, rating_change_30d from restaurants order by 1"
    ) == [
        ("hand-a", "Japanese", None, 0.4),
        ("hand-b", "Ramen", None, -0.2),
        # closed on 01-30, before the column existed: taken from the history
        ("hand-c", "French", "2026-01-30", 0.0),
        ("hand-d", "Unspecified", None, None),
        ("hand-e", "Japanese", None, None),
        ("hand-f", "Bistro", None, None),
    ]
    # older snapshots hold null in the new columns; the cuisine mart starts with the day built after the upgrade
    assert stack.query(
        "select snapshot_date::varchar, count(cuisine) from restaurant_daily_snapshots group by 1 order by 1"
    ) == [("2026-01-01", 0), ("2026-01-30", 0), ("2026-01-31", 6)]
    assert stack.query("select distinct summary_date::varchar from city_cuisine_daily_summary") == [("2026-01-31",)]
