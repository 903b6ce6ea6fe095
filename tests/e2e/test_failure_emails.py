"""Every transformer failure reaches one email: failed data tests, a dbt error, and the transformer unable to work at
all (the warehouse locked through every retry), each on a running local stack, each measured from the moment the
transformer gave its outcome (for the last: its last attempt) to the email in the outbox.

The stack runs the transformer on a copy of dbt/ (DBT_PROJECT_DIR) whose city_daily_summary fails at run time for
one city only (a cast that cannot succeed), so a dbt error is real dbt failing on real data, and every other city
builds as usual.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from restaurant_pipeline.local import control
from services.transformer.adapters.dbt_build import default_project_dir
from tests.e2e.drills import (
    EventCapture,
    cli,
    completed_for,
    delivered_emails,
    depth,
    drop_file,
    log_records,
    place_line,
    wait_until,
)
from tests.e2e.reliability_report import record
from tests.support.local_stack import RunningStack, overridden_environment, start_stack, state_folder

pytestmark = pytest.mark.e2e

THIS = "tests/e2e/test_failure_emails.py"
BROKEN_CITY = "Brokenville"
EMAIL_TARGET_SECONDS = 60


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    project = tmp_path_factory.mktemp("dbt-copy") / "dbt"
    shutil.copytree(default_project_dir(), project, ignore=shutil.ignore_patterns("target", "logs"))
    model = project / "models" / "marts" / "city_daily_summary.sql"
    model.write_text(
        model.read_text()
        + f"\nwhere case when w.city = '{BROKEN_CITY}' then cast(w.city as integer) = 0 else true end\n"
    )
    with state_folder("failure-emails") as state_dir, overridden_environment({"DBT_PROJECT_DIR": str(project)}):
        running = start_stack(state_dir, {"PIPELINE__TIMEOUTS__TRANSFORMER": "20"})
        try:
            yield running
        finally:
            control.down(state_dir)


@pytest.fixture(scope="module")
def capture(stack: RunningStack) -> EventCapture:
    return EventCapture(stack)


def _collection_line(place_id: str, name: str, city: str, rating: float = 4.0) -> str:
    place = json.loads(place_line(place_id, name, rating))
    place["_collection"] = {
        "run_id": "ignored",
        "city": city,
        "run_cities": [city],
        "trigger_source": "manual",
        "query": None,
        "rectangle": None,
        "page": 1,
        "collected_at": "2026-03-01T08:00:00Z",
    }
    return json.dumps(place)


def _seconds(email_sent_at: datetime, since: datetime) -> float:
    return (email_sent_at - since).total_seconds()


def _produced_at(event: dict) -> datetime:
    return datetime.fromisoformat(event["detail"]["metadata"]["produced_at"])


def test_failed_data_tests_are_one_email_naming_the_tests_and_the_rows(stack, capture):
    key = f"raw/places/dt=2026-03-01/dupes-{uuid.uuid4().hex[:6]}.jsonl"
    line = place_line("ChIJ-dupe", "Deux Fois", 4.1)
    drop_file(stack, key, [line, line, place_line("ChIJ-out-of-range", "Trop Bien", 7.5)])

    [event] = wait_until(lambda: completed_for(capture, key), timeout=120, what="the outcome")
    run_id = event["detail"]["run_id"]
    [email] = delivered_emails(stack, run_id)

    assert event["detail"]["outcome"] == "tests_failed"
    assert "TESTS FAILED" in email.subject
    assert "unique" in email.body and "ChIJ-dupe" in email.body and "What to do" in email.body
    seconds = _seconds(email.sent_at, _produced_at(event))
    assert seconds <= EMAIL_TARGET_SECONDS
    record(
        "email-tests-failed",
        "Transformer: data tests fail (a duplicated place, a rating of 7.5)",
        "One email naming the failed tests, their sample rows and the fix",
        f"1 email, {seconds:.1f} s after the outcome; it names the tests and the failing rows",
        THIS,
        order=80,
        seconds=round(seconds, 1),
    )


def test_a_dbt_error_is_one_email_naming_the_model_and_the_error(stack, capture):
    key = f"raw/places/dt=2026-03-01/broken-{uuid.uuid4().hex[:6]}.jsonl"
    drop_file(stack, key, [_collection_line("ChIJ-broken", "Nulle Part", BROKEN_CITY)])

    [event] = wait_until(lambda: completed_for(capture, key), timeout=120, what="the outcome")
    run_id = event["detail"]["run_id"]
    [email] = delivered_emails(stack, run_id)

    assert event["detail"]["outcome"] == "error" and event["detail"]["error"]["phase"] == "dbt"
    assert event["detail"]["error"]["model"] == "city_daily_summary"
    assert "city_daily_summary" in email.subject and "Conversion Error" in email.body
    assert f"reprocess s3://{stack.info.bucket}/{key}" in email.body
    seconds = _seconds(email.sent_at, _produced_at(event))
    assert seconds <= EMAIL_TARGET_SECONDS
    record(
        "email-dbt-error",
        "Transformer: a dbt model fails at run time on the day's data",
        "One email naming the model, dbt's error and the reprocess command; not retried",
        f"1 email, {seconds:.1f} s after the outcome; it names city_daily_summary and dbt's error",
        THIS,
        order=81,
        seconds=round(seconds, 1),
    )


def test_a_transformer_that_cannot_work_emails_once_on_its_last_attempt_and_a_replay_recovers(stack, capture):
    key = f"raw/places/dt=2026-03-02/locked-{uuid.uuid4().hex[:6]}.jsonl"
    warehouse = Path(stack.info.warehouse_path)
    dlq = stack.info.queues["transformer"].dlq_url
    lock = duckdb.connect(str(warehouse))  # a writer holds the warehouse: every build fails to open it
    try:
        drop_file(stack, key, [place_line("ChIJ-locked", "Verrou", 4.0)])
        [event] = wait_until(lambda: completed_for(capture, key), timeout=180, what="the last attempt's outcome")
        wait_until(lambda: depth(stack, dlq) == 1, timeout=60, what="the message in the transformer's DLQ")
    finally:
        lock.close()
    run_id = event["detail"]["run_id"]
    [email] = delivered_emails(stack, run_id)
    [last] = [
        r
        for r in log_records(stack, "transformer")
        if r.get("message", "").startswith("last attempt failed") and key in r.get("objects", [])
    ]
    last_attempt = datetime.strptime(last["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z").astimezone(UTC)

    assert event["detail"]["outcome"] == "error" and event["detail"]["dead_lettered"] is True
    assert event["detail"]["attempts"] == 3 and "lock" in event["detail"]["error"]["message"].lower()
    assert "gave up after 3 attempts" in email.subject
    assert "dlq replay transformer" in email.body and "lock" in email.body.lower()
    seconds = _seconds(email.sent_at, last_attempt)
    assert seconds <= EMAIL_TARGET_SECONDS

    # the cause is gone: the replay builds it, and the run gets its success email (a new outcome), once
    cli(stack, "dlq", "replay", "transformer")
    wait_until(lambda: len(completed_for(capture, key)) == 2, timeout=120, what="the replayed build")
    assert completed_for(capture, key)[1]["detail"]["outcome"] == "passed"
    assert len(delivered_emails(stack, run_id)) == 2 and depth(stack, dlq) == 0
    record(
        "email-transformer-infrastructure",
        "Transformer: the warehouse locked through every retry (a writer holds the DuckDB file)",
        "On its last attempt the transformer announces the failure: one email with the cause and the replay "
        "command; the message still lands in the DLQ; a replay recovers",
        f"1 email, {seconds:.1f} s after the last attempt; the message in the DLQ; `dlq replay transformer` then "
        "built it and mailed the success once",
        THIS,
        order=82,
        seconds=round(seconds, 1),
    )
