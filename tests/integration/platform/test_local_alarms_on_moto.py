"""The local alarms against moto's server: the depth of a real dead-letter queue fires the declared alarm, whose
email goes through the local SNS topic into the outbox, and clears with an OK email once the queue is empty."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from restaurant_pipeline.local.alarms import LocalAlarms, sns_publisher
from restaurant_pipeline.local.outbox import drain_sns_capture, read_outbox
from restaurant_pipeline.model.alarms import alarm_name, pipeline_alarms


def test_a_message_in_the_notifier_dlq_reaches_the_outbox_as_an_alarm_email_then_an_ok_email(stack, tmp_path):
    clients, info, topology = stack
    logs = tmp_path / "logs"
    logs.mkdir()
    alarms = LocalAlarms(
        alarms=pipeline_alarms(topology),
        sqs=clients.sqs,
        logs=[logs / f"{service}.log" for service in ("collector", "transformer", "notifier")],
        state_file=tmp_path / "alarms.json",
        publish=sns_publisher(clients.sns, info.topic_arn),
        region=info.region,
        local_period_seconds=5,
    )
    outbox = Path(info.outbox_dir)
    now = datetime.now(UTC)
    alarms.tick(now)
    clients.sqs.send_message(QueueUrl=info.queues["notifier"].dlq_url, MessageBody='{"parked": true}')

    alarms.tick(now + timedelta(seconds=1))
    drain_sns_capture(clients.sqs, info.email_capture_queue_url, outbox)
    clients.sqs.purge_queue(QueueUrl=info.queues["notifier"].dlq_url)
    alarms.tick(now + timedelta(seconds=7))
    drain_sns_capture(clients.sqs, info.email_capture_queue_url, outbox)

    emails = read_outbox(outbox)
    name = alarm_name("notifier-dlq-not-empty")
    assert [m.subject for m in emails] == [f'ALARM: "{name}" in EU (Paris)', f'OK: "{name}" in EU (Paris)']
    assert "restaurant-pipeline dlq replay notifier" in emails[0].body
    assert alarms.statuses[name].last_action.startswith("published ")
