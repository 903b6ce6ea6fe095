"""Alarms (to the notification topic) and the optional dashboard.

Every alarm comes from the shared declaration restaurant_pipeline/model/alarms.py (the local stack evaluates the same
declarations: restaurant_pipeline/local/alarms.py); this construct only turns each into a CloudWatch alarm: the
metric of the stack's own queue or function (by name), its threshold and missing-data treatment, and, for each alarm
that notifies, the topic as its ALARM action and its OK action.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.constructs.schedule import CollectionSchedule
from cdk.constructs.service import PipelineService
from cdk.constructs.shared import SharedResources
from restaurant_pipeline.model.alarms import (
    Alarms,
    CompositeAlarm,
    MetricAlarm,
    MetricSpec,
    pipeline_alarms,
)
from restaurant_pipeline.model.topology import SCHEDULE_DLQ_NAME, Topology
from services.common.names import LAMBDA_NAMESPACE, METRICS_NAMESPACE, PROJECT, SQS_NAMESPACE
from services.common.spec import service_specs

DASHBOARD_NAME = PROJECT
COMPARISONS = {
    "GreaterThanOrEqualToThreshold": cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    "LessThanThreshold": cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
}
MISSING_DATA = {
    "breaching": cloudwatch.TreatMissingData.BREACHING,
    "notBreaching": cloudwatch.TreatMissingData.NOT_BREACHING,
    "ignore": cloudwatch.TreatMissingData.IGNORE,
    "missing": cloudwatch.TreatMissingData.MISSING,
}
STATES = {
    "ALARM": cloudwatch.AlarmState.ALARM,
    "OK": cloudwatch.AlarmState.OK,
    "INSUFFICIENT_DATA": cloudwatch.AlarmState.INSUFFICIENT_DATA,
}


@dataclass(frozen=True)
class PipelineMetric:
    """A metric a service emits through Powertools Metrics (dimension `service`), as a dashboard graph shows it."""

    service: str
    name: str  # a services.common.names.Metric
    label: str

    def metric(self, period: Duration = Duration.hours(1)) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=self.name,
            dimensions_map={"service": self.service},
            statistic="Sum",
            period=period,
            label=self.label,
        )


# The dashboard's rows: each service's metrics, as its spec lists them (services/<name>/spec.py).
PIPELINE_METRICS = tuple(
    PipelineMetric(spec.name, row.metric, row.label) for spec in service_specs() for row in spec.metrics
)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedResources,
        services: list[PipelineService],
        schedule: CollectionSchedule,
        topology: Topology,
        dashboard: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.declared: Alarms = pipeline_alarms(topology)
        self._queues: dict[str, sqs.IQueue] = dict(_dead_letter_queues(services, schedule))
        self._functions: dict[str, lambda_.IFunction] = {s.route.function_name: s.function for s in services}
        action = actions.SnsAction(shared.topic)
        self.alarms: dict[str, cloudwatch.AlarmBase] = {}
        for declared in self.declared.metric_alarms:
            self.alarms[declared.name] = self._metric_alarm(declared)
        for composite in self.declared.composites:
            self.alarms[composite.name] = self._composite_alarm(composite)
        for declared_alarm in self.declared.all:
            if declared_alarm.notifies:
                self.alarms[declared_alarm.name].add_alarm_action(action)
                self.alarms[declared_alarm.name].add_ok_action(action)

        self.dashboard: cloudwatch.Dashboard | None = None
        if dashboard:
            self.dashboard = self._dashboard(services)

    def _metric(self, spec: MetricSpec) -> cloudwatch.IMetric:
        """The declared metric; a queue's or a function's through the stack's own resource (its name as a token)."""
        period = Duration.seconds(spec.period_seconds)
        queue_name, function_name = spec.dimension("QueueName"), spec.dimension("FunctionName")
        if spec.namespace == SQS_NAMESPACE and queue_name:
            return self._queues[queue_name].metric(spec.name, period=period, statistic=spec.statistic)
        if spec.namespace == LAMBDA_NAMESPACE and function_name:
            return self._functions[function_name].metric(spec.name, period=period, statistic=spec.statistic)
        return cloudwatch.Metric(
            namespace=spec.namespace,
            metric_name=spec.name,
            dimensions_map=dict(spec.dimensions),
            statistic=spec.statistic,
            period=period,
        )

    def _metric_alarm(self, declared: MetricAlarm) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self,
            _construct_id(declared.name),
            alarm_name=declared.name,
            alarm_description=declared.description,
            metric=self._metric(declared.metric),
            threshold=declared.threshold,
            evaluation_periods=declared.evaluation_periods,
            datapoints_to_alarm=declared.datapoints_to_alarm,
            comparison_operator=COMPARISONS[declared.comparison],
            treat_missing_data=MISSING_DATA[declared.treat_missing_data],
        )

    def _composite_alarm(self, declared: CompositeAlarm) -> cloudwatch.CompositeAlarm:
        rule = cloudwatch.AlarmRule.all_of(
            *(cloudwatch.AlarmRule.from_alarm(self.alarms[name], STATES[state]) for state, name in declared.all_of)
        )
        return cloudwatch.CompositeAlarm(
            self,
            _construct_id(declared.name),
            composite_alarm_name=declared.name,
            alarm_description=declared.description,
            alarm_rule=rule,
        )

    def _dashboard(self, services: list[PipelineService]) -> cloudwatch.Dashboard:
        board = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=DASHBOARD_NAME, default_interval=Duration.days(7)
        )
        period = Duration.hours(1)
        board.add_widgets(
            cloudwatch.TextWidget(
                markdown=f"# {PROJECT}\nSchedule -> collector -> raw/ -> transformer (dbt) -> notifier -> email. "
                "Alarms go to the notification topic.",
                width=24,
                height=2,
            )
        )
        board.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations",
                left=[s.function.metric_invocations(period=period, label=s.route.service) for s in services],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Errors",
                left=[s.function.metric_errors(period=period, label=s.route.service) for s in services],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Duration (p95, ms)",
                left=[
                    s.function.metric_duration(period=period, statistic="p95", label=s.route.service) for s in services
                ],
                width=8,
            ),
        )
        board.add_widgets(
            cloudwatch.GraphWidget(
                title="Dead-letter queue depth",
                left=[
                    queue.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum", label=name)
                    for name, queue in self._queues.items()
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Pipeline",
                left=[metric.metric(Duration.days(1)) for metric in PIPELINE_METRICS],
                width=12,
            ),
        )
        board.add_widgets(cloudwatch.AlarmStatusWidget(alarms=list(self.alarms.values()), title="Alarms", width=24))
        return board


def _dead_letter_queues(services: list[PipelineService], schedule: CollectionSchedule) -> list[tuple[str, sqs.IQueue]]:
    """Every dead-letter queue of the stack, by its (declared) name."""
    queues: list[tuple[str, sqs.IQueue]] = [(SCHEDULE_DLQ_NAME, schedule.dlq)]
    for service in services:
        queues += [(service.route.dlq_name, service.dlq), (service.route.rule_dlq_name, service.rule_dlq)]
    return queues


def _construct_id(alarm_name: str) -> str:
    """The alarm's construct id. Those of the alarms that existed before the shared declaration are kept, so that a
    deployed stack updates them in place (a new logical id for the same AlarmName would create it, then delete it
    with the old resource)."""
    suffix = alarm_name.removeprefix(f"{PROJECT}-")
    if suffix.endswith("-dlq-not-empty"):
        return f"DlqNotEmpty-{suffix.removesuffix('-dlq-not-empty')}"
    if suffix.endswith("-errors"):
        return f"Errors-{suffix.removesuffix('-errors')}"
    return "".join(part.capitalize() for part in suffix.split("-"))
