"""Reading the Scheduler's dead-letter messages (the shape its guide shows:
https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html) into the Collection Requested
that `dlq replay schedule` puts on the bus."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.envelope import ContractError
from restaurant_pipeline.operations import scheduled_request


def dead_letter(body: str, execution_id: str = "ad06616e51cdf74a", **attributes: str) -> dict[str, Any]:
    values = {"EXECUTION_ID": execution_id, "SCHEDULED_TIME": "2026-03-14T08:00:00Z", **attributes}
    return {
        "MessageId": "2aeg3510-fe3a-4f5a-ab6a-6906560eaf7e",
        "Body": body,
        "Attributes": {"SentTimestamp": "1773475260000"},
        "MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in values.items()},
    }


DETAIL = {"cities": ["Paris"], "max_restaurants": 40, "trigger_source": "schedule"}


def test_a_failed_schedule_becomes_a_replay_of_the_same_cities_with_a_run_id_from_its_execution():
    first = scheduled_request(dead_letter(json.dumps(DETAIL)))
    again = scheduled_request(dead_letter(json.dumps(DETAIL)))
    other = scheduled_request(dead_letter(json.dumps(DETAIL), execution_id="another"))

    assert (first.cities, first.max_restaurants, first.trigger_source) == (["Paris"], 40, "replay")
    assert first.run_id == again.run_id  # replaying the same failure twice is the same run: the collector dedups
    assert first.run_id is not None and first.run_id.startswith("replay-20260314T080000Z-")
    assert other.run_id != first.run_id


def test_without_a_scheduled_time_the_run_id_takes_the_time_the_message_was_sent():
    message = dead_letter(json.dumps(DETAIL))
    del message["MessageAttributes"]["SCHEDULED_TIME"]

    assert str(scheduled_request(message).run_id).startswith("replay-20260314T080100Z-")


@pytest.mark.parametrize(
    ("body", "attributes", "reason"),
    [
        ("Hello, world!", {}, "not JSON"),
        (json.dumps({"MessageBody": "x", "QueueUrl": "https://sqs"}), {}, "cities"),
        (json.dumps({"cities": []}), {}, "cities"),
        (json.dumps({"Detail": "{"}), {}, "Detail is not JSON"),
        (json.dumps(DETAIL), {"IS_PAYLOAD_TRUNCATED": "true"}, "IS_PAYLOAD_TRUNCATED"),
    ],
)
def test_a_message_that_holds_no_whole_request_is_refused_with_the_reason(body, attributes, reason):
    with pytest.raises(ContractError, match=reason):
        scheduled_request(dead_letter(body, **attributes))
