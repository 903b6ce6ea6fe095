"""The local event source mapping and a visibility the function set itself (issue 23, item 5): Lambda leaves a failed
record to its visibility timeout, the last one set; the local mapping shortens only the queue's own."""

from __future__ import annotations

from typing import Any

from restaurant_pipeline.local.esm import EventSourceMapping, MappingSettings, in_process

HOLD_SECONDS = 120


class SettlingHandler:
    """Fails every record; the ones whose body starts with "hold" get a visibility of HOLD_SECONDS from the function
    (as the transformer's backoff does), the others are left to the queue."""

    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs, self.url = sqs, url
        self.bodies: list[str] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event["Records"]
        self.bodies += [r["body"] for r in records]
        held = [r for r in records if r["body"].startswith("hold")]
        if held:
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"], "VisibilityTimeout": HOLD_SECONDS}
                    for i, r in enumerate(held)
                ],
            )
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records]}


def _mapping(stack, handler) -> tuple[EventSourceMapping, str]:  # type: ignore[no-untyped-def]
    clients, info, topology = stack
    route, queue = topology.route("notifier"), info.queues["notifier"]  # a standard queue: no group holds the other
    settings = MappingSettings(
        function_name=route.function_name,
        queue_url=queue.url,
        queue_arn=queue.arn,
        timeout_seconds=route.timeout_seconds,
        batch_size=10,
        retry_delay_seconds=0,
        poll_wait_seconds=1,
    )
    return EventSourceMapping(clients.sqs, in_process(handler), settings), queue.url


def test_a_visibility_the_function_set_stands_and_the_others_get_the_local_retry_delay(stack):
    clients, _, _ = stack
    handler = SettlingHandler(clients.sqs, stack[1].queues["notifier"].url)
    mapping, url = _mapping(stack, handler)
    for body in ("hold-1", "plain-1"):
        clients.sqs.send_message(QueueUrl=url, MessageBody=body)

    first = mapping.poll_once()  # moto hands out both in one receive
    second = mapping.poll_once()

    assert first.received == 2 and sorted(handler.bodies[:2]) == ["hold-1", "plain-1"]
    # the plain one is back at once (retry_delay_seconds=0); the held one waits the function's 120 s
    assert second.received == 1 and handler.bodies[2:] == ["plain-1"]
