"""The burst's concurrency figure, computed from transformer log records (written here: no stack in this tier)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from benchmarks.e2e_bench import dbt_build_interval, dbt_build_intervals, max_concurrent, transformer_invocations

PREFIX = "raw/places/dt=2030-01-01/burst-"
T0 = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)


def completed(request: str, produced_ms: int, read_ms: int, dbt_ms: int, total_ms: int, key: str = "00001") -> dict:
    """A "transform completed" record as the transformer logs it (Powertools JSON, the fields the bench reads)."""
    return {
        "level": "INFO",
        "message": "transform completed",
        "timestamp": (T0 + timedelta(milliseconds=produced_ms + 40)).isoformat(),
        "function_request_id": request,
        "outcome": "passed",
        "objects": [f"{PREFIX}{key}.jsonl"],
        "produced_at": (T0 + timedelta(milliseconds=produced_ms)).isoformat(),
        "durations_ms": {"read_validate": read_ms, "dbt_build": dbt_ms, "summaries": 30, "total": total_ms},
    }


@pytest.mark.parametrize(
    ("intervals", "expected"),
    [
        ([], 0),
        ([(0.0, 1.0)], 1),
        ([(0.0, 1.0), (2.0, 3.0), (4.0, 5.0)], 1),  # one after the other
        ([(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)], 1),  # touching ends: the next starts as the previous one ends
        ([(0.0, 2.0), (1.0, 3.0)], 2),
        ([(0.0, 10.0), (1.0, 2.0), (3.0, 4.0), (3.5, 5.0)], 3),  # a long build under two overlapping short ones
        ([(5.0, 6.0), (0.0, 10.0), (5.5, 7.0), (9.9, 12.0)], 3),  # order of arrival does not matter
        ([(0.0, 0.0), (0.0, 1.0)], 1),  # an empty interval (nothing built) runs beside nothing
    ],
)
def test_max_concurrent_is_the_deepest_overlap_of_half_open_intervals(intervals, expected):
    assert max_concurrent(intervals) == expected


def test_dbt_build_interval_starts_after_read_and_validate_counted_back_from_the_event():
    record = completed("req-1", produced_ms=10_000, read_ms=500, dbt_ms=3_000, total_ms=3_600)

    start, end = dbt_build_interval(record)  # type: ignore[misc]

    assert start == T0 + timedelta(milliseconds=10_000 - 3_600 + 500)
    assert end - start == timedelta(milliseconds=3_000)


def test_a_record_without_timings_has_no_interval():
    record = completed("req-1", 10_000, 500, 3_000, 3_600)
    del record["produced_at"]

    assert dbt_build_interval(record) is None
    assert dbt_build_interval({**completed("req-1", 10_000, 500, 3_000, 3_600), "durations_ms": {"total": 1}}) is None


def test_builds_are_read_per_invocation_from_the_log_and_overlap_is_found(tmp_path):
    """Two run ids served by one invocation are one build; an unrelated object's record and other lines are ignored."""
    log = tmp_path / "transformer.log"
    records = [
        completed("req-1", produced_ms=4_000, read_ms=100, dbt_ms=3_000, total_ms=3_500, key="00001"),
        completed("req-1", produced_ms=4_001, read_ms=100, dbt_ms=3_000, total_ms=3_501, key="00002"),
        completed("req-2", produced_ms=5_900, read_ms=100, dbt_ms=2_000, total_ms=2_500, key="00003"),  # from 3.5 s
        {**completed("req-3", 20_000, 100, 3_000, 3_500), "objects": ["raw/places/dt=2030-01-02/other.jsonl"]},
    ]
    lines = ['{"level":"INFO","message":"dbt manifest ready at init","seconds":3.1}']
    log.write_text("\n".join(lines + [json.dumps(r) for r in records]) + "\n")

    builds = dbt_build_intervals(log, PREFIX)

    assert sorted(builds) == ["req-1", "req-2"]
    assert transformer_invocations(log, PREFIX) == 2
    assert builds["req-1"] == (T0 + timedelta(milliseconds=600), T0 + timedelta(milliseconds=3_600))
    assert max_concurrent([b for b in builds.values() if b]) == 2  # req-1 still building when req-2 started
