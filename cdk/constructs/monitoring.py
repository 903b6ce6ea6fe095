"""Alarms (to the notification topic) and the optional dashboard.

Alarms: any dead-letter queue not empty, any function error, and no successful run in 26 hours.
The last one watches the transformer's `Transform_passed` metric (namespace RestaurantPipeline, dimension
service=transformer: services/transformer/handler.py emits `Transform_<outcome>` once per transform).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.constructs.schedule import CollectionSchedule
from cdk.constructs.service import PipelineService
from cdk.constructs.shared import SharedResources
from services.common.names import METRICS_NAMESPACE, PROJECT, Metric

NO_SUCCESS_HOURS = 26
DASHBOARD_NAME = PROJECT


@dataclass(frozen=True)
class PipelineMetric:
    """A metric a service emits through Powertools Metrics (dimension `service`)."""

    service: str
    name: Metric
    label: str

    def metric(self, period: Duration = Duration.hours(1), labelled: bool = True) -> cloudwatch.Metric:
        # A label turns an alarm's metric into a metric-math query; alarms use the plain metric.
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=self.name,
            dimensions_map={"service": self.service},
            statistic="Sum",
            period=period,
            label=self.label if labelled else None,
        )


# Names emitted by the services' handlers (Powertools Metrics adds the `service` dimension).
RUN_SUCCEEDED = PipelineMetric("transformer", Metric.TRANSFORM_PASSED, "transforms passed")
PIPELINE_METRICS = (
    PipelineMetric("collector", Metric.PLACES_COLLECTED, "places collected"),
    PipelineMetric("collector", Metric.COLLECTION_FAILURES, "cities failed"),
    RUN_SUCCEEDED,
    PipelineMetric("transformer", Metric.TRANSFORM_TESTS_FAILED, "transforms with failed dbt tests"),
    PipelineMetric("transformer", Metric.TRANSFORM_ERROR, "transforms in error"),
    PipelineMetric("transformer", Metric.QUARANTINED_LINES, "lines quarantined"),
    PipelineMetric("notifier", Metric.EMAILS_SENT, "emails sent"),
    PipelineMetric("notifier", Metric.NOTIFICATION_FAILURES, "emails failed"),
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
        dashboard: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        action = actions.SnsAction(shared.topic)
        self.alarms: list[cloudwatch.Alarm] = []

        dead_letter_queues: list[tuple[str, sqs.IQueue]] = [("schedule", schedule.dlq)]
        for service in services:
            dead_letter_queues.append((f"{service.route.service}", service.dlq))
            dead_letter_queues.append((f"{service.route.service}-rule", service.rule_dlq))
        for name, queue in dead_letter_queues:
            alarm = cloudwatch.Alarm(
                self,
                f"DlqNotEmpty-{name}",
                alarm_name=f"{PROJECT}-{name}-dlq-not-empty",
                alarm_description=(
                    f"Messages are waiting in the {name} dead-letter queue. Look: restaurant-pipeline dlq list "
                    "--aws; replay after the fix: restaurant-pipeline dlq replay SERVICE --aws"
                ),
                metric=queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self.alarms.append(alarm)

        for service in services:
            alarm = cloudwatch.Alarm(
                self,
                f"Errors-{service.route.service}",
                alarm_name=f"{PROJECT}-{service.route.service}-errors",
                alarm_description=(
                    f"{service.route.function_name} failed (an exception, a timeout or a crash). "
                    f"Logs: restaurant-pipeline logs {service.route.service} --aws"
                ),
                metric=service.function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self.alarms.append(alarm)

        # 26 one-hour periods, all of them without a success (no data counts as none) -> alarm.
        self.no_success_alarm = cloudwatch.Alarm(
            self,
            "NoSuccessfulRun",
            alarm_name=f"{PROJECT}-no-successful-run-{NO_SUCCESS_HOURS}h",
            alarm_description=(
                f"No transform has passed its data tests in {NO_SUCCESS_HOURS} hours (metric "
                f"{METRICS_NAMESPACE}/{RUN_SUCCEEDED.name}). Check the schedule, then: restaurant-pipeline runs --aws"
            ),
            metric=RUN_SUCCEEDED.metric(Duration.hours(1), labelled=False),
            threshold=1,
            evaluation_periods=NO_SUCCESS_HOURS,
            datapoints_to_alarm=NO_SUCCESS_HOURS,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        self.alarms.append(self.no_success_alarm)
        for alarm in self.alarms:
            alarm.add_alarm_action(action)
            if alarm is not self.no_success_alarm:
                alarm.add_ok_action(action)

        self.dashboard: cloudwatch.Dashboard | None = None
        if dashboard:
            self.dashboard = self._dashboard(services, dead_letter_queues)

    def _dashboard(
        self, services: list[PipelineService], dead_letter_queues: list[tuple[str, sqs.IQueue]]
    ) -> cloudwatch.Dashboard:
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
                    for name, queue in dead_letter_queues
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Pipeline",
                left=[metric.metric(Duration.days(1)) for metric in PIPELINE_METRICS],
                width=12,
            ),
        )
        board.add_widgets(cloudwatch.AlarmStatusWidget(alarms=self.alarms, title="Alarms", width=24))
        return board
