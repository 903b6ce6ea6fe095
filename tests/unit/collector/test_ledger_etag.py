"""The collector records each written object's ETag in the run ledger, and the transformer's run-identity check
reads it back: after a run is emailed, only the very object its collection wrote still belongs to it.

The ledger is the real adapter (services/common/adapters/ledger.py) over moto's in-process DynamoDB (no socket)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from services.collector.domain.model import CityCollected, Counters, RunOutcome
from services.collector.service import record_outcome
from services.common.adapters.ledger import RunLedger
from services.transformer.domain.identity import identify
from services.transformer.domain.reading import ObjectRef
from tests.support.ledger import create_ledger_table
from tests.unit.collector.fakes import run_plan

NAME = "run-1__paris.jsonl.gz"
KEY = f"raw/places/dt=2026-03-14/{NAME}"
CONTENT = b"the collection's object"
MD5 = hashlib.md5(CONTENT).hexdigest()  # S3's ETag of a single-part SSE-S3 object


@pytest.fixture
def ledger() -> Iterator[RunLedger]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-3")
        create_ledger_table(client, "ledger")
        yield RunLedger(client, "ledger")


def collected(etag: str | None) -> RunOutcome:
    outcome = RunOutcome(run_plan("Paris"))
    outcome.collected.append(CityCollected("Paris", KEY, 20, Counters(requests=1), 5, etag=etag))
    return outcome


def dropped_over_it(etag: str) -> ObjectRef:
    """An "Object Created" for the collector's key; S3 events carry the ETag unquoted."""
    return ObjectRef("bucket", KEY, "v2", etag, len(CONTENT), datetime(2026, 3, 14, 9, tzinfo=UTC))


def emailed_run(ledger: RunLedger, outcome: RunOutcome) -> None:
    ledger.record("run-1", "REQUESTED", "-", "collector", {"cities": ["Paris"]})
    record_outcome(outcome, ledger, lambda name, value: None, secret=None)
    ledger.record("run-1", "NOTIFIED", "passed", "notifier", {})


def test_the_collected_step_holds_the_etag_put_object_returned(ledger: RunLedger) -> None:
    emailed_run(ledger, collected(f'"{MD5}"'))

    [step] = [step for step in ledger.steps("run-1") if step["step"] == "COLLECTED"]
    data: dict[str, Any] = step["data"]
    assert data["etag"] == f'"{MD5}"' and data["object_key"] == KEY
    assert ledger.facts("run-1").collected == {KEY: f'"{MD5}"'}  # type: ignore[union-attr]


def test_after_the_email_only_the_object_the_collection_wrote_keeps_its_run(ledger: RunLedger) -> None:
    emailed_run(ledger, collected(f'"{MD5}"'))

    replayed = identify(dropped_over_it(MD5), NAME, ledger.facts)
    overwritten = identify(dropped_over_it("0" * 32), NAME, ledger.facts)

    assert (replayed.run_id, replayed.collected) == ("run-1", True)
    assert overwritten.run_id.startswith("drop-") and not overwritten.collected


def test_an_etag_that_is_not_known_is_not_recorded_as_an_empty_one(ledger: RunLedger) -> None:
    emailed_run(ledger, collected(None))

    [step] = [step for step in ledger.steps("run-1") if step["step"] == "COLLECTED"]
    assert "etag" not in step["data"]
