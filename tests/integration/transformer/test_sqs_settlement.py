"""The SQS adapter of a failed batch's messages (services/transformer/adapters/sqs.py) against moto's server: the
queues of the topology (FIFO, one group), URLs looked up from the record's ARN, visibility changed, copies sent."""

from __future__ import annotations

import boto3
import pytest

from restaurant_pipeline.model.config import PipelineConfig
from restaurant_pipeline.model.topology import build_topology
from services.transformer.adapters.sqs import SqsMessageQueue
from services.transformer.domain.model import QueuedMessage

pytestmark = pytest.mark.integration


def _queues(sqs):  # type: ignore[no-untyped-def]
    route = build_topology(PipelineConfig(), "bucket").route("transformer")
    dlq = sqs.create_queue(QueueName=route.dlq_name, Attributes={"FifoQueue": "true"})["QueueUrl"]
    url = sqs.create_queue(
        QueueName=route.queue_name,
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "3600"},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return route, url, arn, dlq


def _receive(sqs, url: str, arn: str) -> list[QueuedMessage]:  # type: ignore[no-untyped-def]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
    return [
        QueuedMessage(
            m["MessageId"],
            m["ReceiptHandle"],
            m["Body"],
            int(m["Attributes"]["ApproximateReceiveCount"]),
            arn,
            m["Attributes"].get("MessageGroupId"),
        )
        for m in got
    ]


def test_a_visibility_changed_to_zero_frees_the_group_at_once_and_a_longer_one_holds_it(aws: str):
    sqs = boto3.client("sqs")
    route, url, arn, _ = _queues(sqs)
    for body in ("first", "second"):
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=route.message_group_id)
    queue = SqsMessageQueue(boto3.client("sqs"), route.dlq_name)

    [first, second] = _receive(sqs, url, arn)
    queue.retry_after([(first, 0), (second, 0)])

    # without the change: nothing for the next hour (and no later message of the group either)
    again = _receive(sqs, url, arn)
    assert [(m.body, m.receives) for m in again] == [("first", 2), ("second", 2)]
    queue.retry_after([(again[0], 0), (again[1], 120)])
    assert _receive(sqs, url, arn) == []  # one message of the group in flight holds the whole group (FIFO)


def test_a_message_set_aside_lands_in_the_dead_letter_queue_with_its_group_and_replays_as_usual(aws: str):
    sqs = boto3.client("sqs")
    route, url, arn, dlq = _queues(sqs)
    sqs.send_message(QueueUrl=url, MessageBody='{"id": "e1"}', MessageGroupId=route.message_group_id)
    queue = SqsMessageQueue(boto3.client("sqs"), route.dlq_name)

    [message] = _receive(sqs, url, arn)
    queue.set_aside(message)
    queue.set_aside(message)  # a retried copy is deduplicated by the original message id

    copies = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert [(c["Body"], c["Attributes"]["MessageGroupId"]) for c in copies] == [('{"id": "e1"}', "dbt")]


def test_without_a_dead_letter_queue_name_nothing_is_set_aside(aws: str):
    sqs = boto3.client("sqs")
    route, url, arn, _ = _queues(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId=route.message_group_id)
    [message] = _receive(sqs, url, arn)

    with pytest.raises(Exception, match="DEAD_LETTER_QUEUE_NAME"):
        SqsMessageQueue(sqs, None).set_aside(message)
