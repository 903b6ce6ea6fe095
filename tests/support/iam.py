"""A role's policy from the synthesized template, with concrete ARNs, and S3 answering as AWS would under it.

What cannot run here is AWS's authorization: moto's S3 serves every request. `S3Authorization` stands in for it on
one boto3 client (a botocore before-call hook): each call is evaluated against the role's statements (explicit Deny,
then Allow, with the condition keys S3 sets), a denied call answers 403 AccessDenied, and a GetObject/HeadObject on a
missing key answers 404 only when s3:ListBucket on the bucket is allowed for a request without a prefix, else 403,
as the HeadObject and GetObject API references say under "Permissions"
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html).

Policy evaluation: moto's IAMPolicyStatement matches actions and resources (wildcards); conditions are evaluated here
for the operators the stack uses (StringEquals, StringLike, Bool), because moto ignores all but StringEquals and
counts an absent key as a match. An unknown operator or S3 operation raises, so nothing passes by not being checked.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from moto.iam.access_control import IAMPolicyStatement, PermissionResult

ACCOUNT = "123456789012"
REGION = "eu-west-3"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com"}


def resolve(value: Any, template: Mapping[str, Any], names: Mapping[str, str]) -> Any:
    """Fn::Join, Ref and Fn::GetAtt (Arn) to strings. `names`: logical id -> physical name (e.g. the bucket's)."""
    if isinstance(value, list):
        return [resolve(item, template, names) for item in value]
    if not isinstance(value, dict):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(resolve(part, template, names) for part in parts)
    if "Ref" in value:
        return PSEUDO.get(value["Ref"]) or names.get(value["Ref"], value["Ref"])
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        if attribute != "Arn":
            raise ValueError(f"Fn::GetAtt {logical_id}.{attribute}: only Arn is resolved here")
        kind = template["Resources"][logical_id]["Type"]
        name = names.get(logical_id, logical_id)
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        service = kind.split("::")[1].lower()
        return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{name}"
    return {key: resolve(item, template, names) for key, item in value.items()}


def role_statements(template: Mapping[str, Any], role_prefix: str, names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every statement of the IAM policies attached to the role whose logical id starts with `role_prefix`."""
    statements: list[dict[str, Any]] = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Policy" and logical_id.startswith(role_prefix):
            document = resource["Properties"]["PolicyDocument"]
            found = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
            statements.extend(resolve(found, template, names))
    if not statements:
        raise ValueError(f"no IAM policy for a role named {role_prefix}*")
    return statements


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(condition: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    for operator, keys in condition.items():
        for key, expected in keys.items():
            if key not in context:
                return False  # no IfExists operator is used: an absent key does not match
            actual = context[key]
            if operator == "StringEquals":
                matched = actual in _values(expected)
            elif operator == "StringLike":
                matched = any(fnmatch.fnmatchcase(actual, pattern) for pattern in _values(expected))
            elif operator == "Bool":
                matched = actual.lower() in (str(v).lower() for v in _values(expected))
            else:
                raise NotImplementedError(f"condition operator {operator} is not evaluated by tests/support/iam.py")
            if not matched:
                return False
    return True


def is_allowed(
    statements: Iterable[Mapping[str, Any]], action: str, resource: str, context: Mapping[str, str] | None = None
) -> bool:
    """AWS's order: an explicit Deny that applies wins; else an Allow that applies; else denied."""
    allowed = False
    for statement in statements:
        if "Condition" in statement and not _condition_holds(statement["Condition"], context or {}):
            continue  # the statement does not apply to this request
        matcher = IAMPolicyStatement({k: v for k, v in statement.items() if k != "Condition"})
        result = matcher.is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return False
        allowed = allowed or result == PermissionResult.PERMITTED
    return allowed


class S3Authorization:
    """AWS's authorization of one role in front of a moto-backed S3 client (see the module docstring)."""

    OBJECT_ACTIONS = {"GetObject": "s3:GetObject", "HeadObject": "s3:GetObject", "PutObject": "s3:PutObject"}

    def __init__(self, client: Any, unchecked: Any, statements: list[dict[str, Any]]) -> None:
        self.statements = statements
        self.unchecked = unchecked  # the same S3, without the hook: to learn whether a key exists
        self.calls: list[tuple[str, str, int]] = []  # (operation, resource, status) as AWS would answer
        client.meta.events.register("before-parameter-build.s3", self._keep_parameters)
        client.meta.events.register("before-call.s3", self._before_call)

    @staticmethod
    def _keep_parameters(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["authorized_parameters"] = dict(params)

    def _before_call(self, model: Any, context: Mapping[str, Any], **_: Any) -> tuple[AWSResponse, dict] | None:
        operation = model.name
        arguments = context["authorized_parameters"]
        bucket, key = arguments["Bucket"], arguments.get("Key", "")
        if operation in self.OBJECT_ACTIONS:
            resource = f"arn:aws:s3:::{bucket}/{key}"
            if not is_allowed(self.statements, self.OBJECT_ACTIONS[operation], resource):
                return self._answer(operation, resource, 403)
            if operation in ("GetObject", "HeadObject") and not self._exists(bucket, key):
                may_list = is_allowed(self.statements, "s3:ListBucket", f"arn:aws:s3:::{bucket}")
                return self._answer(operation, resource, 404 if may_list else 403)
        elif operation == "ListObjectsV2":
            resource = f"arn:aws:s3:::{bucket}"
            context_keys = {"s3:prefix": arguments["Prefix"]} if "Prefix" in arguments else {}
            if not is_allowed(self.statements, "s3:ListBucket", resource, context_keys):
                return self._answer(operation, resource, 403)
        else:
            raise NotImplementedError(f"S3 {operation} is not authorized by tests/support/iam.py")
        self.calls.append((operation, resource, 200))
        return None

    def _exists(self, bucket: str, key: str) -> bool:
        try:
            self.unchecked.head_object(Bucket=bucket, Key=key)
        except ClientError:
            return False
        return True

    def _answer(self, operation: str, resource: str, status: int) -> tuple[AWSResponse, dict]:
        self.calls.append((operation, resource, status))
        code = {403: "AccessDenied", 404: "NoSuchKey"}[status]
        error = {"Error": {"Code": code if operation != "HeadObject" else str(status), "Message": ""}}
        return AWSResponse("https://s3.amazonaws.com", status, {}, None), {
            **error,
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
