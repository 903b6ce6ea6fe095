"""Issue 23, item 5, on a running local stack: a final error costs its own object, not an hour of every transform.

The transformer's worker is denied S3 GetObject on keys containing "/denied-" (tests/e2e/fault_injection/
sitecustomize.py raises botocore's ClientError AccessDenied, as AWS does when the role may not read an object).
A denied file and a good file of the same day are dropped one after the other. Measured: the error email about the
denied file (≤ 60 s after its upload), and the good file's build (≤ 2 minutes after its upload), where the FIFO
queue's single message group used to wait the queue's visibility timeout (6 x the function timeout: an hour).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.e2e.drills import (
    EventCapture,
    completed_for,
    delivered_emails,
    depth,
    drop_file,
    place_line,
    seconds_until,
    wait_until,
)
from tests.e2e.reliability_report import record
from tests.support.local_stack import RunningStack, running_stack

pytestmark = pytest.mark.e2e

THIS = "tests/e2e/test_final_failures.py"
FAULTS = Path(__file__).resolve().parent / "fault_injection"
EMAIL_TARGET_SECONDS = 60
NEXT_BUILD_TARGET_SECONDS = 120


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    path = os.pathsep.join(p for p in (str(FAULTS), os.environ.get("PYTHONPATH", "")) if p)
    with running_stack("final-failures", {"PYTHONPATH": path}) as running:
        yield running


@pytest.fixture(scope="module")
def capture(stack: RunningStack) -> EventCapture:
    return EventCapture(stack)


def _produced_at(event: dict) -> datetime:
    return datetime.fromisoformat(event["detail"]["metadata"]["produced_at"])


def test_an_access_denied_object_is_mailed_at_once_and_the_next_object_of_its_day_is_built_minutes_not_an_hour_later(
    stack, capture
):
    day = "2026-04-01"
    suffix = uuid.uuid4().hex[:6]
    denied = f"raw/places/dt={day}/denied-{suffix}.jsonl"
    good = f"raw/places/dt={day}/after-{suffix}.jsonl"
    queue, dlq = stack.info.queues["transformer"].url, stack.info.queues["transformer"].dlq_url

    denied_at = datetime.now(UTC)
    drop_file(stack, denied, [place_line("ChIJ-denied", "Porte Close", 4.0)])
    good_at = datetime.now(UTC)
    drop_file(stack, good, [place_line("ChIJ-after", "Porte Ouverte", 4.2)])

    [failed] = wait_until(lambda: completed_for(capture, denied), timeout=120, what="the denied object's outcome")
    [email] = delivered_emails(stack, failed["detail"]["run_id"], timeout=EMAIL_TARGET_SECONDS)
    [built] = wait_until(
        lambda: [e for e in completed_for(capture, good) if e["detail"]["outcome"] == "passed"],
        timeout=NEXT_BUILD_TARGET_SECONDS,
        what="the next object's build",
    )
    email_seconds = seconds_until(denied_at, email)
    build_seconds = (_produced_at(built) - good_at).total_seconds()
    print(
        f"\nerror email {email_seconds:.1f} s after the denied upload; "
        f"next object built {build_seconds:.1f} s after its upload"
    )

    detail = failed["detail"]
    assert detail["outcome"] == "error" and detail["dead_lettered"] is True and detail["attempts"] == 1
    assert "AccessDenied" in detail["error"]["message"]
    assert "AccessDenied" in email.body
    assert email_seconds <= EMAIL_TARGET_SECONDS
    assert build_seconds <= NEXT_BUILD_TARGET_SECONDS
    # set aside, not retried: the message waits in the DLQ for `dlq replay transformer`, the queue is empty
    wait_until(lambda: depth(stack, queue) == 0, timeout=30, what="the transformer's queue drained")
    assert depth(stack, dlq) == 1 and len(completed_for(capture, denied)) == 1
    record(
        "transformer-final-error",
        "Transformer: S3 denies reading one object (AccessDenied), another object of the same day right behind it",
        "A final error is mailed on the first attempt and its message set aside in the DLQ; the FIFO group does "
        "not wait the visibility timeout (an hour): the next object is built at once",
        f"the error email {email_seconds:.1f} s after the upload; the next object built {build_seconds:.1f} s after "
        "its upload; one message in the DLQ, none retried",
        THIS,
        order=83,
        email_seconds=round(email_seconds, 1),
        next_build_seconds=round(build_seconds, 1),
    )
