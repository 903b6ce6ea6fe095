"""The local stack evaluates the alarms the CDK stack deploys (restaurant_pipeline/model/alarms.py) against its own
signals and mails ALARM and OK through SNS: a fake SQS and a fake publisher here, EMF lines written to a temporary logs
folder, a clock the test moves."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from restaurant_pipeline.local.alarms import LocalAlarms, Transition, alarm_email, evaluate, period_values
from restaurant_pipeline.local.emf import datapoints, lambda_metrics_line
from restaurant_pipeline.model.alarms import (
    NO_SUCCESSFUL_RUN,
    MetricAlarm,
    alarm_name,
    pipeline_alarms,
    pipeline_metric,
)
from restaurant_pipeline.model.config import PipelineConfig
from restaurant_pipeline.model.topology import build_topology
from services.common.names import METRICS_NAMESPACE, Metric

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NOTIFIER_DLQ = "restaurant-pipeline-notifier-dlq"
ALARMS = pipeline_alarms(build_topology(PipelineConfig(), bucket="bucket"))


class NoSuchQueue(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"An error occurred (AWS.SimpleQueueService.NonExistentQueue): {name}")


@dataclass
class FakeSqs:
    """The three service DLQs of the local stack, with the depth the test sets."""

    depths: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            [NOTIFIER_DLQ, "restaurant-pipeline-collector-dlq", "restaurant-pipeline-transformer-dlq.fifo"], 0
        )
    )

    def get_queue_url(self, QueueName: str) -> dict[str, str]:
        if QueueName not in self.depths:
            raise NoSuchQueue(QueueName)
        return {"QueueUrl": f"http://sqs.local/{QueueName}"}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict:
        assert AttributeNames == ["ApproximateNumberOfMessages"]  # what SQS's ...MessagesVisible metric counts
        return {"Attributes": {"ApproximateNumberOfMessages": str(self.depths[QueueUrl.rsplit("/", 1)[1]])}}


@dataclass
class Outbox:
    sent: list[tuple[str, str]] = field(default_factory=list)
    down: bool = False

    def publish(self, subject: str, message: str) -> str:
        if self.down:
            raise RuntimeError("An error occurred (NotFound) when calling the Publish operation: Topic does not exist")
        self.sent.append((subject, message))
        return f"message-{len(self.sent)}"

    def subjects(self) -> list[str]:
        return [subject for subject, _ in self.sent]


@dataclass
class Local:
    alarms: LocalAlarms
    sqs: FakeSqs
    outbox: Outbox
    logs: Path

    def emit(self, service: str, metric: str, at: datetime, value: float = 1) -> None:
        """A Powertools EMF line, as a service writes it to its log."""
        record = {
            "_aws": {
                "Timestamp": int(at.timestamp() * 1000),
                "CloudWatchMetrics": [
                    {"Namespace": METRICS_NAMESPACE, "Dimensions": [["service"]], "Metrics": [{"Name": metric}]}
                ],
            },
            "service": service,
            metric: [value],
        }
        with open(self.logs / f"{service}.log", "a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")

    def tick(self, at: datetime) -> list[Transition]:
        return self.alarms.tick(at)


def local(tmp_path: Path, period: int = 10, outbox: Outbox | None = None) -> Local:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    sqs, outbox = FakeSqs(), outbox or Outbox()
    alarms = LocalAlarms(
        alarms=ALARMS,
        sqs=sqs,
        logs=[logs / f"{service}.log" for service in ("collector", "transformer", "notifier")],
        state_file=tmp_path / "alarms.json",
        publish=outbox.publish,
        region="eu-west-3",
        local_period_seconds=period,
    )
    return Local(alarms, sqs, outbox, logs)


def test_a_message_in_a_dlq_mails_one_alarm_and_its_replay_one_ok_after_a_local_period(tmp_path):
    stack = local(tmp_path, period=10)
    stack.tick(T0)
    stack.sqs.depths[NOTIFIER_DLQ] = 1

    stack.tick(T0 + timedelta(seconds=1))
    stack.tick(T0 + timedelta(seconds=2))
    stack.sqs.depths[NOTIFIER_DLQ] = 0  # replayed
    stack.tick(T0 + timedelta(seconds=3))  # the period still holds the 1
    stack.tick(T0 + timedelta(seconds=13))

    assert stack.outbox.subjects() == [
        'ALARM: "restaurant-pipeline-notifier-dlq-not-empty" in EU (Paris)',
        'OK: "restaurant-pipeline-notifier-dlq-not-empty" in EU (Paris)',
    ]
    alarm_body = stack.outbox.sent[0][1]
    assert "dlq replay notifier" in alarm_body and "SNS topic missing" in alarm_body  # the fix and the cause
    assert "- State Change:               OK -> ALARM" in alarm_body
    assert "ApproximateNumberOfMessagesVisible" in alarm_body and "10 seconds (300 seconds on AWS)" in alarm_body
    assert "ALARM -> OK" in stack.outbox.sent[1][1]


def test_alarms_whose_signal_the_local_stack_lacks_are_listed_as_not_evaluated(tmp_path):
    stack = local(tmp_path)

    not_here = sorted(name for name, s in stack.alarms.statuses.items() if not s.evaluated_locally)

    assert not_here == sorted(
        [alarm_name(f"{s}-rule-dlq-not-empty") for s in ("collector", "transformer", "notifier")]
        + [alarm_name("schedule-dlq-not-empty")]
    )
    assert all("Not evaluated locally" in stack.alarms.statuses[name].reason for name in not_here)


def test_no_successful_run_is_silent_before_the_first_pass_fires_26_hours_after_the_last_and_clears_with_the_next(
    tmp_path,
):
    stack = local(tmp_path)
    stack.tick(T0)
    stack.tick(T0 + timedelta(hours=30))  # a fresh stack, no run yet: nothing to say
    first_pass = T0 + timedelta(hours=31)
    stack.emit("transformer", Metric.TRANSFORM_PASSED, first_pass)
    stack.tick(first_pass + timedelta(seconds=1))
    stack.tick(first_pass + timedelta(hours=25))
    assert stack.outbox.subjects() == []

    stack.tick(first_pass + timedelta(hours=26, seconds=2))
    assert stack.outbox.subjects() == [f'ALARM: "{NO_SUCCESSFUL_RUN}" in EU (Paris)']
    next_pass = first_pass + timedelta(hours=27)
    stack.emit("transformer", Metric.TRANSFORM_PASSED, next_pass)
    stack.tick(next_pass + timedelta(seconds=1))

    assert stack.outbox.subjects()[1:] == [f'OK: "{NO_SUCCESSFUL_RUN}" in EU (Paris)']
    assert "Alarm Rule:" in stack.outbox.sent[0][1]


def test_a_transformer_batch_failed_for_good_mails_its_alarm(tmp_path):
    stack = local(tmp_path)
    stack.tick(T0)
    stack.emit("transformer", Metric.DEAD_LETTERED_OBJECTS, T0 + timedelta(seconds=1))

    stack.tick(T0 + timedelta(seconds=2))
    stack.tick(T0 + timedelta(seconds=15))

    assert stack.outbox.subjects() == [
        'ALARM: "restaurant-pipeline-transformer-infrastructure-failed" in EU (Paris)',
        'OK: "restaurant-pipeline-transformer-infrastructure-failed" in EU (Paris)',
    ]


def test_an_invocation_that_fails_as_a_whole_fires_the_function_errors_alarm_and_a_good_one_does_not(tmp_path):
    stack = local(tmp_path)
    stack.tick(T0)
    log = stack.logs / "collector.log"
    log.write_text(lambda_metrics_line("restaurant-pipeline-collector", False, T0 + timedelta(seconds=1)) + "\n")
    stack.tick(T0 + timedelta(seconds=2))
    assert stack.outbox.subjects() == []

    with open(log, "a") as handle:
        handle.write(lambda_metrics_line("restaurant-pipeline-collector", True, T0 + timedelta(seconds=3)) + "\n")
    stack.tick(T0 + timedelta(seconds=4))

    assert stack.outbox.subjects() == ['ALARM: "restaurant-pipeline-collector-errors" in EU (Paris)']


def test_a_line_still_being_written_is_read_once_complete(tmp_path):
    stack = local(tmp_path)
    stack.tick(T0)
    line = lambda_metrics_line("restaurant-pipeline-notifier", True, T0 + timedelta(seconds=1))
    log = stack.logs / "notifier.log"
    log.write_text(line[:40])
    stack.tick(T0 + timedelta(seconds=2))
    assert stack.outbox.subjects() == []

    log.write_text(line + "\n")
    stack.tick(T0 + timedelta(seconds=3))

    assert stack.outbox.subjects() == ['ALARM: "restaurant-pipeline-notifier-errors" in EU (Paris)']


def test_an_alarm_email_that_sns_refuses_is_recorded_and_not_retried(tmp_path):
    outbox = Outbox(down=True)
    stack = local(tmp_path, outbox=outbox)
    stack.tick(T0)
    stack.sqs.depths[NOTIFIER_DLQ] = 1
    stack.tick(T0 + timedelta(seconds=1))
    outbox.down = False
    stack.tick(T0 + timedelta(seconds=2))

    status = stack.alarms.statuses[alarm_name("notifier-dlq-not-empty")]
    assert (status.state, outbox.sent) == ("ALARM", [])
    assert status.last_action.startswith("could not publish at 2026-03-02T08:00:01+00:00: ")
    assert "Topic does not exist" in status.last_action


def test_states_survive_a_restart_so_an_alarm_already_mailed_is_not_mailed_again(tmp_path):
    first = local(tmp_path)
    first.tick(T0)
    first.sqs.depths[NOTIFIER_DLQ] = 1
    first.tick(T0 + timedelta(seconds=1))
    assert len(first.outbox.sent) == 1

    again = local(tmp_path)
    again.sqs.depths[NOTIFIER_DLQ] = 1
    again.tick(T0 + timedelta(seconds=30))

    assert again.outbox.sent == []
    assert again.alarms.statuses[alarm_name("notifier-dlq-not-empty")].state == "ALARM"
    assert json.loads((tmp_path / "alarms.json").read_text())[alarm_name("notifier-dlq-not-empty")]["state"] == "ALARM"


@pytest.mark.parametrize(
    ("treat", "current", "expected"),
    [
        ("breaching", "OK", "ALARM"),
        ("notBreaching", "ALARM", "OK"),
        ("ignore", "OK", "OK"),
        ("ignore", "INSUFFICIENT_DATA", "INSUFFICIENT_DATA"),
        ("missing", "OK", "INSUFFICIENT_DATA"),
    ],
)
def test_with_no_data_at_all_each_missing_data_treatment_gives_cloudwatch_s_state(treat, current, expected):
    alarm = MetricAlarm(
        "a", "d", pipeline_metric("transformer", Metric.TRANSFORM_PASSED), 1, "LessThanThreshold", 3, 3, treat
    )

    state, _ = evaluate(alarm, [None, None, None], current, timedelta(minutes=5), T0)

    assert state == expected


def test_missing_points_count_as_breaching_only_when_told_and_m_of_n_is_honoured():
    def alarm(treat: str) -> MetricAlarm:
        return MetricAlarm(
            "a", "d", pipeline_metric("t", Metric.TRANSFORM_ERROR), 1, "GreaterThanOrEqualToThreshold", 3, 2, treat
        )

    assert evaluate(alarm("notBreaching"), [None, 2.0, None], "OK", timedelta(seconds=10), T0)[0] == "OK"
    assert evaluate(alarm("breaching"), [None, 0.0, None], "OK", timedelta(seconds=10), T0)[0] == "ALARM"
    assert evaluate(alarm("notBreaching"), [1.0, 0.0, 3.0], "OK", timedelta(seconds=10), T0)[0] == "ALARM"


def test_period_values_bucket_points_by_the_period_ending_now_with_the_alarm_s_statistic():
    points = [(T0 - timedelta(seconds=25), 1.0), (T0 - timedelta(seconds=15), 2.0), (T0 - timedelta(seconds=12), 5.0)]

    assert period_values(points, "Sum", timedelta(seconds=10), 3, T0) == [1.0, 7.0, None]
    assert period_values(points, "Maximum", timedelta(seconds=10), 3, T0) == [1.0, 5.0, None]


def test_every_alarm_email_subject_is_what_sns_accepts():
    for alarm in ALARMS.all:
        for old, new in (("OK", "ALARM"), ("ALARM", "OK")):
            subject, body = alarm_email(Transition(alarm, old, new, "because", T0), "eu-west-3", 10)
            assert subject.isascii() and len(subject) <= 100 and "\n" not in subject, subject
            assert alarm.description in body


def test_powertools_emf_lines_become_one_data_point_per_value():
    record = {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": "EmailsSent", "Unit": "Count"}, {"Name": "NotificationFailures"}],
                }
            ],
        },
        "service": "notifier",
        "EmailsSent": [1.0, 1.0],
        "NotificationFailures": 1,
    }

    points = datapoints(record)

    assert [(p.name, p.value, p.dimensions) for p in points] == [
        ("EmailsSent", 1.0, (("service", "notifier"),)),
        ("EmailsSent", 1.0, (("service", "notifier"),)),
        ("NotificationFailures", 1.0, (("service", "notifier"),)),
    ]
    assert datapoints({"message": "not a metric"}) == []


def test_a_long_running_stack_keeps_only_the_samples_its_alarms_read(tmp_path):
    stack = local(tmp_path, period=10)
    stack.emit("notifier", Metric.EMAILS_SENT, T0)  # no alarm reads it

    for second in range(600):
        stack.tick(T0 + timedelta(seconds=second))

    kept = {key[1]: len(points) for key, points in stack.alarms._points.items()}
    assert kept["ApproximateNumberOfMessagesVisible"] <= 11  # one 10 s period of 1 s samples, per queue
    assert kept.get(Metric.EMAILS_SENT, 0) == 0
