"""The deployed artifacts, under Lambda's conditions, run the whole choreography (`local up --artifacts`).

Each service runs its host artifact (the same builder, file list and shipped dbt manifest as the AWS zips) in a
Lambda sandbox: read-only code, only /tmp writable, no /dev/shm, Lambda's environment, the runtime interface
client against a local Runtime API (restaurant_pipeline/local/sandbox.py). Before dbt's locks were moved to
threading primitives (services/transformer/adapters/threads_for_dbt.py) the transformer could not start here: every
batch failed and no email came.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from restaurant_pipeline.local.sandbox import isolation
from tests.e2e.drills import (
    EventCapture,
    cli,
    completed_for,
    delivered_emails,
    depth,
    drop_file,
    log_records,
    park_a_notification,
    place_line,
    restore_the_topic,
    wait_until,
)
from tests.support.local_stack import RunningStack, running_stack

pytestmark = pytest.mark.e2e

ISOLATED, HOW = isolation()


@pytest.fixture(scope="module")
def sandboxed() -> Iterator[RunningStack]:
    with running_stack("sandbox", artifacts=True) as stack:
        yield stack


@pytest.fixture(scope="module")
def capture(sandboxed: RunningStack) -> EventCapture:
    return EventCapture(sandboxed)


def run_id_of(result) -> str:
    return result.stdout.split("Requested run ", 1)[1].split(" ", 1)[0]


def messages(stack: RunningStack, service: str) -> list[str]:
    return [str(record.get("message", "")) for record in log_records(stack, service)]


def test_each_service_runs_its_artifact_under_the_constraints_this_machine_enforces(sandboxed):
    lines = sandboxed.info.sandbox
    assert lines, "local up --artifacts reports which of Lambda's conditions it enforces"
    if ISOLATED:
        assert all(line.startswith("enforced") for line in lines), lines
    else:
        assert any(line.startswith("NOT enforced") and HOW in line for line in lines), lines
    for service in ("collector", "transformer", "notifier"):
        started = wait_until(
            lambda service=service: [m for m in messages(sandboxed, service) if "runs in a Lambda sandbox" in m],
            timeout=60,
            what=f"the {service} worker's sandbox line",
        )
        assert f"build/lambda-host/{service}" in started[0]


def test_a_run_reaches_its_email_from_the_deployed_artifacts(sandboxed):
    result = cli(sandboxed, "run", "--city", "Paris", "--max-restaurants", "20", "--wait", "--timeout", "240")
    run_id = run_id_of(result)

    [email] = delivered_emails(sandboxed, run_id)
    assert email.subject.startswith("[restaurant-pipeline] OK Paris")
    ready = [r for r in log_records(sandboxed, "transformer") if r.get("message") == "dbt manifest ready at init"]
    assert ready and ready[0]["manifest"] == "shipped manifest loaded" and ready[0]["parses"] == 0
    assert any("cold start 1: INIT" in m for m in messages(sandboxed, "transformer"))


def test_a_file_dropped_under_raw_is_transformed_in_the_sandbox(sandboxed, capture):
    key = f"raw/places/dt=2026-01-05/sandbox-{uuid.uuid4().hex[:6]}.jsonl"
    drop_file(sandboxed, key, [place_line("ChIJ-sandboxed", "Chez Bac à Sable", 4.5)])

    [completed] = wait_until(lambda: completed_for(capture, key), timeout=180, what="Transform Completed")
    assert completed["detail"]["outcome"] == "passed"
    assert delivered_emails(sandboxed, completed["detail"]["run_id"], timeout=60)


def test_a_notification_parked_in_the_dlq_is_mailed_once_after_a_replay(sandboxed, capture):
    queue = sandboxed.info.queues["notifier"]
    run_id = park_a_notification(sandboxed, capture, "sandbox")

    restore_the_topic(sandboxed)
    replay = cli(sandboxed, "dlq", "replay", "notifier")

    assert "Moved 1 message(s)" in replay.stdout
    assert len(delivered_emails(sandboxed, run_id, timeout=90)) == 1
    wait_until(lambda: depth(sandboxed, queue.url) + depth(sandboxed, queue.dlq_url) == 0, timeout=60)


def test_the_nlp_stage_runs_in_the_sandbox_with_its_own_shipped_manifest():
    nlp = {"PIPELINE__NLP__ENABLED": "true", "PIPELINE__PLACES__LANGUAGE": "en"}
    with running_stack("sandbox-nlp", extra_env=nlp, artifacts=True) as stack:
        result = cli(stack, "run", "--city", "Lyon", "--max-restaurants", "20", "--wait", "--timeout", "240")
        [email] = delivered_emails(stack, run_id_of(result))
        ready = [r for r in log_records(stack, "transformer") if r.get("message") == "dbt manifest ready at init"]

    assert email.subject.startswith("[restaurant-pipeline] OK Lyon")
    assert "Review sentiment:" in email.body
    assert ready and ready[0]["manifest"] == "shipped manifest loaded", json.dumps(ready)
