"""The pipeline's alarms, declared once, like the topology.

The CDK stack builds its CloudWatch alarms from `pipeline_alarms` (cdk/constructs/monitoring.py) and the local stack
evaluates the very same declarations against its own signals (restaurant_pipeline/local/alarms.py). Plain data,
spelled as CloudWatch spells an alarm (namespace, metric, dimensions, statistic, period, threshold, comparison,
evaluation periods, datapoints to alarm, treat missing data), so that nothing about an alarm is typed twice.

How CloudWatch evaluates these settings, missing data included:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
(`breaching`: missing points count as bad; `notBreaching`: as good; `ignore`: the alarm keeps its current state;
`missing`: all points missing -> INSUFFICIENT_DATA). A composite alarm's rule (ALARM("a") AND OK("b")):
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html

"No successful run in 26 h" without an alarm before the first run. One metric alarm cannot say it: with missing data
`breaching` it is in ALARM from the deploy on (the bug of issue 15), with `missing`/`notBreaching` it never alarms on
a metric that only has data points when a run passes. So two building blocks (no actions) and one composite (the
one that mails):
- NO_TRANSFORM_PASSED: Transform_passed had no data point in any of the last 26 hourly periods (missing = breaching);
- A_TRANSFORM_HAS_PASSED: OK from the first passed transform on, and stays OK (missing = `ignore` keeps the state);
  INSUFFICIENT_DATA before it;
- NO_SUCCESSFUL_RUN = ALARM(NO_TRANSFORM_PASSED) AND OK(A_TRANSFORM_HAS_PASSED): silent before the first successful
  run, ALARM 26 h after the last one, OK again with the next.
Before the first success, the failure emails and the other alarms are what speak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from restaurant_pipeline.model.topology import SCHEDULE_DLQ_NAME, Topology
from services.common.names import (
    FUNCTION_ERRORS,
    LAMBDA_NAMESPACE,
    METRICS_NAMESPACE,
    PROJECT,
    QUEUE_DEPTH,
    SQS_NAMESPACE,
    Metric,
)

Comparison = Literal["GreaterThanOrEqualToThreshold", "LessThanThreshold"]
MissingData = Literal["breaching", "notBreaching", "ignore", "missing"]
Statistic = Literal["Sum", "Maximum"]
AlarmState = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]

EVENT_PERIOD_SECONDS = 300  # DLQ depths, function errors and failure metrics: one 5-minute period
NO_SUCCESS_HOURS = 26  # a daily schedule plus two hours of slack
HOUR = 3600
# PutMetricAlarm's limits on Period x EvaluationPeriods
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
MAX_EVALUATION_RANGE_SECONDS = 7 * 86400
MAX_EVALUATION_RANGE_SHORT_PERIOD_SECONDS = 86400  # periods under an hour
MAX_DESCRIPTION = 1024
MAX_NAME = 255


@dataclass(frozen=True)
class MetricSpec:
    """One CloudWatch metric as an alarm reads it. Dimension values are concrete names (the CDK stack swaps in
    its own resources' tokens for queue and function names; the local stack reads them as they are)."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: Statistic
    period_seconds: int

    def dimension(self, key: str) -> str | None:
        return dict(self.dimensions).get(key)

    def describe(self) -> str:
        dims = ", ".join(f"{key} = {value}" for key, value in self.dimensions)
        return f"{self.namespace} {self.name} [{dims}]"


@dataclass(frozen=True)
class MetricAlarm:
    name: str
    description: str  # the cause and the fix, read in the ALARM and in the OK email alike
    metric: MetricSpec
    threshold: float
    comparison: Comparison
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: MissingData
    notifies: bool = True  # False: a building block of a composite alarm, no actions of its own
    # True: the local stack evaluates it with its short local period (an event: a DLQ not empty, a failure);
    # False: with its AWS period (a heartbeat watching the time between scheduled runs, daily locally too).
    scaled_locally: bool = True

    def __post_init__(self) -> None:
        _check_name_and_description(self.name, self.description)
        if not 1 <= self.datapoints_to_alarm <= self.evaluation_periods:
            raise ValueError(f"{self.name}: datapoints_to_alarm must be between 1 and evaluation_periods")
        period = self.metric.period_seconds
        if period < 60 or period % 60:
            raise ValueError(f"{self.name}: a period is a multiple of 60 seconds, not {period}")
        limit = MAX_EVALUATION_RANGE_SECONDS if period >= HOUR else MAX_EVALUATION_RANGE_SHORT_PERIOD_SECONDS
        if period * self.evaluation_periods > limit:
            raise ValueError(f"{self.name}: period x evaluation periods exceeds CloudWatch's {limit} s")

    def breaches(self, value: float) -> bool:
        if self.comparison == "GreaterThanOrEqualToThreshold":
            return value >= self.threshold
        return value < self.threshold

    def condition(self, period_seconds: int | None = None) -> str:
        """The threshold in words, as the alarm email states it."""
        period = period_seconds or self.metric.period_seconds
        return (
            f"{self.metric.statistic} of {self.metric.name} {self.comparison} {self.threshold:g} for "
            f"{self.datapoints_to_alarm} of the last {self.evaluation_periods} period(s) of {period} s"
        )


@dataclass(frozen=True)
class CompositeAlarm:
    """In ALARM when every (state, alarm name) of `all_of` holds."""

    name: str
    description: str
    all_of: tuple[tuple[AlarmState, str], ...]
    notifies: bool = True

    def __post_init__(self) -> None:
        _check_name_and_description(self.name, self.description)
        if not self.all_of:
            raise ValueError(f"{self.name}: a composite alarm needs at least one condition")

    @property
    def rule(self) -> str:
        """The AlarmRule as CloudWatch writes it."""
        return " AND ".join(f'{state}("{name}")' for state, name in self.all_of)


Alarm = MetricAlarm | CompositeAlarm


@dataclass(frozen=True)
class Alarms:
    metric_alarms: tuple[MetricAlarm, ...]
    composites: tuple[CompositeAlarm, ...]

    def __post_init__(self) -> None:
        names = [alarm.name for alarm in self.all]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"alarm names must be unique: {duplicates}")
        known = set(names)
        for composite in self.composites:
            unknown = [name for _, name in composite.all_of if name not in known]
            if unknown:
                raise ValueError(f"{composite.name} refers to unknown alarms {unknown}")

    @property
    def all(self) -> tuple[Alarm, ...]:
        return (*self.metric_alarms, *self.composites)

    def named(self, name: str) -> Alarm:
        for alarm in self.all:
            if alarm.name == name:
                return alarm
        raise KeyError(f"no alarm named {name!r}")


def _check_name_and_description(name: str, description: str) -> None:
    if not name.isascii() or not 0 < len(name) <= MAX_NAME:
        raise ValueError(f"alarm name {name!r}: ASCII, 1 to {MAX_NAME} characters")
    if not 0 < len(description) <= MAX_DESCRIPTION:
        raise ValueError(f"{name}: the description must be 1 to {MAX_DESCRIPTION} characters")


# -- the pipeline's alarms ---------------------------------------------------------------------------------------------
def alarm_name(suffix: str) -> str:
    return f"{PROJECT}-{suffix}"


def pipeline_metric(service: str, metric: Metric, period_seconds: int = EVENT_PERIOD_SECONDS) -> MetricSpec:
    """A metric a service emits through Powertools Metrics (dimension `service`)."""
    return MetricSpec(METRICS_NAMESPACE, metric, (("service", service),), "Sum", period_seconds)


def queue_depth(queue_name: str) -> MetricSpec:
    return MetricSpec(SQS_NAMESPACE, QUEUE_DEPTH, (("QueueName", queue_name),), "Maximum", EVENT_PERIOD_SECONDS)


def function_errors(function_name: str) -> MetricSpec:
    return MetricSpec(
        LAMBDA_NAMESPACE, FUNCTION_ERRORS, (("FunctionName", function_name),), "Sum", EVENT_PERIOD_SECONDS
    )


REPLAY = "after the fix: restaurant-pipeline dlq replay {service} (add --aws for the deployed stack)"
LOOK = "Look: restaurant-pipeline dlq list, restaurant-pipeline logs {service}"


def _dlq_alarms(topology: Topology) -> list[MetricAlarm]:
    """Per route, its queue's and its rule's; why a message ends in a service's dead-letter queue is its spec's
    `dlq_cause` (services/<name>/spec.py)."""
    alarms = []
    for route in topology.routes:
        service = route.service
        alarms.append(
            _dlq_alarm(
                f"{service}-dlq-not-empty",
                route.dlq_name,
                f"Messages wait in the {service} dead-letter queue: {route.spec.dlq_cause} "
                f"{LOOK.format(service=service)}; {REPLAY.format(service=service)}. "
                "OK once the dead-letter queue is empty.",
            )
        )
        alarms.append(
            _dlq_alarm(
                f"{service}-rule-dlq-not-empty",
                route.rule_dlq_name,
                f"EventBridge could not deliver events to the {service} queue for 24 hours (the queue deleted or its "
                f"access policy broken): they wait in {route.rule_dlq_name}. Redeploy the stack "
                "(restaurant-pipeline deploy), then send them to the queue: restaurant-pipeline dlq replay "
                f"{service}-rule (add --aws for the deployed stack).",
            )
        )
    alarms.append(
        _dlq_alarm(
            "schedule-dlq-not-empty",
            SCHEDULE_DLQ_NAME,
            "EventBridge Scheduler could not put Collection Requested on the pipeline bus after its retries: the day's "
            "run did not start. Check the bus and the schedule's role (restaurant-pipeline deploy repairs both), then "
            "start the missed runs: restaurant-pipeline dlq replay schedule --aws (or restaurant-pipeline run --aws).",
        )
    )
    return alarms


def _dlq_alarm(suffix: str, queue_name: str, description: str) -> MetricAlarm:
    return MetricAlarm(
        name=alarm_name(suffix),
        description=description,
        metric=queue_depth(queue_name),
        threshold=1,
        comparison="GreaterThanOrEqualToThreshold",
        evaluation_periods=1,
        datapoints_to_alarm=1,
        treat_missing_data="notBreaching",  # SQS stops sending metrics for an idle queue
    )


def _error_alarms(topology: Topology) -> list[MetricAlarm]:
    alarms = []
    for route in topology.routes:
        note = route.spec.errors_note  # the service's own words (its spec)
        alarms.append(
            MetricAlarm(
                name=alarm_name(f"{route.service}-errors"),
                description=f"{route.function_name} failed as a whole (an unhandled exception, a timeout, a crash at "
                f"start). Logs: restaurant-pipeline logs {route.service} (add --aws for the deployed stack); the "
                f"messages are retried, then wait in its dead-letter queue.{note}",
                metric=function_errors(route.function_name),
                threshold=1,
                comparison="GreaterThanOrEqualToThreshold",
                evaluation_periods=1,
                datapoints_to_alarm=1,
                treat_missing_data="notBreaching",
            )
        )
    return alarms


def _transform_alarms() -> list[MetricAlarm]:
    return [
        MetricAlarm(
            name=alarm_name("transformer-infrastructure-failed"),
            description="A transformer batch failed on its last receive for an infrastructure reason (S3 unreachable, "
            "dbt cannot start, the warehouse locked, Athena throttled); its objects go to the transformer dead-letter "
            "queue. The Transform Completed email (outcome error) names the cause and the objects. "
            f"{LOOK.format(service='transformer')}; {REPLAY.format(service='transformer')}. Clears after a quiet "
            "period; the dead-letter queue alarm stays until the queue is empty.",
            metric=pipeline_metric("transformer", Metric.DEAD_LETTERED_OBJECTS),
            threshold=1,
            comparison="GreaterThanOrEqualToThreshold",
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data="notBreaching",
        ),
        MetricAlarm(
            name=alarm_name("transformer-tests-failed"),
            description="dbt data tests failed on a transform: the marts were built but some rows break a test. The "
            "run's email lists the failing tests with sample rows. Fix the data or the test, then reprocess: "
            "restaurant-pipeline reprocess s3://BUCKET/KEY. Clears after a quiet period; the data stays failing "
            "until a transform passes.",
            metric=pipeline_metric("transformer", Metric.TRANSFORM_TESTS_FAILED),
            threshold=1,
            comparison="GreaterThanOrEqualToThreshold",
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data="notBreaching",
        ),
    ]


NO_TRANSFORM_PASSED = alarm_name(f"no-transform-passed-{NO_SUCCESS_HOURS}h")
A_TRANSFORM_HAS_PASSED = alarm_name("a-transform-has-passed")
NO_SUCCESSFUL_RUN = alarm_name(f"no-successful-run-for-{NO_SUCCESS_HOURS}h")


def _no_success_alarms() -> tuple[list[MetricAlarm], CompositeAlarm]:
    passed = pipeline_metric("transformer", Metric.TRANSFORM_PASSED, period_seconds=HOUR)
    blocks = [
        MetricAlarm(
            name=NO_TRANSFORM_PASSED,
            description=f"Building block of {NO_SUCCESSFUL_RUN} (no actions): in ALARM when no transform passed its "
            f"data tests in any of the last {NO_SUCCESS_HOURS} hourly periods, before the first run included.",
            metric=passed,
            threshold=1,
            comparison="LessThanThreshold",
            evaluation_periods=NO_SUCCESS_HOURS,
            datapoints_to_alarm=NO_SUCCESS_HOURS,
            treat_missing_data="breaching",
            notifies=False,
            scaled_locally=False,
        ),
        MetricAlarm(
            name=A_TRANSFORM_HAS_PASSED,
            description=f"Building block of {NO_SUCCESSFUL_RUN} (no actions): INSUFFICIENT_DATA until a transform "
            "first passes its data tests, then OK for good (missing data keeps the alarm's state).",
            metric=passed,
            threshold=1,
            comparison="LessThanThreshold",
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data="ignore",
            notifies=False,
            scaled_locally=False,
        ),
    ]
    composite = CompositeAlarm(
        name=NO_SUCCESSFUL_RUN,
        description=f"No transform has passed its data tests for {NO_SUCCESS_HOURS} hours, after earlier runs did "
        f"(metric {METRICS_NAMESPACE} {Metric.TRANSFORM_PASSED}). Today's data did not arrive: look for the failure "
        "email of the last run, then restaurant-pipeline runs and restaurant-pipeline dlq list (add --aws for the "
        "deployed stack); check that the schedule is enabled. OK again with the next successful run.",
        all_of=(("ALARM", NO_TRANSFORM_PASSED), ("OK", A_TRANSFORM_HAS_PASSED)),
    )
    return blocks, composite


def pipeline_alarms(topology: Topology) -> Alarms:
    """Every alarm of a deployment of this topology (the local stack evaluates those it has signals for)."""
    blocks, composite = _no_success_alarms()
    return Alarms(
        metric_alarms=(*_dlq_alarms(topology), *_error_alarms(topology), *_transform_alarms(), *blocks),
        composites=(composite,),
    )
