"""Every service says why it rejected a malformed message: one error log line naming the problem and the message,
before the record fails alone (then the dead-letter queue)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from services.collector import handler as collector_handler
from services.notifier import handler as notifier_handler
from services.transformer import handler as transformer_handler
from services.transformer.handler import process_batch
from tests.unit.transformer.fakes import FakeStore, sqs_batch
from tests.unit.transformer.test_use_case import deps

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Powertools: "no metrics to publish"

BAD_BODY = json.dumps({"version": "0", "detail-type": "Collection Requested", "source": "restaurant-pipeline.cli"})


def error_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The service loggers' ERROR records, as their JSON lines would carry them (message and extra keys)."""
    return [
        {"message": record.getMessage(), "message_id": getattr(record, "message_id", None)}
        for record in caplog.records
        if record.levelname == "ERROR"
    ]


def through(record_handler: Any, body: str) -> dict[str, Any]:
    """One record through a service's record handler, as its Lambda's batch processor runs it."""
    return dict(
        process_partial_response(
            event=sqs_batch(body),
            record_handler=record_handler,
            processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
        )
    )


def test_the_collector_logs_why_a_request_is_malformed(caplog):
    response = through(collector_handler.record_handler, BAD_BODY)

    assert response["batchItemFailures"] == [{"itemIdentifier": "m0"}]
    [line] = error_lines(caplog)
    assert line["message"].startswith("malformed message, not collected: ") and line["message_id"] == "m0"
    assert "detail" in line["message"] or "id" in line["message"]  # names what is missing


def test_the_transformer_logs_why_a_message_is_malformed(caplog):
    wired = deps(FakeStore())

    result = process_batch(sqs_batch("{not json"), wired, remaining_ms=lambda: 60_000)
    transformer_handler._report(result)

    assert result.response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    [line] = error_lines(caplog)
    assert line["message"].startswith("malformed message, not transformed: ") and line["message_id"] == "m0"
    assert "JSON" in line["message"]


def test_the_notifier_logs_why_a_message_is_malformed_without_needing_its_dependencies(caplog):
    response = through(notifier_handler.record_handler, BAD_BODY.replace("Collection Requested", "Transform Completed"))

    assert response["batchItemFailures"] == [{"itemIdentifier": "m0"}]
    [line] = error_lines(caplog)
    assert line["message"].startswith("malformed message, not mailed: ") and line["message_id"] == "m0"
