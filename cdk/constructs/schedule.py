"""The daily trigger: EventBridge Scheduler puts "Collection Requested" on the pipeline bus."""

from __future__ import annotations

import json

from aws_cdk import CfnParameter, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.constructs.nag import acknowledge
from cdk.constructs.shared import SharedResources
from contracts.events import SCHEDULER_SOURCE, CollectionRequested
from restaurant_pipeline.model.config import PipelineConfig
from restaurant_pipeline.model.stack_outputs import SCHEDULE_STATE_PARAMETER, SCHEDULE_STATES
from restaurant_pipeline.model.topology import SCHEDULE_DLQ_NAME
from services.common.names import PROJECT

SCHEDULE_NAME = f"{PROJECT}-daily-collection"
SCHEDULE_TIMEZONE = "UTC"
# Scheduler's own retries when PutEvents fails (throttling, a bus being updated): a delivery failure,
# not a pipeline failure; the collector queue's maxReceiveCount covers the rest.
SCHEDULE_RETRY_ATTEMPTS = 3
SCHEDULE_MAX_EVENT_AGE = Duration.hours(1)


def scheduled_detail(config: PipelineConfig) -> str:
    """The detail the schedule sends, validated against the contract at synth time."""
    request = CollectionRequested(cities=config.collection.city_names, trigger_source="schedule")
    detail = request.model_dump(mode="json", exclude_none=True)
    return json.dumps(detail, separators=(",", ":"))


class CollectionSchedule(Construct):
    """Schedule (UTC, no flexible window) with a retry policy and a DLQ of its own."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PipelineConfig, shared: SharedResources) -> None:
        super().__init__(scope, construct_id)
        self.dlq = sqs.Queue(
            self,
            "Dlq",
            queue_name=SCHEDULE_DLQ_NAME,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(self.dlq, "AwsSolutions-SQS3", "This queue is itself a dead-letter queue.")
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
            ),
            description=f"{SCHEDULE_NAME}: put Collection Requested on the pipeline bus",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PutCollectionRequested", actions=["events:PutEvents"], resources=[shared.bus.event_bus_arn]
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(sid="DeadLetters", actions=["sqs:SendMessage"], resources=[self.dlq.queue_arn])
        )
        self.expression = config.schedule.expression
        # Off until the key is in the secret: `restaurant-pipeline deploy` passes DISABLED until it has stored the key,
        # then ENABLED (a hand-run `cdk deploy` keeps the previous value, DISABLED on a first deploy).
        self.state = CfnParameter(
            Stack.of(self),
            SCHEDULE_STATE_PARAMETER,
            type="String",
            allowed_values=list(SCHEDULE_STATES),
            default="DISABLED",
            description="State of the daily schedule: ENABLED once the Places API key is stored in its secret",
        )
        self.schedule = scheduler.CfnSchedule(
            self,
            "Schedule",
            name=SCHEDULE_NAME,
            description=f"Collect {', '.join(config.collection.city_names)}"[:512],
            schedule_expression=config.schedule.expression,
            schedule_expression_timezone=SCHEDULE_TIMEZONE,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state=self.state.value_as_string,
            target=scheduler.CfnSchedule.TargetProperty(
                arn=shared.bus.event_bus_arn,
                role_arn=self.role.role_arn,
                input=scheduled_detail(config),
                event_bridge_parameters=scheduler.CfnSchedule.EventBridgeParametersProperty(
                    detail_type=CollectionRequested.DETAIL_TYPE, source=SCHEDULER_SOURCE
                ),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
                    maximum_event_age_in_seconds=int(SCHEDULE_MAX_EVENT_AGE.to_seconds()),
                ),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(arn=self.dlq.queue_arn),
            ),
        )
