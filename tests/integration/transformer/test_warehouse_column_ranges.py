"""A value the warehouse column cannot hold costs its line, not the build (issue 24, item 1a): the real dbt build on
DuckDB, from an S3 upload to the published outcome. userRatingCount is a 32-bit `int` column in both warehouses
(contracts/records.py, RAW_COLUMNS); 3,000,000,000 passed validation before and broke the build."""

from __future__ import annotations

import json

import pytest

from tests.support.transformer_stack import DAY, FIXTURES, Stack

pytestmark = pytest.mark.integration


def test_a_count_beyond_the_32_bit_column_is_quarantined_alone_and_the_rest_of_its_file_builds(stack: Stack):
    places = [json.loads(line) for line in (FIXTURES / "clean_paris.jsonl").read_text().splitlines()]
    places[1]["userRatingCount"] = 3_000_000_000
    body = "".join(json.dumps(place) + "\n" for place in places).encode()
    key = f"raw/places/dt={DAY}/run-2026-01-01-a__paris.jsonl"
    stack.drop(key, body)

    outcome = stack.run(stack.s3_messages(1))

    assert outcome.response == {"batchItemFailures": []}
    [event] = stack.published(1)
    assert event.outcome == "passed", event.error
    [source] = event.sources
    assert (source.lines, source.valid_lines, source.quarantined_lines) == (4, 3, 1)
    assert source.quarantine_key is not None
    [record] = [json.loads(line) for line in stack.get_text(source.quarantine_key).splitlines()]
    assert record["line"] == 2
    assert "userRatingCount" in record["reason"] and "3000000000" in record["reason"]
    assert "2147483647" in record["reason"]  # the allowed range
    built = stack.query("select place_id from restaurants order by 1")
    assert built == sorted((p["id"],) for i, p in enumerate(places) if i != 1)


def test_the_largest_count_the_column_holds_builds(stack: Stack):
    [place] = [json.loads(line) for line in (FIXTURES / "clean_paris.jsonl").read_text().splitlines()][:1]
    place["userRatingCount"] = 2**31 - 1
    stack.drop(f"raw/places/dt={DAY}/run-2026-01-01-a__paris.jsonl", (json.dumps(place) + "\n").encode())

    stack.run(stack.s3_messages(1))

    [event] = stack.published(1)
    assert event.outcome == "passed", event.error
    assert event.quarantined_lines == 0
    assert stack.query("select user_rating_count from restaurant_daily_snapshots") == [(2**31 - 1,)]
