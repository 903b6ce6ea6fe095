"""Issue 24, item 8: the local event source mapping on a full disk (moto's server, the stack's real queues).

The mapping records each batch's receipt handles under the state folder before it invokes the function
(`inflight_file`). The disk is made full at that very write, without filling a real disk: Path.write_text raises
OSError ENOSPC for files in the record's folder (what the kernel answers a write on a full disk). Before the fix the
mapping raised, holding the message for the queue's visibility timeout (the transformer's: an hour, its FIFO
group stuck behind it), and nothing said why. Now the message is visible again at once, the mapping receives
nothing more until the folder can be written, and the local disk-full alarm mails the folder, its free bytes and
the fix.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from restaurant_pipeline.local.alarms import (
    DISK_FULL_ALARM,
    SIGNALS_QUEUE,
    LocalAlarms,
    free_space,
    queued_signals,
    sns_publisher,
    with_local_alarms,
)
from restaurant_pipeline.local.esm import EventSourceMapping, MappingSettings, in_process
from restaurant_pipeline.local.outbox import drain_sns_capture, read_outbox


class FullDisk:
    """Path.write_text fails with ENOSPC for files under `folder` while `full` is set; other writes go through."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
        self.folder, self.full, self.refused = folder, True, 0
        original = Path.write_text

        def write_text(path: Path, data: str, *args: Any, **kwargs: Any) -> int:
            if self.full and path.parent == self.folder:
                self.refused += 1
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            return original(path, data, *args, **kwargs)

        monkeypatch.setattr(Path, "write_text", write_text)


class Recorder:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.records += event["Records"]
        return {"batchItemFailures": []}


@pytest.fixture
def transformer(stack: Any, tmp_path: Path) -> Iterator[tuple[Any, MappingSettings, str]]:
    """The transformer's FIFO queue (visibility timeout: 6 x its function timeout), a state folder, the signals
    queue."""
    clients, info, topology = stack
    route, queue = topology.route("transformer"), info.queues["transformer"]
    logs = tmp_path / "state" / "logs"
    logs.mkdir(parents=True)
    signals = clients.sqs.create_queue(QueueName=SIGNALS_QUEUE)["QueueUrl"]
    settings = MappingSettings(
        function_name=route.function_name,
        queue_url=queue.url,
        queue_arn=queue.arn,
        timeout_seconds=route.timeout_seconds,
        batch_size=route.batch_size,
        fifo=True,
        retry_delay_seconds=1,
        poll_wait_seconds=0,
        inflight_file=str(logs / "transformer.inflight.json"),
        signals_queue_url=signals,
        disk_probe_seconds=0,
    )
    yield clients, settings, signals


def _send(sqs: Any, url: str, body: str) -> None:
    sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="2026-04-01", MessageDeduplicationId=body)


def _visible(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_a_message_that_could_not_be_recorded_is_visible_again_at_once_and_waits_for_room(transformer, monkeypatch):
    clients, settings, _ = transformer
    sqs = clients.sqs
    handler = Recorder()
    mapping = EventSourceMapping(sqs, in_process(handler), settings)
    disk = FullDisk(monkeypatch, Path(settings.inflight_file).parent)
    _send(sqs, settings.queue_url, "raw/places/dt=2026-04-01/a.jsonl")

    mapping.poll_once()  # receives the message, cannot record it

    assert handler.records == []  # never handed to the function unrecorded
    assert _visible(sqs, settings.queue_url) == 1  # back at once, not after the queue's visibility timeout
    mapping.poll_once()  # still full: the probe fails and nothing is received (no receive spent)
    assert disk.refused == 2 and _visible(sqs, settings.queue_url) == 1

    disk.full = False
    mapping.poll_once()  # room again: the probe fits, the mapping receives and invokes

    [record] = handler.records
    assert record["body"] == "raw/places/dt=2026-04-01/a.jsonl"
    assert record["attributes"]["ApproximateReceiveCount"] == "2"  # one receive lost to the full disk, no more
    assert not Path(settings.inflight_file).exists()


def test_a_full_disk_mails_the_local_alarm_with_the_folder_its_free_bytes_and_the_fix(stack, transformer, monkeypatch):
    clients, settings, signals = transformer
    _, info, topology = stack
    from restaurant_pipeline.model.alarms import pipeline_alarms

    state_dir = Path(settings.inflight_file).parent.parent
    alarms = LocalAlarms(
        alarms=with_local_alarms(pipeline_alarms(topology), state_dir),
        sqs=clients.sqs,
        logs=[],
        state_file=state_dir / "alarms.json",
        publish=sns_publisher(clients.sns, info.topic_arn),
        region=info.region,
        signals=queued_signals(clients.sqs, signals),
        details={DISK_FULL_ALARM: free_space(state_dir)},
    )
    alarms.tick()
    mapping = EventSourceMapping(clients.sqs, in_process(Recorder()), settings)
    FullDisk(monkeypatch, Path(settings.inflight_file).parent)
    _send(clients.sqs, settings.queue_url, "raw/places/dt=2026-04-01/b.jsonl")

    mapping.poll_once()
    alarms.tick()
    drain_sns_capture(clients.sqs, info.email_capture_queue_url, Path(info.outbox_dir))

    [email] = [m for m in read_outbox(Path(info.outbox_dir)) if DISK_FULL_ALARM in m.subject]
    body = " ".join(email.body.split())
    assert email.subject == f'ALARM: "{DISK_FULL_ALARM}" in EU (Paris)'
    assert f"Free space under {state_dir}: " in body and " bytes (when this email was written)" in body
    assert f"Fix: free space under {state_dir}" in body
    assert "No space left on device" in body
    assert alarms.statuses[DISK_FULL_ALARM].state == "ALARM"


def test_a_metric_line_the_full_disk_refuses_after_an_invocation_leaves_its_outcome_applied(transformer):
    clients, settings, signals = transformer
    sqs = clients.sqs

    def report(failed: bool) -> None:  # Lambda's metric line, printed to a log on the full disk
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    handler = Recorder()
    mapping = EventSourceMapping(sqs, in_process(handler), settings, report=report)
    _send(sqs, settings.queue_url, "raw/places/dt=2026-04-01/c.jsonl")

    result = mapping.poll_once()

    assert result.succeeded == 1 and len(handler.records) == 1
    attributes = sqs.get_queue_attributes(
        QueueUrl=settings.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    [signal] = sqs.receive_message(QueueUrl=signals, WaitTimeSeconds=0).get("Messages", [])
    assert json.loads(signal["Body"])["FunctionName"] == settings.function_name
