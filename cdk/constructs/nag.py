"""cdk-nag (v3) acknowledgments: every one carries the sentence that justifies it.

cdk-nag v3 acknowledges findings one by one: IAM5 findings are named after the resource string as it
appears in the template, e.g. `AwsSolutions-IAM5[Resource::<SharedDataCA897D72.Arn>/raw/places/*]`.
`wildcard_finding` renders a CDK ARN (token) the same way, so acknowledgments follow logical-id changes.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Accept one cdk-nag finding on a construct and its children, with the reason a reviewer will read."""
    if len(reason.split()) < 5:
        raise ValueError(f"{rule_id}: give a real reason (a sentence), not {reason!r}")
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def render_for_nag(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag prints it: Ref -> <X>, GetAtt -> <X.Attr>, Join -> concat."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(render_for_nag(part) for part in parts)
    raise ValueError(f"cannot render {value!r} the way cdk-nag names findings")


def wildcard_finding(scope: IConstruct, resource: str) -> str | None:
    """The IAM5 finding id for a resource ARN, or None when it has no wildcard."""
    rendered = render_for_nag(Stack.of(scope).resolve(resource))
    return f"AwsSolutions-IAM5[Resource::{rendered}]" if "*" in rendered else None
