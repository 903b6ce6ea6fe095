"""The transformer settles a failed batch's messages itself (services/transformer/adapters/sqs.py): its role may
change their visibility on its queue and copy a final failure's message to its dead-letter queue, and its
environment names that dead-letter queue."""

from __future__ import annotations

from restaurant_pipeline.topology import build_topology
from tests.infrastructure.conftest import Synthesized


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
