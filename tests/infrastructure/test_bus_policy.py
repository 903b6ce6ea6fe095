"""The pipeline bus accepts the pipeline's own sources only from the role that owns each (docs/aws.md, "Security
notes"): a forged "Transform Completed" or "Collection Failed" is refused by EventBridge itself. Evaluated with the
project's IAM evaluator (tests/support/iam) over the synthesized template: the roles' identity policies and the bus's
resource policy, as AWS combines them within one account."""

from __future__ import annotations

from contracts.events import CLI_SOURCE, COLLECTOR_SOURCE, SCHEDULER_SOURCE, TRANSFORMER_SOURCE
from tests.infrastructure.conftest import Synthesized
from tests.support.iam.evaluator import Policy, Request, evaluate
from tests.support.iam.template import ResolvedTemplate

# A person of the account allowed to put any event anywhere (an administrator).
PERSON = "arn:aws:iam::123456789012:role/Admin"
PERSON_POLICY = Policy(
    "administrator", {"Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}]}
)


def _role(stack: Synthesized, prefix: str) -> str:
    [key] = [
        key
        for key in stack.resources("AWS::IAM::Role")
        if key.startswith(prefix) and key.removeprefix(prefix).startswith("Role")
    ]
    return key


def test_each_pipeline_source_is_refused_on_the_bus_unless_its_own_role_puts_it(default_stack):
    template = ResolvedTemplate(default_stack.template)
    [bus] = default_stack.resources("AWS::Events::EventBus")
    bus_arn = template.get_att(bus, "Arn")
    bus_policy = template.resource_policy("AWS::Events::EventBusPolicy", bus_arn)
    assert bus_policy is not None

    def allowed(source: str, role: str | None) -> bool:
        principal = template.get_att(role, "Arn") if role else PERSON
        identity = template.policies_of_role(role) if role else [PERSON_POLICY]
        context = {"aws:PrincipalArn": principal, "events:source": source}
        request = Request("events:PutEvents", bus_arn, principal, context)
        return evaluate(request, identity, bus_policy, account=template.account).allowed

    collector, transformer, schedule = (_role(default_stack, p) for p in ("Collector", "Transformer", "Schedule"))
    assert allowed(COLLECTOR_SOURCE, collector)
    assert allowed(TRANSFORMER_SOURCE, transformer)
    assert allowed(SCHEDULER_SOURCE, schedule)
    for source in (COLLECTOR_SOURCE, TRANSFORMER_SOURCE, SCHEDULER_SOURCE):
        assert not allowed(source, None), f"a person could put {source}"
    assert not allowed(TRANSFORMER_SOURCE, collector) and not allowed(COLLECTOR_SOURCE, transformer)
    assert allowed(CLI_SOURCE, None)  # `restaurant-pipeline run --aws` from a person's credentials
