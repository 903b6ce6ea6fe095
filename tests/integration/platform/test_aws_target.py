"""--aws mode: the CLI finds every name in the deployed stack's outputs (moto's CloudFormation stands in)."""

from __future__ import annotations

import json

import boto3
import pytest

from restaurant_pipeline.model.stack_outputs import REQUIRED_OUTPUTS, STACK_NAME
from restaurant_pipeline.target import aws_target

ACCOUNT = "123456789012"


def output_value(key: str) -> str:
    if key.endswith(("QueueUrl", "DlqUrl")):
        name = key.removesuffix("Url").lower()
        return f"https://sqs.eu-west-3.amazonaws.com/{ACCOUNT}/restaurant-pipeline-{name}"
    return f"value-of-{key}"


def test_aws_mode_reads_queues_tables_and_log_groups_from_the_stack_outputs(aws):
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": output_value(key)} for key in REQUIRED_OUTPUTS},
    }
    boto3.client("cloudformation").create_stack(StackName=STACK_NAME, TemplateBody=json.dumps(template))

    target = aws_target(region="eu-west-3")

    assert target.kind == "aws"
    assert target.bucket == "value-of-BucketName" and target.ledger_table == "value-of-LedgerTableName"
    assert set(target.queues) == {"collector", "transformer", "notifier"}
    collector = target.queues["collector"]
    assert collector.arn == f"arn:aws:sqs:eu-west-3:{ACCOUNT}:restaurant-pipeline-collectorqueue"
    assert collector.dlq_arn.endswith(":restaurant-pipeline-collectordlq")
    assert target.log_groups["notifier"] == "value-of-NotifierLogGroupName"


def test_aws_mode_without_a_deployed_stack_says_how_to_deploy(aws):
    with pytest.raises(RuntimeError, match="deploy"):
        aws_target(region="eu-west-3")
