"""The local stack's alarms: the declarations the CDK stack deploys (restaurant_pipeline/model/alarms.py), evaluated
here against local signals, and mailed through the local SNS topic (so into the outbox) when one fires and when it
clears.

Signals: each dead-letter queue's ApproximateNumberOfMessagesVisible, sampled from the local SQS endpoint at every
evaluation; every other metric from the EMF lines in .pipeline/logs (the services' Powertools metrics, and Lambda's
Invocations and Errors that the event source mapping emulation writes: emf.py).

Evaluation follows CloudWatch's settings (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
alarms-and-missing-data.html), with these local choices, on purpose:
- an alarm that watches events (a DLQ not empty, a failure metric) uses the short local period (`--alarm-period`,
  10 s by default) instead of its AWS period (5 minutes), so that an email follows a failure within seconds;
  a heartbeat ("no successful run in 26 h") keeps its AWS period: the local schedule is daily too;
- the periods slide with the clock (the newest ends now) and are evaluated every second;
- with missing data `ignore`/`missing` and only some points missing, only the real points are evaluated (CloudWatch
  looks further back first: see the page above);
- an OK email is sent when an alarm clears (ALARM -> OK). CloudWatch also runs OK actions when a new alarm first
  leaves INSUFFICIENT_DATA (PutMetricAlarm's OKActions: "when this alarm transitions to an OK state from any other
  state"), which the local stack, started far more often than a stack is deployed, does not;
- a publish that fails (the topic deleted) is logged and not retried, as CloudWatch does not retry its actions.
An alarm whose queue does not exist locally (a stack started by a version that did not create the rule-target and
schedule DLQs) stays INSUFFICIENT_DATA with the reason. The states are kept in .pipeline/alarms.json, across restarts.

One alarm is the local stack's own, with no AWS counterpart: `restaurant-pipeline-local-disk-full`
(`disk_full_alarm`). Its signal is the StateDiskFull metric line an event source mapping sends when it cannot record a
received message under the state folder (esm.py). A full disk cannot take that line in a log, so it travels through a
queue of the local SQS (`SIGNALS_QUEUE`, in memory), which `queued_signals` drains at each evaluation. Its emails say
how many bytes are free under the state folder when they are written (`details`). While the disk is full the outbox
cannot write the email either: it waits in the SNS capture queue and lands once there is room.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from restaurant_pipeline.local.emf import Datapoint, LogTail, datapoints
from restaurant_pipeline.local.esm import DISK_FULL_METRIC, DISK_PROBE_SECONDS, POLLER_NAMESPACE
from restaurant_pipeline.model.alarms import (
    EVENT_PERIOD_SECONDS,
    Alarm,
    Alarms,
    AlarmState,
    CompositeAlarm,
    MetricAlarm,
    MetricSpec,
    alarm_name,
)
from services.common.names import QUEUE_DEPTH, SQS_NAMESPACE

log = logging.getLogger(__name__)

DEFAULT_LOCAL_PERIOD_SECONDS = 10
EVALUATION_INTERVAL_SECONDS = 1.0
SUBJECT_LIMIT = 100  # SNS: ASCII, at most 100 characters, one line
COMPARISON_WORDS = {
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
}
# The queue attribute behind SQS's ApproximateNumberOfMessagesVisible metric ("messages available for retrieval"):
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
VISIBLE_MESSAGES_ATTRIBUTE = "ApproximateNumberOfMessages"
MetricKey = tuple[str, str, tuple[tuple[str, str], ...]]
Publish = Callable[[str, str], str]  # (subject, message) -> SNS MessageId


def metric_key(spec: MetricSpec) -> MetricKey:
    return spec.namespace, spec.name, tuple(sorted(spec.dimensions))


@dataclass
class AlarmStatus:
    state: AlarmState = "INSUFFICIENT_DATA"
    reason: str = "Unchecked: the alarm has just started."
    changed_at: str = ""
    evaluated_locally: bool = True
    last_action: str = ""  # the last email: its SNS MessageId, or why it could not be published


@dataclass(frozen=True)
class Transition:
    alarm: Alarm
    old: AlarmState
    new: AlarmState
    reason: str
    at: datetime


# -- evaluation (pure) -------------------------------------------------------------------------------------------------
def period_values(
    points: Iterable[tuple[datetime, float]], statistic: str, period: timedelta, count: int, now: datetime
) -> list[float | None]:
    """The statistic of each of the last `count` periods, oldest first, the newest ending at `now`; None = no data."""
    buckets: list[list[float]] = [[] for _ in range(count)]
    start = now - count * period
    for at, value in points:
        if start <= at <= now:
            index = min(count - 1, int((at - start) / period))
            buckets[index].append(value)
    return [(max(b) if statistic == "Maximum" else sum(b)) if b else None for b in buckets]


def evaluate(
    alarm: MetricAlarm, values: list[float | None], current: AlarmState, period: timedelta, now: datetime
) -> tuple[AlarmState, str]:
    """The state the alarm's settings give these period values, and CloudWatch's kind of reason."""
    real = [v for v in values if v is not None]
    threshold = f"the threshold ({alarm.threshold:.1f})"
    if not real:
        treated: dict[str, AlarmState] = {"breaching": "ALARM", "notBreaching": "OK", "missing": "INSUFFICIENT_DATA"}
        state = treated.get(alarm.treat_missing_data, current)
        words = {"breaching": "breaching", "notBreaching": "not breaching", "ignore": "ignored"}.get(
            alarm.treat_missing_data, "missing"
        )
        return state, (
            f"Threshold Crossed: no datapoints were received for {alarm.evaluation_periods} period(s) and "
            f"{alarm.evaluation_periods} missing datapoint(s) were treated as [{words.capitalize()}]."
            if alarm.treat_missing_data != "missing"
            else "Insufficient Data: no datapoints were received in the evaluation range."
        )
    breaching = sum(
        1
        for v in values
        if (v is None and alarm.treat_missing_data == "breaching") or (v is not None and alarm.breaches(v))
    )
    state = "ALARM" if breaching >= alarm.datapoints_to_alarm else "OK"
    newest = [(v, now - (len(values) - 1 - i) * period) for i, v in enumerate(values) if v is not None][
        -alarm.evaluation_periods :
    ]
    shown = ", ".join(f"{v:.1f} ({at:%d/%m/%y %H:%M:%S})" for v, at in reversed(newest))
    comparison = COMPARISON_WORDS[alarm.comparison]
    counted = breaching if state == "ALARM" else len(values) - breaching
    verb = ("was" if counted == 1 else "were") + ("" if state == "ALARM" else " not")
    verdict = f"{counted} out of the last {alarm.evaluation_periods} datapoints [{shown}] {verb} {comparison}"
    transition = "OK -> ALARM" if state == "ALARM" else "ALARM -> OK"
    return state, (
        f"Threshold Crossed: {verdict} {threshold} (minimum {alarm.datapoints_to_alarm} datapoint(s) for "
        f"{transition} transition)."
    )


def evaluate_composite(alarm: CompositeAlarm, states: dict[str, AlarmState]) -> tuple[AlarmState, str]:
    held = [(state, name) for state, name in alarm.all_of if states.get(name) == state]
    if len(held) == len(alarm.all_of):
        return "ALARM", f"Rule {alarm.rule} holds: " + ", ".join(f"{n} is {s}" for s, n in held) + "."
    unmet = [
        f"{name} is {states.get(name, 'INSUFFICIENT_DATA')}"
        for state, name in alarm.all_of
        if (state, name) not in held
    ]
    return "OK", f"Rule {alarm.rule} does not hold: " + ", ".join(unmet) + "."


# -- the email ---------------------------------------------------------------------------------------------------------
@cache
def region_name(region: str) -> str:
    """'EU (Paris)'-style, as CloudWatch names a region in its alarm emails (botocore's region descriptions)."""
    from botocore.loaders import Loader

    regions = Loader().load_data("endpoints")["partitions"][0]["regions"]
    description = str(regions.get(region, {}).get("description", region))
    return description.replace("Europe (", "EU (")


def alarm_email(transition: Transition, region: str, period_seconds: int | None, details: str = "") -> tuple[str, str]:
    """(subject, body) of the notification, worded after CloudWatch's: the subject is `ALARM: "name" in Region`.
    `details`: what the local stack measured when it wrote the email (a local alarm's own facts)."""
    alarm, where = transition.alarm, region_name(region)
    name = alarm.name
    subject = f'{transition.new}: "{name}" in {where}'
    if len(subject) > SUBJECT_LIMIT:
        subject = subject[: SUBJECT_LIMIT - 3] + "..."
    at = transition.at.astimezone(UTC)
    lines = [
        f'You are receiving this email because your alarm "{name}" in the {where} region has entered the '
        f'{transition.new} state, because "{transition.reason}" at "{at:%A %d %B, %Y %H:%M:%S} UTC".',
        "(Local stack: evaluated from the alarm definitions CloudWatch uses, restaurant_pipeline/model/alarms.py.)",
        "",
        "Alarm Details:",
        f"- Name:                       {name}",
        f"- Description:                {alarm.description}",
        f"- State Change:               {transition.old} -> {transition.new}",
        f"- Reason for State Change:    {transition.reason}",
        f"- Timestamp:                  {at:%A %d %B, %Y %H:%M:%S} UTC",
        "",
    ]
    if details:
        lines += ["Local Details:", *(f"- {line}" for line in details.splitlines()), ""]
    if isinstance(alarm, MetricAlarm):
        metric, period = alarm.metric, period_seconds or alarm.metric.period_seconds
        lines += [
            "Threshold:",
            f"- The alarm is in the ALARM state when the metric is {alarm.comparison} {alarm.threshold:.1f} for "
            f"{alarm.datapoints_to_alarm} of the last {alarm.evaluation_periods} period(s) of {period} seconds"
            + (f" ({alarm.metric.period_seconds} seconds on AWS)." if period != alarm.metric.period_seconds else "."),
            "",
            "Monitored Metric:",
            f"- MetricNamespace:            {metric.namespace}",
            f"- MetricName:                 {metric.name}",
            f"- Dimensions:                 [{', '.join(f'{k} = {v}' for k, v in metric.dimensions)}]",
            f"- Period:                     {period} seconds",
            f"- Statistic:                  {metric.statistic}",
            f"- TreatMissingData:           {alarm.treat_missing_data}",
        ]
    else:
        lines += ["Alarm Rule:", f"- {alarm.rule}"]
    return subject, "\n".join(lines) + "\n"


# -- the evaluator -----------------------------------------------------------------------------------------------------
@dataclass
class LocalAlarms:
    """Evaluates every declared alarm at each `tick`; mails ALARM and ALARM -> OK transitions of those that notify."""

    alarms: Alarms
    sqs: Any
    logs: list[Path]  # the services' logs (.pipeline/logs/<service>.log), where their metric lines land
    state_file: Path
    publish: Publish
    region: str
    local_period_seconds: int = DEFAULT_LOCAL_PERIOD_SECONDS
    # Data points that reach the evaluator another way than a log (the signals queue: `queued_signals`).
    signals: Callable[[], Iterable[Datapoint]] | None = None
    # Per alarm name: facts measured when its email is written (the free bytes of `disk_full_alarm`).
    details: dict[str, Callable[[], str]] = field(default_factory=dict)
    statuses: dict[str, AlarmStatus] = field(default_factory=dict)
    _queues: dict[str, str] = field(default_factory=dict)
    _points: dict[MetricKey, deque[tuple[datetime, float]]] = field(default_factory=lambda: defaultdict(deque))
    _tail: LogTail | None = None
    _windows: dict[MetricKey, int] = field(default_factory=dict)  # seconds of data each metric's alarms read

    def __post_init__(self) -> None:
        if self.local_period_seconds < 1:
            raise ValueError("the local alarm period must be at least 1 second")
        self._tail = LogTail(self.logs)
        for alarm in self.alarms.metric_alarms:
            key, window = metric_key(alarm.metric), self.period(alarm) * alarm.evaluation_periods
            self._windows[key] = max(self._windows.get(key, 0), window)
        self.statuses = {alarm.name: AlarmStatus() for alarm in self.alarms.all}
        self._restore()
        for alarm in self.alarms.metric_alarms:
            missing = self._missing_signal(alarm)
            if missing:
                self.statuses[alarm.name] = AlarmStatus(
                    reason=f"Not evaluated locally: {missing}", evaluated_locally=False
                )

    # the signals
    def _missing_signal(self, alarm: MetricAlarm) -> str | None:
        queue = alarm.metric.dimension("QueueName")
        if alarm.metric.namespace != SQS_NAMESPACE or not queue:
            return None
        if queue not in self._queues:
            try:
                self._queues[queue] = str(self.sqs.get_queue_url(QueueName=queue)["QueueUrl"])
            except Exception as exc:
                if "NonExistentQueue" not in str(exc) and "QueueDoesNotExist" not in str(exc):
                    raise
                return f"there is no queue {queue} in the local stack (AWS only)."
        return None

    def period(self, alarm: MetricAlarm) -> int:
        return self.local_period_seconds if alarm.scaled_locally else alarm.metric.period_seconds

    def _collect(self, now: datetime) -> None:
        assert self._tail is not None
        for point in self._tail.read():
            self._add(point)
        for point in self.signals() if self.signals else ():
            self._add(point)
        for queue, url in self._queues.items():
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[VISIBLE_MESSAGES_ATTRIBUTE])
            key: MetricKey = (SQS_NAMESPACE, QUEUE_DEPTH, (("QueueName", queue),))
            self._points[key].append((now, float(attributes["Attributes"][VISIBLE_MESSAGES_ATTRIBUTE])))
        for key, points in self._points.items():  # keep what the longest alarm on each metric reads, no more
            horizon = now - timedelta(seconds=self._windows.get(key, 0))
            while points and points[0][0] < horizon:
                points.popleft()

    def _add(self, point: Datapoint) -> None:
        key: MetricKey = (point.namespace, point.name, point.dimensions)
        self._points[key].append((point.at, point.value))

    # evaluation
    def tick(self, now: datetime | None = None) -> list[Transition]:
        now = now or datetime.now(UTC)
        self._collect(now)
        transitions: list[Transition] = []
        for alarm in self.alarms.metric_alarms:
            status = self.statuses[alarm.name]
            if not status.evaluated_locally:
                continue
            period = timedelta(seconds=self.period(alarm))
            points = self._points.get(metric_key(alarm.metric), ())
            values = period_values(points, alarm.metric.statistic, period, alarm.evaluation_periods, now)
            state, reason = evaluate(alarm, values, status.state, period, now)
            transitions += self._move(alarm, state, reason, now)
        states = {name: status.state for name, status in self.statuses.items()}
        for composite in self.alarms.composites:
            state, reason = evaluate_composite(composite, states)
            transitions += self._move(composite, state, reason, now)
        for transition in transitions:
            self._notify(transition)
        if transitions:
            self.save()
        return transitions

    def _move(self, alarm: Alarm, state: AlarmState, reason: str, now: datetime) -> list[Transition]:
        status = self.statuses[alarm.name]
        if state == status.state:
            return []
        transition = Transition(alarm, status.state, state, reason, now)
        status.state, status.reason, status.changed_at = state, reason, now.isoformat(timespec="seconds")
        log.info("alarm %s: %s -> %s (%s)", alarm.name, transition.old, state, reason)
        return [transition]

    def _notify(self, transition: Transition) -> None:
        alarm = transition.alarm
        fires, clears = transition.new == "ALARM", (transition.old, transition.new) == ("ALARM", "OK")
        if not alarm.notifies or not (fires or clears):
            return
        period = self.period(alarm) if isinstance(alarm, MetricAlarm) else None
        details = self.details.get(alarm.name)
        subject, body = alarm_email(transition, self.region, period, details() if details else "")
        status = self.statuses[alarm.name]
        try:
            status.last_action = f"published {self.publish(subject, body)}"
        except Exception as exc:  # CloudWatch does not retry a failed action either
            status.last_action = f"could not publish at {transition.at.isoformat(timespec='seconds')}: {exc}"
            log.error("alarm %s: could not publish the %s email: %s", alarm.name, transition.new, exc)

    # state across restarts
    def _restore(self) -> None:
        try:
            saved = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return
        for name, status in saved.items():
            if name in self.statuses and isinstance(status, dict):
                try:
                    self.statuses[name] = AlarmStatus(**status)
                except TypeError:
                    continue

    def save(self) -> None:
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(
            json.dumps({name: asdict(s) for name, s in self.statuses.items()}, indent=2, sort_keys=True) + "\n",
            encoding="utf-8",
        )
        temporary.replace(self.state_file)


def sns_publisher(sns: Any, topic_arn: str) -> Publish:
    def publish(subject: str, message: str) -> str:
        return str(sns.publish(TopicArn=topic_arn, Subject=subject, Message=message)["MessageId"])

    return publish


# -- the local stack's own alarm: the state folder's disk is full ------------------------------------------------------
SIGNALS_QUEUE = "restaurant-pipeline-local-signals"
DISK_FULL_ALARM = alarm_name("local-disk-full")


def disk_full_alarm(state_dir: Path) -> MetricAlarm:
    """In ALARM while an event source mapping cannot record what it receives under `state_dir` (ENOSPC/EDQUOT)."""
    return MetricAlarm(
        name=DISK_FULL_ALARM,
        description="The disk that holds the local stack's state folder is full (No space left on device): an "
        "event source mapping could not record a message it received there. It gave the message back to its queue "
        "at once (nothing lost or dead-lettered) and receives nothing until it can write there again: the pipeline "
        "waits, and logs, the warehouse and the outbox cannot be written either. Fix: free space under "
        f"{state_dir} (or on its disk), then the mappings resume by themselves within {DISK_PROBE_SECONDS:.0f} s "
        "and the waiting emails reach the outbox. OK once no mapping has found the disk full for a period. "
        "(Local stack only.)",
        metric=MetricSpec(POLLER_NAMESPACE, DISK_FULL_METRIC, (), "Sum", EVENT_PERIOD_SECONDS),
        threshold=1,
        comparison="GreaterThanOrEqualToThreshold",
        evaluation_periods=1,
        datapoints_to_alarm=1,
        treat_missing_data="notBreaching",
    )


def with_local_alarms(alarms: Alarms, state_dir: Path) -> Alarms:
    """The deployed stack's alarms plus the local stack's own."""
    return Alarms(metric_alarms=(*alarms.metric_alarms, disk_full_alarm(state_dir)), composites=alarms.composites)


def free_space(state_dir: Path) -> Callable[[], str]:
    """The free bytes under the state folder, as the disk-full email states them."""

    def measure() -> str:
        try:
            free = shutil.disk_usage(state_dir).free
        except OSError as exc:
            return f"Free space under {state_dir}: unknown ({exc})"
        return f"Free space under {state_dir}: {free:,} bytes (when this email was written)"

    return measure


def queued_signals(sqs: Any, queue_url: str) -> Callable[[], list[Datapoint]]:
    """Drain the signals queue: each message is one EMF line (esm.disk_full_line), read as its data points."""

    def drain() -> list[Datapoint]:
        points: list[Datapoint] = []
        while True:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not messages:
                return points
            for message in messages:
                try:
                    record = json.loads(message["Body"])
                except ValueError:
                    log.warning("alarms: a signal that is not an EMF line was dropped: %.200s", message["Body"])
                    continue
                if isinstance(record, dict):
                    points += datapoints(record)
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )

    return drain
