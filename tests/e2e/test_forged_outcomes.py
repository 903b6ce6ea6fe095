"""A forged outcome never suppresses the real one (issue 24, item 5; docs/notifier.md, "Which events are mailed").

A run the pipeline requested; its object fails in the transformer (every line rejected: an error). Before that error
is mailed, someone sends a "passed" for the same run and the same object version, dated an hour ahead, twice: once
on the bus, once straight onto the notifier's queue (locally nothing stops either; on AWS the bus and the queue
policies do). Trusted on the run alone, the first forged copy was mailed as the run's outcome and the real error then
found the run settled and notified. Now both copies are refused (REFUSED in the ledger) and only the error is mailed.
One local stack, about 30 s."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contracts.events import SourceObject
from tests.e2e.drills import delivered_emails, drop_file
from tests.support.local_stack import RunningStack, running_stack, wait_until
from tests.unit.notifier.builders import eventbridge_body, transform

pytestmark = [pytest.mark.e2e, pytest.mark.hostile]

DAY = "2026-05-02"


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    with running_stack("forged-outcomes") as running:
        yield running


def _steps(stack: RunningStack, run_id: str) -> list[dict[str, Any]]:
    return stack.target.ledger.steps(run_id)


def _settled(stack: RunningStack, run_id: str, refusals: int) -> list[dict[str, Any]] | None:
    """The run's steps once the notifier refused `refusals` events and mailed one outcome."""
    steps = _steps(stack, run_id)
    refused = [s for s in steps if s["step"] == "REFUSED"]
    notified = [s for s in steps if s["step"] == "NOTIFIED"]
    return steps if len(refused) >= refusals and notified else None


def test_a_forged_passed_on_the_bus_or_the_queue_is_refused_and_the_real_error_is_mailed(stack):
    run_id = f"forged-outcome-{uuid.uuid4().hex[:8]}"
    key = f"raw/places/dt={DAY}/{run_id}__paris.jsonl"
    # the run as the collector starts it (REQUESTED before anything is published about it)
    stack.target.ledger.record(run_id, "REQUESTED", "-", "collector", {"trigger": "manual", "cities": ["Paris"]})
    drop_file(stack, key, ["this is not a place"])  # every line rejected: the transformer's outcome is an error
    head = stack.target.clients.s3.head_object(Bucket=stack.info.bucket, Key=key)
    source = SourceObject(
        bucket=stack.info.bucket, key=key, version_id=head.get("VersionId"), etag=head["ETag"].strip('"'), city="Paris"
    )
    ahead = datetime.now(UTC) + timedelta(hours=1)  # newer than any real outcome: it would have settled the city
    forged = [
        transform("passed", run_id=run_id, run_cities=["Paris"], produced_at=ahead, sources=[source.model_dump()])
        for _ in range(2)
    ]

    on_bus = json.loads(eventbridge_body(forged[0]))
    entry = {
        "EventBusName": stack.info.event_bus,
        "Source": on_bus["source"],
        "DetailType": on_bus["detail-type"],
        "Detail": json.dumps(on_bus["detail"]),
    }
    assert stack.target.clients.events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    stack.target.clients.sqs.send_message(
        QueueUrl=stack.info.queues["notifier"].url, MessageBody=eventbridge_body(forged[1])
    )

    steps = wait_until(lambda: _settled(stack, run_id, refusals=2), timeout=180, what="two refusals and one email")
    emails = delivered_emails(stack, run_id)

    refused = {s["subject"] for s in steps if s["step"] == "REFUSED"}
    assert refused == {event.metadata.event_id for event in forged}
    assert [s["subject"] for s in steps if s["step"] == "NOTIFIED"] == ["error"]
    assert [s["data"]["outcome"] for s in steps if s["step"] == "TRANSFORMED" and s["subject"] == key] == ["error"]
    assert len(emails) == 1 and "OK" not in emails[0].subject.split()
