"""The stack `restaurant-pipeline`: composes the shared construct, one construct per topology route (one per service
spec), the schedule and the monitoring; the bus accepts each service's published sources from its role only; tags
everything; exports every name the CLI's --aws mode needs as a stack output (keys in cdk.outputs).
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import CfnOutput, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk.constructs.monitoring import Monitoring
from cdk.constructs.schedule import CollectionSchedule
from cdk.constructs.service import PipelineService
from cdk.constructs.shared import ATHENA_WORKGROUP, DBT_TARGET, GLUE_DATABASE, SharedResources
from contracts.envelope import BUS_NAME
from contracts.events import SCHEDULER_SOURCE
from restaurant_pipeline.model.config import PipelineConfig
from restaurant_pipeline.model.stack_outputs import (
    OUTPUT_ACCESS_LOGS_BUCKET,
    OUTPUT_BUCKET,
    OUTPUT_BUS,
    OUTPUT_DASHBOARD,
    OUTPUT_EMAIL,
    OUTPUT_GLUE_DATABASE,
    OUTPUT_IDEMPOTENCY_TABLE,
    OUTPUT_LEDGER_TABLE,
    OUTPUT_REGION,
    OUTPUT_RESULTS,
    OUTPUT_SCHEDULE,
    OUTPUT_SCHEDULE_DLQ,
    OUTPUT_SECRET,
    OUTPUT_TOPIC,
    OUTPUT_WORKGROUP,
    output_key,
)
from restaurant_pipeline.model.topology import StackResources, Topology, build_topology, service_environment
from services.common.names import PROJECT


def console_logs_url(region: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        "#logsV2:log-groups/log-group/$252Faws$252Flambda$252F"
    )


class RestaurantPipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        code_for: Callable[[str], lambda_.Code],
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = config
        self.shared = SharedResources(self, "Shared", config=config)
        self.topology: Topology = build_topology(config, self.shared.bucket.bucket_name, BUS_NAME)
        resources = StackResources(
            bucket=self.shared.bucket.bucket_name,
            bus_name=self.shared.bus.event_bus_name,
            topic_arn=self.shared.topic.topic_arn,
            idempotency_table=self.shared.idempotency_table.table_name,
            ledger_table=self.shared.ledger_table.table_name,
            places_api_key_secret_arn=self.shared.places_api_key.secret_arn,
            dbt_target=DBT_TARGET,
            athena_workgroup=ATHENA_WORKGROUP,
            athena_results_s3=self.shared.athena_results_s3,
            glue_database=GLUE_DATABASE,
            log_location=console_logs_url(config.aws.region),
        )
        environments = service_environment(config, self.topology, resources)

        self.services: dict[str, PipelineService] = {}
        for route in self.topology.routes:  # one per service spec (services/<name>/spec.py)
            self.services[route.service] = PipelineService(
                self,
                route.service.capitalize(),
                route=route,
                config=config,
                shared=self.shared,
                environment=environments[route.service],
                code=code_for(route.service),
            )
        self.schedule = CollectionSchedule(self, "Schedule", config=config, shared=self.shared)
        self.shared.accept_sources_only_from({SCHEDULER_SOURCE: self.schedule.role, **self._publishers()})
        for service in self.services.values():
            if service.route.spec.only_its_rule_sends:
                self._queue_takes_its_rule_only(service)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            shared=self.shared,
            services=list(self.services.values()),
            schedule=self.schedule,
            topology=self.topology,
            dashboard=config.aws.dashboard,
        )
        self._outputs()
        Tags.of(self).add("project", PROJECT)

    def _publishers(self) -> dict[str, iam.IRole]:
        """Each source a service publishes (its spec's `publishes`), and the one role that may put it on the bus."""
        publishers: dict[str, iam.IRole] = {}
        for name, service in self.services.items():
            for source in service.route.spec.published_sources:
                if source in publishers:
                    raise ValueError(f"{name} publishes {source}, which another service publishes: one source each")
                publishers[source] = service.role
        return publishers

    def _queue_takes_its_rule_only(self, service: PipelineService) -> None:
        """Nobody but the service's EventBridge rule sends to its queue (the notifier's: a message put there directly
        is an email).

        An explicit Deny in the queue policy overrides any Allow a principal of the account holds
        (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-basics.html).
        EventBridge delivers to an SQS target as the events service with `aws:SourceArn` = the rule's ARN
        (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions); a
        principal's own request carries no `aws:SourceArn`, which is present only when a service calls on behalf of a
        resource (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-sourcearn),
        and a negated operator holds for an absent key
        (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
        sqs:SendMessage also governs SendMessageBatch. `dlq replay notifier --aws` therefore hands dead letters to the
        function itself (restaurant_pipeline/operations.py), and the notifier checks each against the ledger anyway.
        """
        service.queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"OnlyThe{service.route.service.capitalize()}RuleSends",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["sqs:SendMessage"],
                resources=[service.queue.queue_arn],
                conditions={"ArnNotEquals": {"aws:SourceArn": service.rule.rule_arn}},
            )
        )

    def _outputs(self) -> None:
        shared = self.shared

        def out(key: str, value: str, description: str) -> None:
            CfnOutput(self, key, value=value, description=description)

        out(OUTPUT_REGION, self.region, "Region of the stack")
        out(OUTPUT_BUCKET, shared.bucket.bucket_name, "Data bucket (raw/places/, validated/, quarantine/)")
        out(OUTPUT_ACCESS_LOGS_BUCKET, shared.access_logs.bucket_name, "Access logs of the data bucket")
        out(OUTPUT_BUS, shared.bus.event_bus_name, "Pipeline event bus")
        out(OUTPUT_TOPIC, shared.topic.topic_arn, "Notification topic (emails and alarms)")
        out(OUTPUT_IDEMPOTENCY_TABLE, shared.idempotency_table.table_name, "Idempotency records")
        out(OUTPUT_LEDGER_TABLE, shared.ledger_table.table_name, "Run ledger")
        out(OUTPUT_SECRET, shared.places_api_key.secret_arn, "Secret holding the Places API key")
        out(OUTPUT_WORKGROUP, ATHENA_WORKGROUP, "Athena work group of the dbt queries")
        out(OUTPUT_RESULTS, shared.athena_results_s3, "Athena query results location")
        out(OUTPUT_GLUE_DATABASE, GLUE_DATABASE, "Glue database of raw_places and the dbt models")
        out(OUTPUT_SCHEDULE, self.schedule.schedule.ref, "EventBridge Scheduler schedule")
        out(OUTPUT_SCHEDULE_DLQ, self.schedule.dlq.queue_url, "Dead-letter queue of the schedule")
        if shared.email:
            out(OUTPUT_EMAIL, shared.email, "Address subscribed to the notification topic (kept by the next deploy)")
        if self.monitoring.dashboard is not None:
            out(OUTPUT_DASHBOARD, self.monitoring.dashboard.dashboard_name, "CloudWatch dashboard")
        for name, service in self.services.items():
            out(output_key(name, "QueueUrl"), service.queue.queue_url, f"{name} queue")
            out(output_key(name, "DlqUrl"), service.dlq.queue_url, f"{name} dead-letter queue")
            out(output_key(name, "RuleDlqUrl"), service.rule_dlq.queue_url, f"{name} rule-target dead-letter queue")
            out(output_key(name, "FunctionName"), service.function.function_name, f"{name} function")
            out(output_key(name, "LogGroupName"), service.log_group.log_group_name, f"{name} log group")
