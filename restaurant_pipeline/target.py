"""Where the operator commands act: the local stack (from .pipeline/stack.json) or a deployed stack (--aws,
from the CloudFormation stack outputs). Both expose the same names."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from restaurant_pipeline.aws import AwsClients
from restaurant_pipeline.local.control import read_stack
from restaurant_pipeline.local.stack import LOCAL_CREDENTIALS, QueueInfo
from restaurant_pipeline.topology import PROJECT, SERVICES
from services.common.ledger import RunLedger

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
    log_groups: dict[str, str] = field(default_factory=dict)  # aws

    @property
    def ledger(self) -> RunLedger:
        return RunLedger(self.clients.dynamodb, self.ledger_table)

    def queue(self, service: str) -> QueueInfo:
        if service not in self.queues:
            raise KeyError(f"unknown service {service!r}; choose one of: {', '.join(sorted(self.queues))}")
        return self.queues[service]


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
    )


def aws_target(region: str | None = None, stack_name: str = STACK_NAME) -> Target:
    from restaurant_pipeline.deploy import stack_outputs

    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-3"
    clients = AwsClients(region=region)
    outputs = stack_outputs(clients.cloudformation, stack_name)

    def need(key: str) -> str:
        if key not in outputs:
            raise RuntimeError(f"stack {stack_name} has no output {key!r}; redeploy with `restaurant-pipeline deploy`")
        return outputs[key]

    queues: dict[str, QueueInfo] = {}
    for service in SERVICES:
        prefix = service.capitalize()
        queues[service] = QueueInfo(
            url=need(f"{prefix}QueueUrl"),
            arn=need(f"{prefix}QueueArn"),
            dlq_url=need(f"{prefix}DlqUrl"),
            dlq_arn=need(f"{prefix}DlqArn"),
        )
    return Target(
        kind="aws",
        clients=clients,
        bucket=need("BucketName"),
        event_bus=need("EventBusName"),
        queues=queues,
        topic_arn=need("TopicArn"),
        ledger_table=need("LedgerTableName"),
        log_groups={service: f"/aws/lambda/{PROJECT}-{service}" for service in SERVICES},
    )


def resolve(aws: bool, state_dir: Path | None = None) -> Target:
    return aws_target() if aws else local_target(state_dir)
