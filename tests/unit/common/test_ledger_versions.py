"""The run ledger keeps one step per object version (services/common/adapters/ledger.py): the notifier checks an
outcome against the step the transformer wrote for the very version an event names.

The real adapter over moto's in-process DynamoDB, which enforces DynamoDB's 1,024-byte sort key like AWS."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from services.common.adapters.ledger import SORT_KEY_MAX_BYTES, RunLedger
from tests.support.ledger import create_ledger_table

RUN = "20261125T080000Z-sched"
KEY = "raw/places/dt=2026-11-25/paris-20261125T080000Z-sched.jsonl.gz"
# An S3 key may take 1,024 bytes of UTF-8: with the step and a version id the sort key would pass DynamoDB's limit.
LONG_KEY = "raw/places/dt=2026-11-25/" + "é" * 495 + ".jsonl"


@pytest.fixture
def ledger() -> Iterator[RunLedger]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-3")
        create_ledger_table(client, "ledger")
        yield RunLedger(client, "ledger")


def transformed(ledger: RunLedger) -> list[dict]:
    return [step for step in ledger.steps(RUN) if step["step"] == "TRANSFORMED"]


def test_two_versions_of_one_key_are_two_steps_each_with_its_version(ledger):
    assert ledger.record(RUN, "TRANSFORMED", KEY, "transformer", {"outcome": "error"}, version="v1")
    assert ledger.record(RUN, "TRANSFORMED", KEY, "transformer", {"outcome": "passed"}, version="v2")

    steps = sorted(transformed(ledger), key=lambda step: step["version"])

    assert [(s["subject"], s["version"], s["data"]["outcome"]) for s in steps] == [
        (KEY, "v1", "error"),
        (KEY, "v2", "passed"),
    ]


def test_the_same_version_recorded_again_keeps_the_first_step(ledger):
    assert ledger.record(RUN, "TRANSFORMED", KEY, "transformer", {"outcome": "passed"}, version="v1")
    assert ledger.record(RUN, "TRANSFORMED", KEY, "transformer", {"outcome": "error"}, version="v1")

    assert [s["data"]["outcome"] for s in transformed(ledger)] == ["passed"]


def test_a_step_without_a_version_keeps_its_sort_key(ledger):
    assert ledger.record(RUN, "COLLECTED", "Paris", "collector", {"object_key": KEY})

    (step,) = ledger.steps(RUN)
    assert step["sk"] == "COLLECTED#Paris"
    assert "version" not in step


def test_a_key_too_long_for_a_sort_key_is_recorded_under_a_digest_and_kept_whole_in_its_attributes(ledger):
    assert len(LONG_KEY.encode()) <= 1024 < len(f"TRANSFORMED#{LONG_KEY}#v1".encode())

    assert ledger.record(RUN, "TRANSFORMED", LONG_KEY, "transformer", {"outcome": "passed"}, version="v1")
    assert ledger.record(RUN, "TRANSFORMED", LONG_KEY, "transformer", {"outcome": "error"}, version="v2")
    assert ledger.failures == 0

    steps = sorted(transformed(ledger), key=lambda step: step["version"])
    assert [(s["subject"], s["version"], s["data"]["outcome"]) for s in steps] == [
        (LONG_KEY, "v1", "passed"),
        (LONG_KEY, "v2", "error"),
    ]
    assert all(len(s["sk"].encode()) <= SORT_KEY_MAX_BYTES and s["sk"].startswith("TRANSFORMED#sha256:") for s in steps)


def test_a_retry_that_ends_otherwise_records_its_own_step_when_the_variant_says_so(ledger):
    """The transformer records its outcome as the step's variant: an attempt whose outcome was recorded but never
    announced (the bus refused it), then a retry that ends otherwise, leaves both outcomes vouched for, so the one
    announced is not refused as unverifiable."""
    for outcome in ("error", "passed", "passed"):
        assert ledger.record(
            RUN, "TRANSFORMED", KEY, "transformer", {"outcome": outcome}, version="v1", variant=outcome
        )

    assert sorted(s["data"]["outcome"] for s in transformed(ledger)) == ["error", "passed"]
