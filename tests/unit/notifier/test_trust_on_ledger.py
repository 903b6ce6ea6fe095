"""The notifier's trust against the real ledger adapters (RunLedger writes as the transformer does, RunOutcomeStore
reads as the notifier does) over moto's in-process DynamoDB: a forged "passed" sent before the real failure is refused,
the real failure is mailed; the version and the outcome must be the ones the transformer recorded, whatever the key's
length."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import boto3
import pytest
from moto import mock_aws

from contracts.events import TransformCompleted
from services.common.adapters.ledger import RunLedger
from services.notifier.adapters.dynamodb import RunOutcomeStore
from services.notifier.service import Notifier
from tests.support.ledger import create_ledger_table
from tests.unit.notifier.builders import RUN_ID, later, transform
from tests.unit.notifier.fakes import FakeEmailOnce, FakeRepeats

LONG_KEY = "raw/places/dt=2026-11-25/" + "é" * 495 + ".jsonl"  # 1,021 bytes: a valid S3 key


@pytest.fixture
def world() -> Iterator[tuple[Notifier, RunLedger, FakeEmailOnce]]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-3")
        create_ledger_table(client, "ledger")
        ledger = RunLedger(client, "ledger")
        email = FakeEmailOnce()
        notifier = Notifier(
            outcomes=RunOutcomeStore(client, "ledger"),
            repeats=FakeRepeats(),
            email=email,
            ledger=ledger,
            repeat_window=timedelta(hours=6),
            clock=lambda: later(10),
        )
        yield notifier, ledger, email


def transformer_records(ledger: RunLedger, event: TransformCompleted, step: str = "TRANSFORMED") -> None:
    """What services/transformer/service.py writes before it publishes the event."""
    for source in event.sources:
        data = {"outcome": event.outcome} if step == "TRANSFORMED" else {"dead_lettered": True}
        assert ledger.record(
            event.run_id, step, source.key, "transformer", data, version=source.version_id or source.etag
        )  # type: ignore[arg-type]


def test_a_forged_passed_before_the_real_failure_is_refused_and_the_failure_is_mailed(world):
    notifier, ledger, email = world
    real = transform("tests_failed", produced_at=later(5))
    forged = transform("passed", produced_at=later(1))
    ledger.record(RUN_ID, "REQUESTED", "-", "collector", {"cities": ["Paris"]})

    assert notifier.notify(forged).action == "refused"
    transformer_records(ledger, real)
    assert notifier.notify(forged).action == "refused"  # also once the real step is there: another outcome
    result = notifier.notify(real)

    assert result.action == "sent" and result.outcome == "tests_failed"
    assert len(email.sent) == 1
    steps = [step["step"] for step in ledger.steps(RUN_ID)]
    assert steps.count("REFUSED") == 1 and steps.count("NOTIFIED") == 1  # one audit line per forged event


def test_a_dead_lettered_error_is_vouched_for_by_transform_failed(world):
    notifier, ledger, _ = world
    event = transform("error", dead_lettered=True)
    transformer_records(ledger, event, step="TRANSFORM_FAILED")

    assert notifier.notify(event).action == "sent"


def test_an_event_naming_another_version_than_the_one_recorded_is_refused(world):
    notifier, ledger, _ = world
    real = transform("passed")
    transformer_records(ledger, real)
    other = [s.model_copy(update={"version_id": "not-the-recorded-one"}) for s in real.sources]

    assert notifier.notify(transform("passed", sources=other)).action == "refused"


def test_a_step_recorded_without_a_version_vouches_for_nothing(world):
    notifier, ledger, _ = world
    event = transform("passed")
    ledger.record(RUN_ID, "TRANSFORMED", event.sources[0].key, "transformer", {"outcome": "passed"})

    assert notifier.notify(event).action == "refused"


def test_an_object_whose_key_fills_s3_s_1024_bytes_is_vouched_for(world):
    notifier, ledger, _ = world
    sources = [s.model_copy(update={"key": LONG_KEY}) for s in transform("passed").sources]
    event = transform("passed", sources=sources)
    transformer_records(ledger, event)

    assert notifier.notify(event).action == "sent"
