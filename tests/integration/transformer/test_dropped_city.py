"""A file dropped without collection metadata gets its city from the object's metadata, on the real path: the aws
CLI's `--metadata city=…` and `reprocess --city` against moto's S3, the S3 event, the transformer, dbt on DuckDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from restaurant_pipeline import operations
from tests.support.transformer_stack import BUCKET, DAY, Stack

pytestmark = pytest.mark.integration

AWS = str(Path(sys.executable).parent / "aws")


def export(path: Path, *place_ids: str) -> Path:
    """Places as a person exports them: the API's objects, no `_collection`."""
    lines = [
        json.dumps(
            {
                "id": pid,
                "displayName": {"text": f"Place {pid}"},
                "location": {"latitude": 45.76, "longitude": 4.83},
                "rating": 4.1,
                "userRatingCount": 9,
            }
        )
        for pid in place_ids
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def transformed_city(stack: Stack) -> list[str]:
    outcome = stack.run(stack.s3_messages(1))
    assert outcome.error is None
    [event] = stack.published(1)
    assert event.outcome == "passed", (event.error, event.failures)
    return event.cities


def test_the_aws_clis_city_metadata_and_reprocess_city_name_a_dropped_files_city(stack: Stack, tmp_path: Path):
    key = f"raw/places/dt={DAY}/my-export.jsonl"
    copied = subprocess.run(
        [
            AWS,
            "s3",
            "cp",
            str(export(tmp_path / "my-export.jsonl", "d1", "d2")),
            f"s3://{BUCKET}/{key}",
            "--metadata",
            "city=Lyon",
            "--endpoint-url",
            stack.endpoint,
        ],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert copied.returncode == 0, copied.stderr
    assert transformed_city(stack) == ["Lyon"]
    assert stack.query("select distinct city from restaurants where place_id in ('d1', 'd2')") == [("Lyon",)]

    # reprocessing the object in place (a copy onto itself) keeps the city it was given
    operations.reprocess(stack.s3, BUCKET, f"s3://{BUCKET}/{key}")
    assert transformed_city(stack) == ["Lyon"]

    # a name beyond ASCII goes through S3's metadata headers and comes back whole
    other = export(tmp_path / "other.jsonl", "d3")
    written = operations.reprocess(stack.s3, BUCKET, str(other), None, city="Saint-Étienne")
    assert written.endswith("/other.jsonl")
    assert transformed_city(stack) == ["Saint-Étienne"]

    # nothing says: unknown
    anonymous = f"raw/places/dt={DAY}/anonymous.jsonl"
    stack.drop(anonymous, export(tmp_path / "anonymous.jsonl", "d4").read_bytes())
    assert transformed_city(stack) == ["unknown"]

    # put again with its city, its place moves there (the marts are keyed by place); the day's summary row of
    # "unknown" stays (docs/transformer.md says so)
    operations.reprocess(stack.s3, BUCKET, f"s3://{BUCKET}/{anonymous}", city="Lyon")
    assert transformed_city(stack) == ["Lyon"]
    assert stack.query("select city from restaurants where place_id = 'd4'") == [("Lyon",)]
    assert stack.query("select city from restaurant_daily_snapshots where place_id = 'd4'") == [("Lyon",)]
    assert stack.query("select count(*) from city_daily_summary where city = 'unknown'") == [(1,)]


def test_reprocess_refuses_a_city_it_cannot_store(stack: Stack, tmp_path: Path):
    for bad in ("", "   ", "x" * 101, "unknown"):
        with pytest.raises(ValueError, match="--city"):
            operations.reprocess(stack.s3, BUCKET, str(export(tmp_path / "f.jsonl", "d5")), None, city=bad)
