"""Adapter: the transformer's own SQS queue, for the messages of a failed batch (ports.MessageQueue).

- retry_after: ChangeMessageVisibilityBatch on the records' receipt handles. The new timeout counts from the call
  (0 to 43,200 s): https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
  Without it a failed record waits the queue's whole visibility timeout (Lambda leaves a record named in
  batchItemFailures to it: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html), and on a
  FIFO queue no other message of its group is received meanwhile
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html).
- set_aside: SendMessage of a copy to the dead-letter queue (FIFO: the same MessageGroupId, the original message id
  as MessageDeduplicationId, so a retried copy is not doubled). SQS itself dead-letters only after maxReceiveCount
  receives; `dlq replay transformer` brings the copy back like any dead letter.

The queue URLs are looked up once (GetQueueUrl) from the record's eventSourceARN (arn:aws:sqs:REGION:ACCOUNT:NAME)
and the dead-letter queue's name (restaurant_pipeline/model/topology.py: DEAD_LETTER_QUEUE_NAME): no URL to configure.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from services.transformer.domain.model import InfrastructureError, QueuedMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SQS_MAX_BATCH = 10
DEDUPLICATION_ID_MAX = 128


def queue_of(arn: str) -> tuple[str, str]:
    """(account, queue name) of an SQS queue ARN."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs" or not parts[4] or not parts[5]:
        raise InfrastructureError(f"not an SQS queue ARN: {arn!r}")
    return parts[4], parts[5]


class SqsMessageQueue:
    def __init__(self, sqs_client: SQSClient, dead_letter_queue_name: str | None) -> None:
        self._sqs = sqs_client
        self._dlq_name = dead_letter_queue_name
        self._urls: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def _url(self, account: str, name: str) -> str:
        with self._lock:
            if (account, name) not in self._urls:
                response = self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
                self._urls[(account, name)] = response["QueueUrl"]
            return self._urls[(account, name)]

    def retry_after(self, delays: Sequence[tuple[QueuedMessage, int]]) -> None:
        by_queue: dict[str, list[tuple[QueuedMessage, int]]] = {}
        for message, seconds in delays:
            by_queue.setdefault(message.queue_arn, []).append((message, seconds))
        refused: list[str] = []
        for arn, entries in by_queue.items():
            url = self._url(*queue_of(arn))
            for start in range(0, len(entries), SQS_MAX_BATCH):
                chunk = entries[start : start + SQS_MAX_BATCH]
                response = self._sqs.change_message_visibility_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": message.receipt_handle, "VisibilityTimeout": seconds}
                        for i, (message, seconds) in enumerate(chunk)
                    ],
                )
                for failure in response.get("Failed", []):
                    refused.append(f"{failure.get('Code')} ({chunk[int(failure['Id'])][0].message_id})")
        if refused:
            raise InfrastructureError(f"SQS kept the visibility of {len(refused)} message(s): {', '.join(refused)}")

    def set_aside(self, message: QueuedMessage) -> None:
        if not self._dlq_name:
            raise InfrastructureError("DEAD_LETTER_QUEUE_NAME is not set: no dead-letter queue to set a message aside")
        account, _ = queue_of(message.queue_arn)
        send: dict[str, Any] = {"QueueUrl": self._url(account, self._dlq_name), "MessageBody": message.body}
        if self._dlq_name.endswith(".fifo"):
            send["MessageGroupId"] = message.group_id or "set-aside"
            send["MessageDeduplicationId"] = message.message_id[:DEDUPLICATION_ID_MAX]
        self._sqs.send_message(**send)
