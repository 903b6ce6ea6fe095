"""Where the operator commands act: the local stack (from .pipeline/stack.json) or a deployed stack (--aws,
from the CloudFormation stack outputs). Both expose the same names."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from restaurant_pipeline.aws import AwsClients
from restaurant_pipeline.local.control import read_stack
from restaurant_pipeline.local.stack import LOCAL_CREDENTIALS, QueueInfo
from restaurant_pipeline.model.config import PipelineConfig
from restaurant_pipeline.model.topology import Route, build_topology
from restaurant_pipeline.operations import RULE_SUFFIX, SCHEDULE_DLQ, DeadLetterQueue
from restaurant_pipeline.stack_environment import ensure_not_local
from services.common.adapters.ledger import RunLedger
from services.common.names import PROJECT, log_group_name

STACK_NAME = PROJECT


@dataclass
class Target:
    kind: str  # "local" | "aws"
    clients: AwsClients
    bucket: str
    event_bus: str
    queues: dict[str, QueueInfo]
    topic_arn: str
    ledger_table: str
    logs_dir: Path | None = None  # local
    outbox_dir: Path | None = None  # local
    warehouse_path: Path | None = None  # local
    endpoint_url: str | None = None  # local
    log_groups: dict[str, str] = field(default_factory=dict)  # aws
    athena_workgroup: str | None = None  # aws
    athena_results_s3: str | None = None  # aws
    glue_database: str | None = None  # aws
    schedule_dlq_url: str = ""
    schedule_dlq_arn: str = ""

    @property
    def ledger(self) -> RunLedger:
        return RunLedger(self.clients.dynamodb, self.ledger_table)

    def queue(self, service: str) -> QueueInfo:
        if service not in self.queues:
            raise KeyError(f"unknown service {service!r}; choose one of: {', '.join(sorted(self.queues))}")
        return self.queues[service]

    def dead_letter_queues(self) -> list[DeadLetterQueue]:
        """Every DLQ the stack has: each service's, each rule target's, the schedule's. A stack made before the
        rule and schedule DLQs were known here (an older stack.json, or outputs without them) lists fewer."""
        # Routing facts only (message groups): the same whatever pipeline.toml says.
        routes: dict[str, Route] = {r.service: r for r in build_topology(PipelineConfig(), self.bucket).routes}
        found: list[DeadLetterQueue] = []
        for service, queue in self.queues.items():
            found.append(
                DeadLetterQueue(service, "service", service, queue.dlq_url, queue.dlq_arn, queue.url, queue.arn)
            )
        for service, queue in self.queues.items():
            if queue.rule_dlq_url:
                route = routes.get(service)
                found.append(
                    DeadLetterQueue(
                        f"{service}{RULE_SUFFIX}",
                        "rule",
                        service,
                        queue.rule_dlq_url,
                        queue.rule_dlq_arn,
                        queue.url,
                        queue.arn,
                        message_group_id=route.message_group_id if route else None,
                    )
                )
        if self.schedule_dlq_url:
            found.append(
                DeadLetterQueue(
                    SCHEDULE_DLQ, "schedule", "collector", self.schedule_dlq_url, self.schedule_dlq_arn, self.event_bus
                )
            )
        return found

    def dead_letter_queue(self, name: str) -> DeadLetterQueue:
        for dlq in self.dead_letter_queues():
            if dlq.name == name:
                return dlq
        known = ", ".join(dlq.name for dlq in self.dead_letter_queues())
        raise KeyError(f"this stack has no dead-letter queue {name!r}; it has: {known}")


def local_target(state_dir: Path | None = None) -> Target:
    info = read_stack(state_dir)
    return Target(
        kind="local",
        clients=AwsClients(region=info.region, endpoint_url=info.endpoint_url, credentials=LOCAL_CREDENTIALS),
        bucket=info.bucket,
        event_bus=info.event_bus,
        queues=info.queues,
        topic_arn=info.topic_arn,
        ledger_table=info.ledger_table,
        logs_dir=Path(info.logs_dir),
        outbox_dir=Path(info.outbox_dir),
        warehouse_path=Path(info.warehouse_path),
        endpoint_url=info.endpoint_url,
        schedule_dlq_url=info.schedule_dlq_url,
        schedule_dlq_arn=queue_arn_from_url(info.schedule_dlq_url, info.region) if info.schedule_dlq_url else "",
    )


def queue_arn_from_url(url: str, region: str) -> str:
    """https://sqs.REGION.amazonaws.com/ACCOUNT/NAME -> arn:aws:sqs:REGION:ACCOUNT:NAME"""
    account, name = url.rstrip("/").split("/")[-2:]
    return f"arn:aws:sqs:{region}:{account}:{name}"


def aws_target(region: str | None = None, stack_name: str = STACK_NAME) -> Target:
    from restaurant_pipeline.deploy import DeployError, describe_deployment, stack_outputs

    if region is None:
        from restaurant_pipeline.model.config import ConfigError, deployment_region, load_config

        try:  # the region the stack was deployed to: pipeline.toml's, the same for deploy and every --aws command
            region = deployment_region(load_config())
        except ConfigError as exc:
            raise RuntimeError(str(exc)) from None
    clients = AwsClients(region=region)
    try:
        deployment = describe_deployment(stack_outputs(clients.cloudformation, stack_name))
    except DeployError as exc:
        raise RuntimeError(str(exc)) from None
    queues = {
        service: QueueInfo(
            url=queue["url"],
            arn=queue_arn_from_url(queue["url"], region),
            dlq_url=queue["dlq_url"],
            dlq_arn=queue_arn_from_url(queue["dlq_url"], region),
            rule_dlq_url=queue.get("rule_dlq_url") or "",
            rule_dlq_arn=queue_arn_from_url(queue["rule_dlq_url"], region) if queue.get("rule_dlq_url") else "",
        )
        for service, queue in deployment["queues"].items()
        if queue.get("url") and queue.get("dlq_url")
    }
    schedule_dlq_url = deployment.get("schedule_dlq_url") or ""
    return Target(
        kind="aws",
        clients=clients,
        bucket=deployment["bucket"],
        event_bus=deployment["event_bus"],
        queues=queues,
        topic_arn=deployment["topic_arn"],
        ledger_table=deployment["ledger_table"] or "",
        log_groups={service: group or log_group_name(service) for service, group in deployment["log_groups"].items()},
        athena_workgroup=deployment["athena_workgroup"],
        athena_results_s3=deployment["athena_results_s3"],
        glue_database=deployment["glue_database"],
        schedule_dlq_url=schedule_dlq_url,
        schedule_dlq_arn=queue_arn_from_url(schedule_dlq_url, region) if schedule_dlq_url else "",
    )


def resolve(aws: bool, state_dir: Path | None = None) -> Target:
    """The deployed stack (refused while the shell holds the local stack's environment), or the local one."""
    if aws:
        ensure_not_local()
        return aws_target()
    return local_target(state_dir)
