"""`dlq replay notifier` (and `notifier-rule`) on AWS, where the notifier queue admits its EventBridge rule alone
(cdk/stack.py): the operator's SendMessage is refused, so the dead letters are handed to the notifier function as its
SQS event source hands them, and leave the DLQ only once the function took them. Locally the queue has no such policy
and they go back to the queue as before.

moto's in-process SQS holds the queues; moto does not enforce queue policies, so a thin wrapper refuses the send with
the AccessDenied AWS answers; the Lambda client is a small fake that answers like the function's partial batch
response."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError
from moto import mock_aws

from restaurant_pipeline.operations import DeadLetterQueue, replay
from services.notifier.service import parse_notifier_event
from tests.unit.notifier.builders import eventbridge_body, transform

REGION = "eu-west-3"


class PolicyDeniedSqs:
    """The SQS client, except that SendMessage to `denied_url` is refused as the queue policy refuses it on AWS."""

    def __init__(self, client: Any, denied_url: str) -> None:
        self._client = client
        self._denied = denied_url

    def send_message(self, **kwargs: Any) -> Any:
        if kwargs["QueueUrl"] == self._denied:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "explicit deny in a resource-based policy"}},
                "SendMessage",
            )
        return self._client.send_message(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@dataclass
class FakeNotifierFunction:
    fail: set[str] = field(default_factory=set)  # message ids the function reports as failed
    records: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert (FunctionName, InvocationType) == ("restaurant-pipeline-notifier", "RequestResponse")
        records = json.loads(Payload)["Records"]
        self.records.extend(records)
        failures = [{"itemIdentifier": r["messageId"]} for r in records if r["messageId"] in self.fail]
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps({"batchItemFailures": failures}).encode())}


@dataclass
class Clients:
    sqs: Any
    function: FakeNotifierFunction

    def client(self, name: str) -> Any:
        assert name == "lambda"
        return self.function


@pytest.fixture
def queues() -> Iterator[tuple[Any, DeadLetterQueue]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="restaurant-pipeline-notifier")["QueueUrl"]
        dlq = sqs.create_queue(QueueName="restaurant-pipeline-notifier-dlq")["QueueUrl"]
        arn = f"arn:aws:sqs:{REGION}:123456789012:restaurant-pipeline-notifier"
        yield sqs, DeadLetterQueue("notifier", "service", "notifier", dlq, arn + "-dlq", queue, arn)


def depth(sqs: Any, url: str) -> int:
    return int(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]["ApproximateNumberOfMessages"]
    )


def test_on_aws_the_dead_letters_go_to_the_function_in_the_sqs_event_shape_and_leave_the_dlq(queues):
    sqs, dlq = queues
    bodies = [eventbridge_body(transform("error")), eventbridge_body(transform("passed"))]
    for body in bodies:
        sqs.send_message(QueueUrl=dlq.url, MessageBody=body)
    function = FakeNotifierFunction()

    result = replay(Clients(PolicyDeniedSqs(sqs, dlq.destination), function), dlq)

    assert (result.method, result.moved) == ("invoke-function", 2)
    assert depth(sqs, dlq.url) == 0 and depth(sqs, dlq.destination) == 0
    assert sorted(r["body"] for r in function.records) == sorted(bodies)
    for record in function.records:  # what the handler's batch processor reads
        parsed = SQSRecord(record)
        assert parsed.event_source_arn == dlq.destination_arn and parsed.attributes.approximate_receive_count
        assert parse_notifier_event(parsed.body).run_id


def test_a_dead_letter_the_function_could_not_take_stays_in_the_dlq_and_the_replay_says_so(queues):
    sqs, dlq = queues
    sent = sqs.send_message(QueueUrl=dlq.url, MessageBody=eventbridge_body(transform("error")))
    function = FakeNotifierFunction(fail={sent["MessageId"]})

    with pytest.raises(RuntimeError, match="stays in the dead-letter queue"):
        replay(Clients(PolicyDeniedSqs(sqs, dlq.destination), function), dlq)

    attributes = sqs.get_queue_attributes(QueueUrl=dlq.url, AttributeNames=["All"])["Attributes"]
    assert int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 1  # not deleted: visible again later


def test_locally_the_dead_letters_go_back_to_the_queue_and_the_function_is_not_called(queues):
    sqs, dlq = queues
    sqs.send_message(QueueUrl=dlq.url, MessageBody=eventbridge_body(transform("error")))
    function = FakeNotifierFunction()

    result = replay(Clients(sqs, function), dlq)

    assert (result.method, result.moved) == ("receive-send-delete", 1)
    assert depth(sqs, dlq.destination) == 1 and function.records == []
