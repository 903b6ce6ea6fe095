"""An IAM policy evaluator for the IAM proof: moto's statement matcher, wrapped where it falls short of AWS.

What moto's `moto.iam.access_control` does right, and is used for: whether a statement's Action (or NotAction) and
Resource patterns match a request, with IAM's `*` wildcards. What it gets wrong, and this wrapper does instead
(measured on moto 5.x, pinned by tests/unit/platform/test_iam_evaluator.py):
- a statement whose Condition does not hold is DENIED by moto even when it is an Allow; AWS just skips it;
- every condition operator but StringEquals is ignored (holds), and a key absent from the request is ignored too:
  here every operator the stack's policies use is evaluated, with AWS's rules for absent keys;
- Principal elements other than "*" make moto skip the statement, a Service principal crashes it: here principals
  are matched (resource policies: bucket, queue, topic, key);
- patterns are regular expressions in moto (a `.` in an ARN matches any character, `?` is a quantifier) and actions
  are case-sensitive: here patterns are escaped, `?` is one character, and actions compare case-insensitively.

Evaluation follows "Policy evaluation logic" for one account
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): an explicit Deny in
any applicable policy wins; otherwise the request is allowed when the identity policy or the resource policy
allows it; otherwise it is implicitly denied. KMS is the exception: the key policy must allow, either the principal
itself or the account (which lets IAM policies decide)
(https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam).
Condition operators and absent keys: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
Several keys, several values, ForAnyValue/ForAllValues:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from moto.iam.access_control import IAMPolicyStatement, PermissionResult

ContextValue = str | Sequence[str]


class UnsupportedPolicy(ValueError):
    """A policy element this evaluator cannot decide: it refuses rather than guess."""


@dataclass(frozen=True)
class Request:
    """One authorization question: may `principal` do `action` on `resource`, in this request context?"""

    action: str
    resource: str
    principal: str  # an ARN (arn:aws:iam::ACCOUNT:role/NAME) or a service principal (events.amazonaws.com)
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.action} on {self.resource}"


@dataclass(frozen=True)
class Policy:
    """A policy document and where it comes from (for messages): 'role policy TransformerRoleDefaultPolicy...'."""

    name: str
    document: Mapping[str, Any]

    @property
    def statements(self) -> list[Mapping[str, Any]]:
        statements = self.document.get("Statement", [])
        return list(statements) if isinstance(statements, list) else [statements]


@dataclass(frozen=True)
class StatementRef:
    policy: str
    index: int
    statement: Mapping[str, Any]

    def describe(self) -> str:
        sid = self.statement.get("Sid")
        label = f"statement {sid!r}" if sid else f"statement #{self.index + 1}"
        return f"{label} of {self.policy}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    denied_by: StatementRef | None = None
    allowed_by: tuple[StatementRef, ...] = ()
    # Statements that name the action but did not apply (another resource, a condition): what a fix would touch.
    near_misses: tuple[tuple[StatementRef, str], ...] = ()


# -- matching ---------------------------------------------------------------------------------------------------


def _moto_pattern(pattern: str) -> str:
    """An IAM wildcard pattern as moto's matcher reads it: moto turns `*` into `.*` and anchors the rest as a
    regular expression, so everything else is escaped here and `?` becomes one character."""
    return "".join("*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def statement_matches(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    """Do the statement's Action/NotAction and Resource name this action on this resource (moto decides)?"""
    if "NotResource" in statement:
        raise UnsupportedPolicy(f"NotResource is not evaluated here: {json.dumps(statement)[:300]}")
    key = "NotAction" if "NotAction" in statement else "Action"
    bare = {
        "Effect": "Allow",
        key: [_moto_pattern(str(a).lower()) for a in _as_list(statement[key])],
        "Resource": [_moto_pattern(str(r)) for r in _as_list(statement.get("Resource", "*"))],
    }
    return IAMPolicyStatement(bare).is_action_permitted(action.lower(), resource) == PermissionResult.PERMITTED


def principal_matches(statement: Mapping[str, Any], principal: str, account: str) -> bool:
    """Does a resource policy statement's Principal name this principal? (identity policies have none)"""
    if "NotPrincipal" in statement:
        raise UnsupportedPolicy(f"NotPrincipal is not evaluated here: {json.dumps(statement)[:300]}")
    if "Principal" not in statement:
        return True
    named = statement["Principal"]
    if named == "*":
        return True
    if not isinstance(named, Mapping):
        raise UnsupportedPolicy(f"unexpected Principal {named!r}")
    for kind, values in named.items():
        for value in _as_list(values):
            if value == "*" and kind == "AWS":
                return True
            if kind == "Service" and value == principal:
                return True
            if kind == "AWS" and (value == principal or value in (account, f"arn:aws:iam::{account}:root")):
                # the account as principal: any of its principals whose own policy allows (same-account case)
                return value == principal or principal.startswith(f"arn:aws:iam::{account}:")
    return False


# -- conditions -------------------------------------------------------------------------------------------------

_STRING = {
    "StringEquals": lambda want, got: got == want,
    "StringEqualsIgnoreCase": lambda want, got: got.lower() == want.lower(),
    "StringLike": lambda want, got: _glob(want, got),
    "ArnEquals": lambda want, got: got == want,
    "ArnLike": lambda want, got: _glob(want, got),
    "Bool": lambda want, got: got.lower() == want.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _glob(pattern: str, value: str) -> bool:
    """IAM's multi-character `*` and single-character `?`, nothing else special (fnmatch's [] escaped)."""
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _operator_holds(operator: str, key: str, wanted: list[str], context: Mapping[str, ContextValue]) -> bool:
    qualifier = ""
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
        if qualifier not in ("ForAnyValue", "ForAllValues"):
            raise UnsupportedPolicy(f"unknown condition qualifier {qualifier!r}")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    present = key in context
    if base == "Null":
        return (not present) == (str(wanted[0]).lower() == "true")
    if not present:
        if if_exists:
            return True
        if qualifier == "ForAllValues":
            return True  # vacuously: no value fails
        return base in _NEGATED  # a negated operator holds for an absent key, every other one fails
    values = [str(v) for v in _as_list(context[key])]
    negated = base in _NEGATED
    compare = _STRING.get(_NEGATED.get(base, base))
    if compare is None:
        raise UnsupportedPolicy(f"condition operator {operator!r} is not evaluated here")

    def one(value: str) -> bool:
        matched = any(compare(str(w), value) for w in wanted)  # several policy values: OR (NOR when negated)
        return not matched if negated else matched

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    if qualifier == "ForAnyValue":
        return any(one(v) for v in values)
    if len(values) != 1:
        raise UnsupportedPolicy(f"{key} has several values; the policy must say ForAnyValue or ForAllValues")
    return one(values[0])


def conditions_hold(statement: Mapping[str, Any], context: Mapping[str, ContextValue]) -> tuple[bool, str]:
    """(holds, the first operator/key that did not) — operators AND, keys AND, values OR."""
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, wanted in keys.items():
            if not _operator_holds(operator, key, [str(w) for w in _as_list(wanted)], context):
                got = context.get(key, "<absent>")
                return False, f"{operator} {key} {json.dumps(wanted)} does not hold for {json.dumps(got)}"
    return True, ""


# -- evaluation -------------------------------------------------------------------------------------------------


def _applicable(
    policies: Iterable[Policy], request: Request, account: str
) -> tuple[list[StatementRef], list[StatementRef], list[tuple[StatementRef, str]]]:
    allows, denies, misses = [], [], []
    for policy in policies:
        for index, statement in enumerate(policy.statements):
            ref = StatementRef(policy.name, index, statement)
            key = "NotAction" if "NotAction" in statement else "Action"
            if not statement_matches({key: statement[key], "Resource": "*"}, request.action, "*"):
                continue  # another action: not even a near miss
            if not principal_matches(statement, request.principal, account):
                continue
            if not statement_matches(statement, request.action, request.resource):
                misses.append((ref, f"resources {json.dumps(statement.get('Resource'))}"))
                continue
            holds, why = conditions_hold(statement, request.context)
            if not holds:
                misses.append((ref, why))
                continue
            (allows if statement.get("Effect") == "Allow" else denies).append(ref)
    return allows, denies, misses


def evaluate(
    request: Request,
    identity: Sequence[Policy],
    resource_policy: Policy | None = None,
    account: str = "123456789012",
    key_policy: bool = False,
) -> Decision:
    """Is `request` allowed by these identity policies and this resource policy (same account)?

    With `key_policy`, `resource_policy` is a KMS key policy: it must allow, directly or by naming the account
    (then the identity policies decide)."""
    identity_allows, identity_denies, identity_misses = _applicable(identity, request, account)
    resource_allows: list[StatementRef] = []
    resource_denies: list[StatementRef] = []
    resource_misses: list[tuple[StatementRef, str]] = []
    if resource_policy is not None:
        resource_allows, resource_denies, resource_misses = _applicable([resource_policy], request, account)
    misses = tuple(identity_misses + resource_misses)
    denies = identity_denies + resource_denies
    if denies:
        return Decision(False, f"explicitly denied by {denies[0].describe()}", denied_by=denies[0], near_misses=misses)
    if key_policy:
        assert resource_policy is not None
        delegated = [ref for ref in resource_allows if _names_account(ref.statement, account)]
        direct = [ref for ref in resource_allows if ref not in delegated]
        if direct:
            return Decision(True, f"allowed by {direct[0].describe()}", allowed_by=tuple(direct))
        if delegated and identity_allows:
            return Decision(True, f"allowed by {identity_allows[0].describe()}", allowed_by=tuple(identity_allows))
        if not delegated:
            return Decision(False, f"the key policy {resource_policy.name} allows no such request", near_misses=misses)
        return Decision(False, _implicit(request, identity), near_misses=misses)
    # A resource policy naming the account (not this principal) delegates to the identity policies: no grant by itself.
    allows = identity_allows + [ref for ref in resource_allows if not _names_account(ref.statement, account)]
    if allows:
        return Decision(True, f"allowed by {allows[0].describe()}", allowed_by=tuple(allows))
    evaluated = [*identity, *([resource_policy] if resource_policy else [])]
    return Decision(False, _implicit(request, evaluated), near_misses=misses)


def _names_account(statement: Mapping[str, Any], account: str) -> bool:
    named = statement.get("Principal")
    if not isinstance(named, Mapping):
        return False
    return any(v in (account, f"arn:aws:iam::{account}:root") for v in _as_list(named.get("AWS", [])))


def _implicit(request: Request, policies: Sequence[Policy]) -> str:
    names = ", ".join(p.name for p in policies) or "no policy"
    return f"no statement allows {request.describe()} (implicit deny; evaluated: {names})"
