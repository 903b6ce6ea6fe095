"""S3 answering as AWS would under one role, in front of a moto-backed client (moto's S3 serves every request).

`S3Authorization` hooks one boto3 client (botocore's before-call event): each call is evaluated against the role's
policies (tests/support/iam/evaluator.py: explicit Deny, then Allow, with the condition keys S3 sets); a denied call
answers 403 AccessDenied, and a GetObject/HeadObject on a missing key answers 404 only when s3:ListBucket on the
bucket is allowed for a request without a prefix, else 403, as the HeadObject and GetObject API references say under
"Permissions" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html). An S3 operation it does not know raises: nothing
passes by not being checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from tests.support.iam.evaluator import Policy, Request, evaluate

ROLE = "arn:aws:iam::123456789012:role/under-test"


class S3Authorization:
    """AWS's authorization of one role in front of a moto-backed S3 client (see the module docstring)."""

    OBJECT_ACTIONS = {"GetObject": "s3:GetObject", "HeadObject": "s3:GetObject", "PutObject": "s3:PutObject"}

    def __init__(self, client: Any, unchecked: Any, policies: Sequence[Policy]) -> None:
        self.policies = list(policies)
        self.unchecked = unchecked  # the same S3, without the hook: to learn whether a key exists
        self.calls: list[tuple[str, str, int]] = []  # (operation, resource, status) as AWS would answer
        client.meta.events.register("before-parameter-build.s3", self._keep_parameters)
        client.meta.events.register("before-call.s3", self._before_call)

    def allowed(self, action: str, resource: str, context: Mapping[str, str] | None = None) -> bool:
        return evaluate(Request(action, resource, ROLE, dict(context or {})), self.policies).allowed

    @staticmethod
    def _keep_parameters(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["authorized_parameters"] = dict(params)

    def _before_call(self, model: Any, context: Mapping[str, Any], **_: Any) -> tuple[AWSResponse, dict] | None:
        operation = model.name
        arguments = context["authorized_parameters"]
        bucket, key = arguments["Bucket"], arguments.get("Key", "")
        if operation in self.OBJECT_ACTIONS:
            resource = f"arn:aws:s3:::{bucket}/{key}"
            if not self.allowed(self.OBJECT_ACTIONS[operation], resource):
                return self._answer(operation, resource, 403)
            if operation in ("GetObject", "HeadObject") and not self._exists(bucket, key):
                may_list = self.allowed("s3:ListBucket", f"arn:aws:s3:::{bucket}")
                return self._answer(operation, resource, 404 if may_list else 403)
        elif operation == "ListObjectsV2":
            resource = f"arn:aws:s3:::{bucket}"
            context_keys = {"s3:prefix": arguments["Prefix"]} if "Prefix" in arguments else {}
            if not self.allowed("s3:ListBucket", resource, context_keys):
                return self._answer(operation, resource, 403)
        else:
            raise NotImplementedError(f"S3 {operation} is not authorized by tests/support/iam/s3_authorization.py")
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
