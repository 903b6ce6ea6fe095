"""The transformer settles a failed batch's messages itself (services/transformer/adapters/sqs.py): its role may
change their visibility on its queue and copy a final failure's message to its dead-letter queue, and its
environment names that dead-letter queue."""

from __future__ import annotations

import boto3
from moto import mock_aws

from restaurant_pipeline.local import call_recorder
from restaurant_pipeline.model.topology import build_topology
from services.transformer.adapters.sqs import SqsMessageQueue
from services.transformer.domain.model import QueuedMessage
from tests.infrastructure.conftest import Synthesized
from tests.support.iam import proof
from tests.support.iam.calls import Call
from tests.support.iam.template import ACCOUNT, REGION, ResolvedTemplate


def _queue_ids(stack: Synthesized) -> dict[str, str]:
    """Queue name -> logical id."""
    return {
        queue["Properties"].get("QueueName"): logical_id
        for logical_id, queue in stack.resources("AWS::SQS::Queue").items()
    }


def _allowed(stack: Synthesized, role_prefix: str) -> set[tuple[str, str]]:
    """(action, logical id of the queue) pairs the role's Allow statements grant on queues named by GetAtt."""
    pairs = set()
    for key, policy in stack.resources("AWS::IAM::Policy").items():
        if not key.startswith(role_prefix):
            continue
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            if statement["Effect"] != "Allow":
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for resource in resources:
                if isinstance(resource, dict) and "Fn::GetAtt" in resource:
                    pairs |= {(action, resource["Fn::GetAtt"][0]) for action in actions}
    return pairs


def test_the_transformer_may_retry_its_messages_soon_and_set_final_failures_aside(default_stack):
    route = build_topology(default_stack.config, "bucket").route("transformer")
    ids = _queue_ids(default_stack)
    allowed = _allowed(default_stack, "TransformerRole")
    queue, dlq = ids[route.queue_name], ids[route.dlq_name]

    assert {("sqs:ChangeMessageVisibility", queue), ("sqs:GetQueueUrl", queue)} <= allowed
    assert {("sqs:SendMessage", dlq), ("sqs:GetQueueUrl", dlq)} <= allowed
    # nothing else may be sent anywhere: no other queue, and the collector and notifier get no such grant
    assert {pair for pair in allowed if pair[0] == "sqs:SendMessage"} == {("sqs:SendMessage", dlq)}
    for other in ("CollectorRole", "NotifierRole"):
        assert not {pair for pair in _allowed(default_stack, other) if pair[0] == "sqs:SendMessage"}


def test_the_transformer_environment_names_its_dead_letter_queue(default_stack):
    route = build_topology(default_stack.config, "bucket").route("transformer")
    [function] = [
        f
        for f in default_stack.resources("AWS::Lambda::Function").values()
        if f["Properties"].get("FunctionName") == route.function_name
    ]
    assert function["Properties"]["Environment"]["Variables"]["DEAD_LETTER_QUEUE_NAME"] == route.dlq_name


def test_every_call_of_the_transformer_s_queue_adapter_is_allowed_by_its_synthesized_role(default_stack):
    """The IAM proof's way (tests/support/iam): the adapter's calls recorded against moto, each evaluated against the
    template's TransformerRole and the queues' policies."""
    route = build_topology(default_stack.config, "bucket").route("transformer")
    calls: list[dict] = []
    call_recorder.install(sink=calls.append)
    try:
        with mock_aws():
            sqs = boto3.client("sqs", region_name=REGION)
            sqs.create_queue(QueueName=route.dlq_name, Attributes={"FifoQueue": "true"})
            url = sqs.create_queue(
                QueueName=route.queue_name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
            )["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody="{}", MessageGroupId=str(route.message_group_id))
            [got] = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
            arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{route.queue_name}"
            message = QueuedMessage(got["MessageId"], got["ReceiptHandle"], got["Body"], 1, arn, route.message_group_id)
            calls.clear()  # the setup above is ours, not the function's
            queue = SqsMessageQueue(boto3.client("sqs", region_name=REGION), route.dlq_name)
            queue.retry_after([(message, 30)])
            queue.set_aside(message)
    finally:
        call_recorder.uninstall()
    recorded = [Call.from_record(route.function_name, record) for record in calls]
    assert sorted({(c.operation, c.params.get("QueueName", "")) for c in recorded}) == [
        ("ChangeMessageVisibilityBatch", ""),
        ("GetQueueUrl", route.dlq_name),
        ("GetQueueUrl", route.queue_name),
        ("SendMessage", ""),
    ]
    template = ResolvedTemplate(default_stack.template)
    findings = proof.evaluate_checks(template, proof.recorded_checks(template, recorded))
    assert not findings, proof.report("transformer queue calls", findings)
