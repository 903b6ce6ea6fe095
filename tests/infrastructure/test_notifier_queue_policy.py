"""The notifier's queue takes messages from the notifier's EventBridge rule only (docs/iam.md; docs/notifier.md, "Which
events are mailed"): a person of the account, however broad their own rights, cannot put a forged outcome straight
onto it. Evaluated with the project's IAM evaluator (tests/support/iam) over the synthesized template: the queue's
resource policy with each sender's identity policy, as AWS combines them within one account."""

from __future__ import annotations

from tests.infrastructure.conftest import Synthesized
from tests.support.iam.evaluator import Decision, Policy, Request, evaluate
from tests.support.iam.template import ResolvedTemplate

PERSON = "arn:aws:iam::123456789012:role/Admin"  # an administrator: sqs:* on everything
PERSON_POLICY = Policy("administrator", {"Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]})
EVENTS = "events.amazonaws.com"


def _logical(stack: Synthesized, kind: str, prefix: str) -> str:
    [key] = [key for key in stack.resources(kind) if key.startswith(prefix)]
    return key


def _send(stack: Synthesized, queue: str, principal: str, identity: list[Policy], source_arn: str | None) -> Decision:
    template = ResolvedTemplate(stack.template)
    queue_arn = template.get_att(queue, "Arn")
    policy = template.resource_policy("AWS::SQS::QueuePolicy", queue_arn)
    assert policy is not None, "the notifier queue has no queue policy"
    context = {"aws:PrincipalArn": principal, "aws:SecureTransport": "true"}
    if source_arn is not None:
        context["aws:SourceArn"] = source_arn
    return evaluate(
        Request("sqs:SendMessage", queue_arn, principal, context), identity, policy, account=template.account
    )


def test_only_the_notifier_rule_can_send_to_the_notifier_queue(default_stack):
    template = ResolvedTemplate(default_stack.template)
    queue = _logical(default_stack, "AWS::SQS::Queue", "NotifierQueue")
    rule_arn = template.get_att(_logical(default_stack, "AWS::Events::Rule", "NotifierRule"), "Arn")
    other_rule = template.get_att(_logical(default_stack, "AWS::Events::Rule", "CollectorRule"), "Arn")

    delivered = _send(default_stack, queue, EVENTS, [], source_arn=rule_arn)
    person = _send(default_stack, queue, PERSON, [PERSON_POLICY], source_arn=None)
    another_rule = _send(default_stack, queue, EVENTS, [], source_arn=other_rule)

    assert delivered.allowed, delivered.reason
    assert not person.allowed and person.denied_by is not None, person.reason
    assert person.denied_by.statement.get("Sid") == "OnlyTheNotifierRuleSends"
    assert not another_rule.allowed, another_rule.reason


def test_the_deny_leaves_the_other_queues_alone(default_stack):
    """The transformer's function sets failed messages aside in its own dead-letter queue (SendMessage): unaffected."""
    for service in ("Collector", "Transformer"):
        queue = _logical(default_stack, "AWS::SQS::Queue", f"{service}Queue")
        decision = _send(default_stack, queue, PERSON, [PERSON_POLICY], source_arn=None)
        assert decision.allowed, decision.reason
