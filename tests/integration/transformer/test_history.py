"""A year of history: a daily run reads and rewrites only the new day; the dbt unit tests pass on the warehouse."""

from __future__ import annotations

import gzip
from datetime import date, timedelta

import pytest

from tests.support.transformer_stack import Stack, places_lines

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HISTORY_DAYS = 365
FIRST_DAY = date(2025, 1, 1)
NEW_DAY = FIRST_DAY + timedelta(days=HISTORY_DAYS)


def validated_day(day: date, places: int = 3) -> bytes:
    return gzip.compress(places_lines(day, places, validated=True))


def test_with_a_year_of_history_a_daily_run_touches_only_the_new_day(stack: Stack):
    for offset in range(HISTORY_DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        stack.drop(f"validated/places/dt={day}/history.jsonl.gz", validated_day(day))
    history = stack.deps.builder.build([])  # a full build of every day
    assert history.outcome == "passed", history.error_message
    [(history_invocation,)] = stack.query("select distinct dbt_invocation_id from restaurant_daily_snapshots")
    # Poison every old day: if the daily run opened any old object, the build would fail.
    stack.drop(f"validated/places/dt={FIRST_DAY}/poison.jsonl.gz", b"this is not gzip")
    stack.drop(f"validated/places/dt={NEW_DAY - timedelta(days=1)}/poison.jsonl.gz", b"this is not gzip")

    stack.drop(f"raw/places/dt={NEW_DAY}/r__lyon.jsonl", gzip.decompress(validated_day(NEW_DAY, places=4)))
    outcome = stack.run(stack.s3_messages(1))

    assert outcome.error is None
    [event] = stack.published(1)
    assert event.outcome == "passed", event.error
    assert event.row_counts["restaurant_daily_snapshots"] == HISTORY_DAYS * 3 + 4
    touched = stack.query(
        "select snapshot_date::varchar, count(*) from restaurant_daily_snapshots "
        f"where dbt_invocation_id <> '{history_invocation}' group by 1"
    )
    assert touched == [(str(NEW_DAY), 4)]
    summaries = stack.query(
        f"select count(*) from city_daily_summary where dbt_invocation_id <> '{history_invocation}'"
    )
    assert summaries == [(1,)]
    [summary] = event.city_summaries
    assert (summary.restaurants_seen, summary.new_restaurants) == (4, 1)  # place-3 is new; 0-2 seen for a year
    assert stack.query("select first_seen_date::varchar from restaurants where place_id = 'place-0'") == [
        (str(FIRST_DAY),)
    ]


def test_dbt_unit_tests_pass_against_the_built_warehouse(stack: Stack):
    stack.drop("validated/places/dt=2026-01-01/x.jsonl.gz", validated_day(date(2026, 1, 1)))
    assert stack.deps.builder.build(["2026-01-01"]).outcome == "passed"

    result = stack.deps.builder.invoke(["test", "--select", "test_type:unit"])  # type: ignore[attr-defined]

    statuses = {r.node.name: str(r.status) for r in result.result.results if r.node.resource_type == "unit_test"}
    assert len(statuses) == 7 and set(statuses.values()) == {"pass"}, statuses


def test_a_day_over_day_drop_beyond_the_share_is_a_warning_not_a_failure(stack: Stack):
    stack.drop("validated/places/dt=2026-01-01/x.jsonl.gz", validated_day(date(2026, 1, 1), places=10))
    assert stack.deps.builder.build(["2026-01-01"]).outcome == "passed"
    stack.drop("validated/places/dt=2026-01-02/x.jsonl.gz", validated_day(date(2026, 1, 2), places=2))

    report = stack.deps.builder.build(["2026-01-02"])

    assert report.outcome == "passed"
    [warning] = report.failures
    assert warning.severity == "warn" and warning.name.startswith("daily_drop_within_share")
    assert warning.failing_rows == 1
