"""The user's promises, end to end on the local stack: a run collects, transforms and emails; a dropped file is
reprocessed; the audit is clean afterwards."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.drills import EventCapture, cli, wait_until

pytestmark = pytest.mark.e2e

CLI = [sys.executable, "-m", "restaurant_pipeline.cli"]
AWS = str(Path(sys.executable).parent / "aws")


def emails_for(stack, run_id: str) -> list[str]:
    outbox = Path(stack.info.outbox_dir)
    return [p.read_text(errors="replace") for p in outbox.glob("*.eml") if run_id in p.read_text(errors="replace")]


def test_a_manual_run_lands_raw_data_builds_the_marts_and_sends_one_email(local_stack):
    result = cli(local_stack, "run", "--city", "Paris", "--max-restaurants", "20", "--wait", "--timeout", "180")
    run_id = result.stdout.split("Requested run ", 1)[1].split(" ", 1)[0]

    s3 = local_stack.target.clients.s3
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=local_stack.info.bucket, Prefix="raw/places/")["Contents"]]
    (key,) = [k for k in keys if run_id in k]
    lines = gzip.decompress(s3.get_object(Bucket=local_stack.info.bucket, Key=key)["Body"].read()).splitlines()
    places = [json.loads(line) for line in lines]
    assert len(places) == 20 and len({p["id"] for p in places}) == 20
    assert all(p["_collection"]["run_id"] == run_id for p in places)

    emails = wait_until(lambda: emails_for(local_stack, run_id), timeout=30)
    assert len(emails) == 1
    assert "Subject: [restaurant-pipeline] OK Paris" in emails[0]

    import duckdb

    with duckdb.connect(local_stack.info.warehouse_path, read_only=True) as connection:
        (snapshots,) = connection.execute(
            "select count(*) from restaurant_daily_snapshots where run_id = ?", [run_id]
        ).fetchone()
        (current,) = connection.execute(
            "select count(*) from restaurants where place_id in (select place_id from restaurant_daily_snapshots "
            "where run_id = ?)",
            [run_id],
        ).fetchone()
    assert snapshots == current == 20


def test_a_file_copied_under_raw_with_the_aws_cli_is_transformed(local_stack, tmp_path):
    day = "2026-01-01"
    place = {
        "id": "ChIJ-dropped-by-a-person",
        "displayName": {"text": "Chez Test", "languageCode": "fr"},
        "formattedAddress": "1 rue du Test, 75001 Paris",
        "location": {"latitude": 48.86, "longitude": 2.34},
        "rating": 4.2,
        "userRatingCount": 12,
        "priceLevel": "PRICE_LEVEL_MODERATE",
        "businessStatus": "OPERATIONAL",
        "types": ["restaurant"],
    }
    capture = EventCapture(local_stack)
    source = tmp_path / "dropped.jsonl"
    source.write_text(json.dumps(place) + "\n")
    key = f"raw/places/dt={day}/dropped.jsonl"

    subprocess.run(
        [
            AWS,
            "s3",
            "cp",
            str(source),
            f"s3://{local_stack.info.bucket}/{key}",
            "--endpoint-url",
            local_stack.info.endpoint_url,
        ],
        env=local_stack.env,
        check=True,
        capture_output=True,
        timeout=60,
    )

    completed = wait_until(
        lambda: capture.of(
            "Transform Completed", lambda detail: any(source["key"] == key for source in detail["sources"])
        ),
        timeout=120,
    )
    assert completed[0]["detail"]["outcome"] == "passed"

    import duckdb

    with duckdb.connect(local_stack.info.warehouse_path, read_only=True) as connection:
        rows = connection.execute(
            "select name, rating from restaurants where place_id = 'ChIJ-dropped-by-a-person'"
        ).fetchall()
    assert rows == [("Chez Test", 4.2)]


def test_the_audit_is_clean_after_the_runs(local_stack):
    result = cli(local_stack, "audit", "--json", check=False)

    report = json.loads(result.stdout)
    assert report["findings"]["messages in dead-letter queues"] == []
    assert report["findings"]["runs never notified"] == []
    assert result.returncode == 0, report
