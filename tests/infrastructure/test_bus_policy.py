"""The pipeline bus accepts the pipeline's own sources only from the role that owns each (docs/aws.md, "Who may put
events on the bus"): a forged "Transform Completed" or "Collection Failed" is refused by EventBridge itself."""

from __future__ import annotations

from typing import Any

from contracts.events import CLI_SOURCE, COLLECTOR_SOURCE, SCHEDULER_SOURCE, TRANSFORMER_SOURCE
from tests.infrastructure.conftest import Synthesized

PERSON = "arn:aws:iam::123456789012:role/Admin"


def _role_keys(stack: Synthesized) -> dict[str, str]:
    """Logical id of each publisher's role: the collector's, the transformer's, the schedule's."""
    roles = stack.resources("AWS::IAM::Role")
    found = {}
    for owner, prefix in (("collector", "Collector"), ("transformer", "Transformer"), ("schedule", "Schedule")):
        [key] = [key for key in roles if key.startswith(prefix) and "Role" in key and "LogRetention" not in key]
        found[owner] = key
    return found


def _denies(statements: list[dict[str, Any]], source: str, caller: str, role_arns: dict[str, str]) -> bool:
    """Whether a Deny statement applies to a PutEvents of one entry `source` by `caller` (an ARN, or a role's
    logical id standing for its Fn::GetAtt Arn)."""
    for statement in statements:
        condition = statement["Condition"]
        sources = condition["ForAnyValue:StringEquals"]["events:source"]
        sources = sources if isinstance(sources, list) else [sources]
        allowed = condition["ArnNotEquals"]["aws:PrincipalArn"]
        allowed_key = allowed["Fn::GetAtt"][0]
        if source in sources and caller != allowed_key:
            return True
    return False


def test_each_pipeline_source_is_refused_on_the_bus_unless_its_own_role_puts_it(default_stack):
    policies = default_stack.resources("AWS::Events::EventBusPolicy").values()
    statements = [policy["Properties"]["Statement"] for policy in policies]
    assert statements and all(s["Effect"] == "Deny" and s["Action"] == "events:PutEvents" for s in statements)
    assert all(s["Principal"] == {"AWS": "*"} for s in statements)
    bus = default_stack.resources("AWS::Events::EventBus")
    assert all(policy["Properties"]["EventBusName"] == {"Ref": next(iter(bus))} for policy in policies)
    roles = _role_keys(default_stack)

    def refused(source: str, caller: str) -> bool:
        return _denies(statements, source, caller, roles)

    assert not refused(COLLECTOR_SOURCE, roles["collector"])
    assert not refused(TRANSFORMER_SOURCE, roles["transformer"])
    assert not refused(SCHEDULER_SOURCE, roles["schedule"])
    for source in (COLLECTOR_SOURCE, TRANSFORMER_SOURCE, SCHEDULER_SOURCE):
        assert refused(source, PERSON), source
    assert refused(TRANSFORMER_SOURCE, roles["collector"]) and refused(COLLECTOR_SOURCE, roles["transformer"])
    assert not refused(CLI_SOURCE, PERSON)  # `restaurant-pipeline run --aws` from a person's credentials
