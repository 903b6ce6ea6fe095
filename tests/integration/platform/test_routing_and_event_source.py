"""The choreography's plumbing on a real moto server: rules -> queues -> emulated event source -> handler."""

from __future__ import annotations

import json
import time

from contracts import CollectionRequested
from restaurant_pipeline.local.esm import EventSourceMapping, MappingSettings, in_process
from restaurant_pipeline.operations import replay_dlq
from tests.support.handlers import CrashingHandler, RecordingHandler


def mapping_for(clients, info, topology, service, handler, retry_delay=0, **overrides):
    route = topology.route(service)
    queue = info.queues[service]
    settings = MappingSettings(
        function_name=route.function_name,
        queue_url=queue.url,
        queue_arn=queue.arn,
        timeout_seconds=route.timeout_seconds,
        batch_size=overrides.pop("batch_size", route.batch_size),
        batching_window_seconds=overrides.pop("batching_window_seconds", 0),
        fifo=route.fifo,
        retry_delay_seconds=retry_delay,
        poll_wait_seconds=overrides.pop("poll_wait_seconds", 1),
    )
    return EventSourceMapping(clients.sqs, in_process(handler), settings)


def poll_until(mapping, condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        mapping.poll_once()
        if condition():
            return
    raise AssertionError("condition not met before the deadline")


def queue_depth(clients, url):
    attributes = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_collection_requested_on_the_bus_reaches_the_collector_handler(stack):
    clients, info, topology = stack
    handler = RecordingHandler()
    request = CollectionRequested(cities=["Paris"], trigger_source="manual", run_id="run-1")

    clients.events.put_events(Entries=[request.to_entry(info.event_bus, source="restaurant-pipeline.cli")])
    poll_until(mapping_for(clients, info, topology, "collector", handler), lambda: handler.records)

    (record,) = handler.records
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == info.queues["collector"].arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    body = json.loads(record["body"])
    assert body["detail-type"] == "Collection Requested"
    assert CollectionRequested.parse_detail(body["detail"]).run_id == "run-1"
    context = handler.contexts[0]
    assert context.function_name == "restaurant-pipeline-collector"
    assert 0 < context.get_remaining_time_in_millis() <= topology.route("collector").timeout_seconds * 1000


def test_object_written_under_raw_reaches_the_transformer_as_object_created_and_nothing_else_does(stack):
    clients, info, topology = stack
    handler = RecordingHandler()

    clients.s3.put_object(Bucket=info.bucket, Key="raw/places/dt=2026-01-01/x.jsonl", Body=b"{}\n")
    clients.s3.put_object(Bucket=info.bucket, Key="quarantine/elsewhere.jsonl", Body=b"{}\n")
    clients.s3.put_object_tagging(
        Bucket=info.bucket, Key="raw/places/dt=2026-01-01/x.jsonl", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}
    )
    mapping = mapping_for(clients, info, topology, "transformer", handler)
    poll_until(mapping, lambda: handler.records)
    mapping.poll_once()  # anything else routed would show up now

    bodies = handler.bodies()
    assert [b["detail-type"] for b in bodies] == ["Object Created"]
    assert bodies[0]["detail"]["object"]["key"] == "raw/places/dt=2026-01-01/x.jsonl"
    assert handler.records[0]["attributes"]["MessageGroupId"] == "dbt"


def test_a_handler_failing_one_record_of_a_batch_gets_only_that_record_back(stack):
    clients, info, topology = stack
    url = info.queues["notifier"].url
    for body in ("ok-1", "poison", "ok-2"):
        clients.sqs.send_message(QueueUrl=url, MessageBody=body)
    handler = RecordingHandler(poison="poison")
    mapping = mapping_for(clients, info, topology, "notifier", handler, batching_window_seconds=1)

    poll_until(mapping, lambda: len(handler.records) >= 3)
    # the two good ones are gone for good; the poison comes back on the next receive
    poll_until(mapping, lambda: len(handler.records) >= 4)

    assert sorted(r["body"] for r in handler.calls[0]["Records"]) == ["ok-1", "ok-2", "poison"]
    assert [r["body"] for r in handler.records[3:]] == ["poison"]
    assert handler.records[3]["attributes"]["ApproximateReceiveCount"] == "2"


def test_poison_message_is_received_max_receive_count_times_then_lands_in_the_dlq_without_blocking_others(stack):
    clients, info, topology = stack
    queue = info.queues["notifier"]
    clients.sqs.send_message(QueueUrl=queue.url, MessageBody="poison")
    for index in range(5):
        clients.sqs.send_message(QueueUrl=queue.url, MessageBody=f"good-{index}")
    handler = RecordingHandler(poison="poison")
    mapping = mapping_for(clients, info, topology, "notifier", handler, poll_wait_seconds=0)

    poll_until(mapping, lambda: queue_depth(clients, queue.dlq_url) == 1)
    mapping.poll_once()

    poison_receives = [r for r in handler.records if r["body"] == "poison"]
    good = [r["body"] for r in handler.records if r["body"] != "poison"]
    assert len(poison_receives) == topology.route("notifier").max_receive_count == 3
    assert sorted(good) == [f"good-{i}" for i in range(5)]  # each exactly once
    assert queue_depth(clients, queue.url) == 0


def test_dlq_replay_moves_the_message_back_and_a_healthy_handler_processes_it_exactly_once(stack):
    clients, info, topology = stack
    queue = info.queues["notifier"]
    clients.sqs.send_message(QueueUrl=queue.url, MessageBody="poison")
    failing = mapping_for(clients, info, topology, "notifier", CrashingHandler(), poll_wait_seconds=0)
    poll_until(failing, lambda: queue_depth(clients, queue.dlq_url) == 1)

    replayed = replay_dlq(clients.sqs, "notifier", queue.url, queue.arn, queue.dlq_url, queue.dlq_arn)
    again = replay_dlq(clients.sqs, "notifier", queue.url, queue.arn, queue.dlq_url, queue.dlq_arn)
    healthy = RecordingHandler()
    mapping = mapping_for(clients, info, topology, "notifier", healthy, poll_wait_seconds=0)
    poll_until(mapping, lambda: healthy.records)
    mapping.poll_once()

    assert (replayed.moved, again.moved) == (1, 0)
    assert replayed.method == "receive-send-delete"  # moto has no StartMessageMoveTask
    assert [r["body"] for r in healthy.records] == ["poison"]
    assert queue_depth(clients, queue.dlq_url) == 0 and queue_depth(clients, queue.url) == 0


def test_fifo_dlq_replay_keeps_the_message_group(stack):
    clients, info, topology = stack
    queue = info.queues["transformer"]
    clients.sqs.send_message(QueueUrl=queue.dlq_url, MessageBody="{}", MessageGroupId="dbt", MessageDeduplicationId="a")

    result = replay_dlq(clients.sqs, "transformer", queue.url, queue.arn, queue.dlq_url, queue.dlq_arn)
    handler = RecordingHandler()
    poll_until(mapping_for(clients, info, topology, "transformer", handler), lambda: handler.records)

    assert result.moved == 1
    assert handler.records[0]["attributes"]["MessageGroupId"] == "dbt"


def test_a_crashing_handler_fails_the_whole_batch(stack):
    clients, info, topology = stack
    queue = info.queues["notifier"]
    for body in ("a", "b"):
        clients.sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    mapping = mapping_for(clients, info, topology, "notifier", CrashingHandler(), batching_window_seconds=1)

    result = mapping.poll_once()

    assert result.failed == result.received == 2 and "RuntimeError" in (result.handler_error or "")
    assert queue_depth(clients, queue.url) == 2
