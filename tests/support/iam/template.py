"""The synthesized CloudFormation template, resolved for one account, region and set of resource names.

Intrinsics resolved: Ref (resources and the pseudo parameters), Fn::GetAtt ... Arn, Fn::Join, Fn::Sub, Fn::Select
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html). What a Ref or
an Arn returns per resource type is CloudFormation's (the "Return values" section of each resource's page, e.g.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucket.html#aws-resource-s3-bucket-return-values).

Names CloudFormation generates (the bucket, the tables, the secret, the key) are bound to the names the local stack
gives the same thing, through the function environment variables both set from one table
(restaurant_pipeline.model.topology.service_environment): a template variable `BUCKET_NAME: {"Ref": "SharedData..."}`
and the local function's `BUCKET_NAME=restaurant-pipeline-local` bind SharedData... to that bucket. The recorded
calls and the template then name the same resources; a name they disagree on shows up as a denied call.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.iam.evaluator import Policy

ACCOUNT = "123456789012"  # moto's default account: the recorded ARNs carry it
REGION = "eu-west-3"


class Unresolvable(ValueError):
    pass


@dataclass
class ResolvedTemplate:
    template: Mapping[str, Any]
    account: str = ACCOUNT
    region: str = REGION
    bindings: dict[str, str] = field(default_factory=dict)  # logical id -> what its Ref returns

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        return self.template["Resources"]

    # -- intrinsics ---------------------------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self.ref(argument)
            if name == "Fn::GetAtt":
                logical, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(logical, attribute)
            if name == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self.resolve(p)) for p in parts)
            if name == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(index)]
            if name == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else argument
                resolved = {k: self.resolve(v) for k, v in variables.items()}

                def substitute(match: re.Match[str]) -> str:
                    name = match.group(1)
                    if name in resolved:
                        return str(resolved[name])
                    if "." in name:
                        return str(self.get_att(*name.split(".", 1)))
                    return str(self.ref(name))

                return re.sub(r"\$\{([^}!]+)\}", substitute, text)
            if name.startswith("Fn::") or name == "Condition":
                raise Unresolvable(f"{name} is not resolved here")
        return {k: self.resolve(v) for k, v in value.items()}

    def ref(self, logical: str) -> str:
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "restaurant-pipeline",
        }
        if logical in pseudo:
            return pseudo[logical]
        if logical in self.bindings:
            return self.bindings[logical]
        resource = self.resources.get(logical)
        if resource is None:
            raise Unresolvable(f"Ref {logical}: no such resource or parameter")
        kind, props = resource["Type"], resource.get("Properties", {})
        name = self._name(logical)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{self.region}:{self.account}:{name}"
        if kind == "AWS::SecretsManager::Secret":
            return f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{name}-AbCdEf"
        if kind == "AWS::KMS::Key":
            digest = hashlib.sha256(logical.encode()).hexdigest()
            return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"
        if kind in ("AWS::IAM::Role", "AWS::Lambda::Function", "AWS::Events::EventBus", "AWS::Logs::LogGroup"):
            return name
        if kind in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Athena::WorkGroup", "AWS::Events::Rule"):
            return name
        if kind == "AWS::Glue::Database":
            return str(self.resolve(props["DatabaseInput"]["Name"]))
        return logical

    def get_att(self, logical: str, attribute: str) -> str:
        resource = self.resources.get(logical)
        if resource is None:
            raise Unresolvable(f"Fn::GetAtt {logical}.{attribute}: no such resource")
        kind = resource["Type"]
        if attribute != "Arn":
            if kind == "AWS::SQS::Queue" and attribute == "QueueName":
                return self._name(logical)
            raise Unresolvable(f"Fn::GetAtt {logical}.{attribute} ({kind}) is not resolved here")
        name, region, account = self.ref(logical), self.region, self.account
        arns = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{region}:{account}:{self._name(logical)}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{region}:{account}:table/{name}",
            "AWS::Events::EventBus": f"arn:aws:events:{region}:{account}:event-bus/{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{name}:*",
            "AWS::KMS::Key": f"arn:aws:kms:{region}:{account}:key/{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
            "AWS::SecretsManager::Secret": name,
            "AWS::SNS::Topic": name,
        }
        if kind == "AWS::Events::Rule":
            bus = self.resolve(resource["Properties"].get("EventBusName", "default"))
            prefix = "" if bus == "default" else f"{bus}/"
            return f"arn:aws:events:{region}:{account}:rule/{prefix}{name}"
        if kind not in arns:
            raise Unresolvable(f"Fn::GetAtt {logical}.Arn ({kind}) is not resolved here")
        return arns[kind]

    def _name(self, logical: str) -> str:
        """The physical name: the template's name property, else a bound name, else one made from the logical id."""
        if logical in self.bindings:
            return self.bindings[logical]
        resource = self.resources[logical]
        props = resource.get("Properties", {})
        for key in (
            "QueueName",
            "TopicName",
            "Name",
            "BucketName",
            "TableName",
            "FunctionName",
            "LogGroupName",
            "RoleName",
        ):
            if key in props:
                return str(self.resolve(props[key]))
        return logical.lower()

    # -- what the proof reads -----------------------------------------------------------------------------------
    def of_type(self, kind: str) -> dict[str, Mapping[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    def function(self, function_name: str) -> tuple[str, Mapping[str, Any]]:
        for logical, resource in self.of_type("AWS::Lambda::Function").items():
            if self.resolve(resource["Properties"].get("FunctionName")) == function_name:
                return logical, resource
        raise KeyError(f"no function {function_name} in the template")

    def bind_environment(self, function_name: str, local_environment: Mapping[str, str]) -> None:
        """Bind every resource a function's template environment refers to (`{"Ref": X}`) to the value the local
        function's variable of the same name holds."""
        _, function = self.function(function_name)
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        for name, value in variables.items():
            if isinstance(value, Mapping) and set(value) == {"Ref"} and name in local_environment:
                logical = value["Ref"]
                if logical in self.resources:
                    self.bindings[logical] = local_environment[name]

    def role_arn(self, function_name: str) -> str:
        _, function = self.function(function_name)
        return str(self.resolve(function["Properties"]["Role"]))

    def role_policies(self, function_name: str) -> list[Policy]:
        """Every identity policy of the function's role: its inline policies and the AWS::IAM::Policy resources
        attached to it. A managed policy cannot be read from the template: refused."""
        _, function = self.function(function_name)
        return self.policies_of_role(function["Properties"]["Role"]["Fn::GetAtt"][0])

    def policies_of_role(self, role_logical: str) -> list[Policy]:
        role = self.resources[role_logical]["Properties"]
        if role.get("ManagedPolicyArns"):
            raise Unresolvable(f"{role_logical} has managed policies, which the template does not contain")
        policies = [
            Policy(f"role {role_logical} inline policy {p['PolicyName']}", self.resolve(p["PolicyDocument"]))
            for p in role.get("Policies", [])
        ]
        for logical, resource in self.of_type("AWS::IAM::Policy").items():
            props = resource["Properties"]
            if {"Ref": role_logical} in props.get("Roles", []):
                policies.append(Policy(f"role policy {logical}", self.resolve(props["PolicyDocument"])))
        return policies

    def resource_policy(self, kind: str, target_arn: str) -> Policy | None:
        """The resource policy protecting `target_arn`: a bucket's, a queue's, a topic's, or a key's."""
        if kind == "AWS::KMS::Key":
            for logical, resource in self.of_type(kind).items():
                if self.get_att(logical, "Arn") == target_arn:
                    return Policy(f"key policy of {logical}", self.resolve(resource["Properties"]["KeyPolicy"]))
            return None
        if kind == "AWS::Events::EventBusPolicy":
            # one resource per statement (what PutPermission manages), all on the bus they name
            bus = target_arn.rsplit("/", 1)[-1]
            statements = [
                self.resolve(resource["Properties"]["Statement"])
                for resource in self.of_type(kind).values()
                if self.resolve(resource["Properties"]["EventBusName"]) == bus
            ]
            return Policy(f"bus policy of {bus}", {"Statement": statements}) if statements else None
        attached = {
            "AWS::S3::BucketPolicy": ("Bucket", lambda v: f"arn:aws:s3:::{v}"),
            "AWS::SQS::QueuePolicy": ("Queues", self._queue_arn),
            "AWS::SNS::TopicPolicy": ("Topics", lambda v: v),
        }
        key, to_arn = attached[kind]
        for logical, resource in self.of_type(kind).items():
            props = resource["Properties"]
            targets = props[key] if isinstance(props[key], list) else [props[key]]
            if any(to_arn(self.resolve(t)) == target_arn for t in targets):
                label = {
                    "AWS::S3::BucketPolicy": "bucket",
                    "AWS::SQS::QueuePolicy": "queue",
                    "AWS::SNS::TopicPolicy": "topic",
                }
                return Policy(f"{label[kind]} policy {logical}", self.resolve(props["PolicyDocument"]))
        return None

    def _queue_arn(self, url: str) -> str:
        region = url.split("//sqs.", 1)[1].split(".", 1)[0]
        account, name = url.rstrip("/").split("/")[-2:]
        return f"arn:aws:sqs:{region}:{account}:{name}"
