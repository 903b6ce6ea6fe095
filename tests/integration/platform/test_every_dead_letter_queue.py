"""`dlq list` and `dlq replay` know every dead-letter queue of the stack, on a real moto server: each service's,
each rule target's (the events EventBridge could not deliver) and the schedule's (the runs the Scheduler could not
start), locally and with --aws. Messages are put in each DLQ in the shape AWS documents, then replayed to where they
belong."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from contracts.events import CollectionRequested
from restaurant_pipeline import cli
from restaurant_pipeline.local.alarms import LocalAlarms
from restaurant_pipeline.local.stack import StatePaths
from restaurant_pipeline.model.alarms import alarm_name, pipeline_alarms
from restaurant_pipeline.model.stack_outputs import (
    OUTPUT_SCHEDULE_DLQ,
    REQUIRED_OUTPUTS,
    STACK_NAME,
    output_key,
)
from restaurant_pipeline.model.topology import TRANSFORMER_MESSAGE_GROUP
from restaurant_pipeline.operations import DLQ_NAMES
from tests.conftest import load_event
from tests.integration.platform.conftest import CLI, REPO_ROOT, stack_client

pytestmark = pytest.mark.integration

RULE_ARN = "arn:aws:events:eu-west-3:123456789012:rule/restaurant-pipeline/restaurant-pipeline-to-collector"


def string_attributes(**values: str) -> dict[str, dict[str, str]]:
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


def rule_dead_letter(sqs: Any, dlq_url: str, event: dict[str, Any], target_arn: str) -> None:
    """What EventBridge puts in a rule target's DLQ: the event, with the attributes its guide lists
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html)."""
    sqs.send_message(
        QueueUrl=dlq_url,
        MessageBody=json.dumps(event),
        MessageAttributes=string_attributes(
            RULE_ARN=RULE_ARN,
            TARGET_ARN=target_arn,
            ERROR_CODE="NO_PERMISSIONS",
            ERROR_MESSAGE="Access to the queue was denied",
            RETRY_ATTEMPTS="0",
        ),
    )


def schedule_dead_letter(sqs: Any, dlq_url: str, body: str, execution_id: str, truncated: str = "false") -> None:
    """What the Scheduler puts in its DLQ: a JSON payload and the attributes of its guide's example
    (https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html)."""
    sqs.send_message(
        QueueUrl=dlq_url,
        MessageBody=body,
        MessageAttributes=string_attributes(
            ERROR_CODE="AWS.EventBridge.AccessDeniedException",
            ERROR_MESSAGE="not authorized to perform: events:PutEvents",
            EXECUTION_ID=execution_id,
            EXHAUSTED_RETRY_CONDITION="MaximumRetryAttempts",
            IS_PAYLOAD_TRUNCATED=truncated,
            RETRY_ATTEMPTS="3",
            SCHEDULED_TIME="2026-03-14T08:00:00Z",
            SCHEDULE_ARN="arn:aws:scheduler:eu-west-3:123456789012:schedule/default/restaurant-pipeline-daily",
            TARGET_ARN="arn:aws:events:eu-west-3:123456789012:event-bus/restaurant-pipeline",
        ),
    )


def depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return received
        received += batch


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli.app, list(args), env={"COLUMNS": "400"})


@pytest.fixture
def local(stack, tmp_path):
    """The provisioned local stack, as the CLI finds it (its stack.json)."""
    clients, info, topology = stack
    state = StatePaths(tmp_path / "state")
    state.make()
    state.stack_file.write_text(info.to_json(), encoding="utf-8")
    return clients, info, topology, str(state.root)


def test_dlq_list_shows_every_dead_letter_queue_of_the_local_stack_with_its_depth(local):
    clients, info, _, state_dir = local
    rule_dead_letter(
        clients.sqs,
        info.queues["transformer"].rule_dlq_url,
        load_event("transformer_s3_object_created_aws.json"),
        info.queues["transformer"].arn,
    )
    schedule_dead_letter(clients.sqs, info.schedule_dlq_url, '{"cities":["Paris"],"trigger_source":"schedule"}', "e1")
    schedule_dead_letter(clients.sqs, info.schedule_dlq_url, '{"cities":["Lyon"],"trigger_source":"schedule"}', "e2")

    result = invoke("dlq", "list", "--json", "--state-dir", state_dir)

    assert result.exit_code == 0, result.output
    listed = {row["name"]: row for row in json.loads(result.stdout)}
    assert sorted(listed) == sorted(DLQ_NAMES)
    assert {name: row["messages"] for name, row in listed.items()} == {
        **dict.fromkeys(DLQ_NAMES, 0),
        "transformer-rule": 1,
        "schedule": 2,
    }
    assert listed["transformer-rule"]["dlq_url"].endswith("/restaurant-pipeline-transformer-rule-dlq")
    assert listed["transformer-rule"]["replays_to"] == info.queues["transformer"].url
    assert listed["schedule"]["replays_to"] == info.event_bus and listed["schedule"]["kind"] == "schedule"
    assert "could not deliver" in listed["notifier-rule"]["purpose"]
    table = invoke("dlq", "list", "--state-dir", state_dir)
    assert table.exit_code == 0 and "transformer-rule" in table.output and "schedule" in table.output


def test_a_rule_dlq_replay_sends_each_event_to_the_queue_its_rule_targets(local):
    clients, info, _, state_dir = local
    s3_event = load_event("transformer_s3_object_created_aws.json")
    request_body = load_event("collector_sqs_collection_requested.json")["Records"][0]["body"]
    transformer, collector = info.queues["transformer"], info.queues["collector"]
    rule_dead_letter(clients.sqs, transformer.rule_dlq_url, s3_event, transformer.arn)
    rule_dead_letter(clients.sqs, collector.rule_dlq_url, json.loads(request_body), collector.arn)

    dry = invoke("dlq", "replay", "transformer-rule", "--dry-run", "--state-dir", state_dir)
    assert dry.exit_code == 0 and "1 message(s) would go from" in dry.output
    assert depth(clients.sqs, transformer.rule_dlq_url) == 1 and depth(clients.sqs, transformer.url) == 0

    replayed = [
        invoke("dlq", "replay", f"{s}-rule", "--json", "--state-dir", state_dir) for s in ("transformer", "collector")
    ]

    assert [r.exit_code for r in replayed] == [0, 0], [r.output for r in replayed]
    assert [json.loads(r.stdout)["moved"] for r in replayed] == [1, 1]
    assert depth(clients.sqs, transformer.rule_dlq_url) == 0 and depth(clients.sqs, collector.rule_dlq_url) == 0
    (fifo,) = receive_all(clients.sqs, transformer.url)
    assert json.loads(fifo["Body"]) == s3_event  # the event itself, as the rule would have delivered it
    assert fifo["Attributes"]["MessageGroupId"] == TRANSFORMER_MESSAGE_GROUP
    assert fifo["Attributes"]["MessageDeduplicationId"] == s3_event["id"]
    assert "MessageAttributes" not in fifo  # EventBridge's failure attributes stay behind
    (standard,) = receive_all(clients.sqs, collector.url)
    assert standard["Body"] == request_body


def test_a_schedule_dlq_replay_puts_each_failed_run_on_the_bus_and_leaves_what_it_cannot_read(local):
    clients, info, _, state_dir = local
    detail = {"cities": ["Paris", "Lyon"], "trigger_source": "schedule"}
    bodies = {
        "detail": json.dumps(detail),  # the schedule's input
        "entry": json.dumps({"Detail": json.dumps(detail), "DetailType": "Collection Requested"}),
        "request": json.dumps({"Entries": [{"Detail": json.dumps(detail), "Source": "restaurant-pipeline.scheduler"}]}),
    }
    for execution, body in bodies.items():
        schedule_dead_letter(clients.sqs, info.schedule_dlq_url, body, execution)
    schedule_dead_letter(clients.sqs, info.schedule_dlq_url, '{"cities": ["Par', "cut", truncated="true")

    result = invoke("dlq", "replay", "schedule", "--state-dir", state_dir)

    assert result.exit_code == 1, result.output  # one message left: it says which and what to do
    assert "Moved 3 message(s) back to the bus restaurant-pipeline (put-events)" in result.output
    assert "1 message(s) left" in result.output and "IS_PAYLOAD_TRUNCATED" in result.output
    assert "restaurant-pipeline run" in result.output
    assert depth(clients.sqs, info.schedule_dlq_url) == 1
    events = [json.loads(m["Body"]) for m in receive_all(clients.sqs, info.queues["collector"].url)]
    assert [(e["detail-type"], e["source"]) for e in events] == [
        ("Collection Requested", "restaurant-pipeline.cli")
    ] * 3
    requests = [CollectionRequested.parse_detail(e["detail"]) for e in events]
    assert {(tuple(r.cities), r.trigger_source) for r in requests} == {(("Paris", "Lyon"), "replay")}
    run_ids = sorted(str(r.run_id) for r in requests)
    assert all(run_id.startswith("replay-20260314T080000Z-") for run_id in run_ids) and len(set(run_ids)) == 3
    assert all(run_id in result.output for run_id in run_ids)


def test_replaying_a_service_dlq_by_its_service_name_still_works(local):
    clients, info, _, state_dir = local
    clients.sqs.send_message(QueueUrl=info.queues["notifier"].dlq_url, MessageBody='{"parked": true}')

    result = invoke("dlq", "replay", "notifier", "--state-dir", state_dir)

    assert result.exit_code == 0, result.output
    assert [m["Body"] for m in receive_all(clients.sqs, info.queues["notifier"].url)] == ['{"parked": true}']


def test_an_unknown_dlq_name_is_refused_with_the_names_it_takes(local):
    result = invoke("dlq", "replay", "collector-rules", "--state-dir", local[3])

    assert result.exit_code == 1
    assert "unknown dead-letter queue 'collector-rules'" in result.output and "transformer-rule" in result.output


def test_the_aws_mode_finds_every_dlq_in_the_stack_outputs_and_replays_a_rule_dlq(local, monkeypatch):
    """moto's CloudFormation stands in for the deployed stack; its outputs name the queues on the same moto server."""
    clients, info, _, _ = local
    for name in ("PIPELINE_STATE_DIR", "PIPELINE__AWS__REGION"):
        monkeypatch.delenv(name, raising=False)
    outputs = {key: f"value-of-{key}" for key in REQUIRED_OUTPUTS}
    for service, queue in info.queues.items():
        outputs[output_key(service, "QueueUrl")] = queue.url
        outputs[output_key(service, "DlqUrl")] = queue.dlq_url
        outputs[output_key(service, "RuleDlqUrl")] = queue.rule_dlq_url
    outputs[OUTPUT_SCHEDULE_DLQ] = info.schedule_dlq_url
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName=STACK_NAME, TemplateBody=json.dumps(template))
    notifier = info.queues["notifier"]
    rule_dead_letter(clients.sqs, notifier.rule_dlq_url, load_event("notifier_transform_passed.json"), notifier.arn)

    listed = invoke("dlq", "list", "--aws", "--json")
    replayed = invoke("dlq", "replay", "notifier-rule", "--aws")

    assert listed.exit_code == 0, listed.output
    rows = {row["name"]: row["messages"] for row in json.loads(listed.stdout)}
    assert sorted(rows) == sorted(DLQ_NAMES) and rows["notifier-rule"] == 1
    assert replayed.exit_code == 0, replayed.output
    assert depth(clients.sqs, notifier.rule_dlq_url) == 0 and depth(clients.sqs, notifier.url) == 1


def test_the_local_alarms_watch_the_rule_and_schedule_dlqs_too_and_name_the_replay(stack, tmp_path):
    clients, info, topology = stack
    alarms = LocalAlarms(
        alarms=pipeline_alarms(topology),
        sqs=clients.sqs,
        logs=[],
        state_file=tmp_path / "alarms.json",
        publish=lambda subject, message: "sent",
        region=info.region,
        local_period_seconds=5,
    )
    now = datetime.now(UTC)
    alarms.tick(now)
    schedule_dead_letter(clients.sqs, info.schedule_dlq_url, '{"cities":["Paris"]}', "e1")

    alarms.tick(now + timedelta(seconds=1))

    assert [name for name, status in alarms.statuses.items() if not status.evaluated_locally] == []
    schedule_alarm = alarm_name("schedule-dlq-not-empty")
    assert alarms.statuses[schedule_alarm].state == "ALARM"
    described = {alarm.name: alarm.description for alarm in alarms.alarms.metric_alarms}
    assert "restaurant-pipeline dlq replay schedule" in described[schedule_alarm]
    assert "restaurant-pipeline dlq replay transformer-rule" in described[alarm_name("transformer-rule-dlq-not-empty")]


def test_the_local_stack_keeps_the_rule_and_schedule_dlq_messages_across_down_and_up(stack_env):
    """`local up` creates them, `local down` saves their messages, the next `local up` puts them back."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*CLI, *args], env=stack_env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
        return result

    def listed() -> dict[str, dict[str, Any]]:
        return {row["name"]: row for row in json.loads(run("dlq", "list", "--json").stdout)}

    run("local", "up", "--detach", "--no-scheduler")
    before = listed()
    sqs = stack_client(stack_env, "sqs")
    rule_dead_letter(sqs, before["notifier-rule"]["dlq_url"], load_event("notifier_transform_passed.json"), "arn")
    schedule_dead_letter(sqs, before["schedule"]["dlq_url"], '{"cities":["Paris"]}', "e1")

    run("local", "down")
    run("local", "up", "--detach", "--no-scheduler")
    after = listed()

    assert sorted(after) == sorted(DLQ_NAMES)
    assert {name: row["messages"] for name, row in after.items() if row["messages"]} == {
        "notifier-rule": 1,
        "schedule": 1,
    }


def test_audit_counts_the_messages_of_the_rule_and_schedule_dlqs_too(local):
    clients, info, _, state_dir = local
    schedule_dead_letter(clients.sqs, info.schedule_dlq_url, '{"cities":["Paris"],"trigger_source":"schedule"}', "e1")

    result = invoke("audit", "--json", "--state-dir", state_dir)

    assert result.exit_code == 1, result.output  # a finding, not the audit's own failure (2)
    [finding] = json.loads(result.stdout)["findings"]["messages in dead-letter queues"]
    assert finding.startswith("schedule: 1 message(s)") and "`restaurant-pipeline dlq replay schedule`" in finding
