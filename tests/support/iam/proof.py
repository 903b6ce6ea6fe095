"""The IAM proof: every recorded call, every call AWS makes for a function, and every delivery by a service, each
evaluated against the synthesized template's policies. docs/iam.md says what it covers and what it cannot.

Three sources of authorization requests:
- recorded: what each function's code called (restaurant_pipeline/local/call_recorder.py), mapped by calls.py;
- platform: what Lambda itself does with the function's role, which no code of ours calls:
  poll and delete from the queue (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-permissions),
  write the function's logs (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-permissions.html),
  send traces when active tracing is on (https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html#services-xray-permissions);
- deliveries: services writing to our resources under their resource policies: each rule's target queue and
  target DLQ by events.amazonaws.com with aws:SourceArn the rule
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions,
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html#eb-dlq-perms), each alarm's action
  topic and its KMS key by cloudwatch.amazonaws.com
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html), and the schedule's
  role putting on the bus and into its DLQ (https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.support.iam.calls import SECURE, Call, Mapper, Need
from tests.support.iam.evaluator import Decision, Policy, Request, evaluate
from tests.support.iam.template import ResolvedTemplate


@dataclass(frozen=True)
class Check:
    """One authorization request and where it comes from ('collector: s3.PutObject(...)', 'Lambda polls ...')."""

    principal: str  # role ARN or service principal
    who: str  # function name, 'events.amazonaws.com', the schedule
    source: str
    need: Need
    identity: tuple[Policy, ...] = ()


@dataclass(frozen=True)
class Finding:
    check: Check
    decision: Decision

    def message(self) -> str:
        need = self.check.need
        lines = [f"DENIED {need.action} on {need.resource}" + (f" ({need.why})" if need.why else "")]
        lines.append(f"  call: {self.check.source}")
        if need.context:
            lines.append(f"  context: {json.dumps(dict(need.context), sort_keys=True)}")
        lines.append(f"  why: {self.decision.reason}")
        for ref, reason in self.decision.near_misses:
            if ref.statement.get("Effect") != "Allow":
                continue
            lines.append(f"  not applying: {ref.describe()}: {reason}")
        if not self.decision.denied_by:
            lines.append(f"  missing: an Allow of {need.action} on {need.resource} in {self._where()}")
        return "\n".join(lines)

    def _where(self) -> str:
        if self.check.identity:
            return self.check.identity[0].name
        return f"the {self.check.need.policy_kind} of {self.check.need.policy_target}"


@dataclass(frozen=True)
class Expected:
    """A denial known and fixed elsewhere (who, action, resource pattern with * wildcards, why)."""

    who: str
    action: str
    resource: str
    reason: str

    def matches(self, finding: Finding) -> bool:
        need = finding.check.need
        return (
            finding.check.who == self.who
            and need.action.lower() == self.action.lower()
            and fnmatch.fnmatchcase(need.resource, self.resource)
        )


def recorded_checks(template: ResolvedTemplate, calls: Iterable[Call]) -> list[Check]:
    """The requests behind every recorded call, deduplicated (first call kept for the message)."""
    mapper = Mapper(template.account, topic_key=lambda topic: topic_key(template, topic))
    seen: dict[tuple[Any, ...], Check] = {}
    for call in calls:
        identity = tuple(template.role_policies(call.function))
        principal = template.role_arn(call.function)
        for need in mapper.needs(call):
            key = (call.function, need.action, need.resource, json.dumps(dict(need.context), sort_keys=True))
            seen.setdefault(key, Check(principal, call.function, call.describe(), need, identity))
    return list(seen.values())


def topic_key(template: ResolvedTemplate, topic_arn: str) -> str | None:
    for logical, resource in template.of_type("AWS::SNS::Topic").items():
        if template.ref(logical) == topic_arn:
            key = resource["Properties"].get("KmsMasterKeyId")
            return str(template.resolve(key)) if key else None
    return None


def platform_checks(template: ResolvedTemplate, function_name: str) -> list[Check]:
    """What Lambda does with the function's role: the SQS event source, the logs, the traces."""
    logical, function = template.function(function_name)
    props = function["Properties"]
    identity = tuple(template.role_policies(function_name))
    principal = template.role_arn(function_name)
    checks = []
    for mapping in template.of_type("AWS::Lambda::EventSourceMapping").values():
        if mapping["Properties"]["FunctionName"] != {"Ref": logical}:
            continue
        queue = str(template.resolve(mapping["Properties"]["EventSourceArn"]))
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
            need = Need(action, queue, SECURE, "AWS::SQS::QueuePolicy", queue)
            checks.append(
                Check(principal, function_name, f"Lambda's event source mapping polls {queue}", need, identity)
            )
    group = str(template.resolve(props["LoggingConfig"]["LogGroup"])) if "LoggingConfig" in props else None
    group = group or f"/aws/lambda/{function_name}"
    stream = f"arn:aws:logs:{template.region}:{template.account}:log-group:{group}:log-stream:2026/01/01/[$LATEST]x"
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        checks.append(
            Check(
                principal,
                function_name,
                f"Lambda writes the function's logs to {group}",
                Need(action, stream, SECURE),
                identity,
            )
        )
    if props.get("TracingConfig", {}).get("Mode") == "Active":
        for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords"):
            checks.append(
                Check(
                    principal,
                    function_name,
                    "Lambda sends the function's traces (active tracing)",
                    Need(action, "*", SECURE),
                    identity,
                )
            )
    return checks


def delivery_checks(template: ResolvedTemplate) -> list[Check]:
    """Services delivering into the stack's resources: rules to queues, alarms to the topic, the schedule to the bus."""
    checks: list[Check] = []
    for logical, rule in template.of_type("AWS::Events::Rule").items():
        rule_arn = template.get_att(logical, "Arn")
        context = {**SECURE, "aws:SourceArn": rule_arn, "aws:SourceAccount": template.account}
        for target in rule["Properties"].get("Targets", []):
            for arn in (target["Arn"], target.get("DeadLetterConfig", {}).get("Arn")):
                queue = str(template.resolve(arn)) if arn else None
                if queue and queue.startswith("arn:aws:sqs:"):
                    need = Need("sqs:SendMessage", queue, context, "AWS::SQS::QueuePolicy", queue)
                    checks.append(
                        Check(
                            "events.amazonaws.com", "events.amazonaws.com", f"rule {rule_arn} delivers to {queue}", need
                        )
                    )
    alarms = {**template.of_type("AWS::CloudWatch::Alarm"), **template.of_type("AWS::CloudWatch::CompositeAlarm")}
    for logical, alarm in alarms.items():
        name = template.resolve(alarm["Properties"].get("AlarmName", logical))
        alarm_arn = f"arn:aws:cloudwatch:{template.region}:{template.account}:alarm:{name}"
        context = {**SECURE, "aws:SourceArn": alarm_arn, "aws:SourceAccount": template.account}
        properties = alarm["Properties"]
        actions = [*properties.get("AlarmActions", []), *properties.get("OKActions", [])]
        for topic in sorted({str(template.resolve(action)) for action in actions}):
            source = f"alarm {name} notifies {topic}"
            need = Need("sns:Publish", topic, context, "AWS::SNS::TopicPolicy", topic)
            checks.append(Check("cloudwatch.amazonaws.com", "cloudwatch.amazonaws.com", source, need))
            key = topic_key(template, topic)
            if key:
                for kms_action in ("kms:GenerateDataKey", "kms:Decrypt"):
                    need = Need(kms_action, key, context, "AWS::KMS::Key", key, "the topic's KMS key")
                    checks.append(Check("cloudwatch.amazonaws.com", "cloudwatch.amazonaws.com", source, need))
    for schedule in template.of_type("AWS::Scheduler::Schedule").values():
        target = schedule["Properties"]["Target"]
        role_arn = str(template.resolve(target["RoleArn"]))
        role_logical = target["RoleArn"]["Fn::GetAtt"][0]
        identity = tuple(template.policies_of_role(role_logical))
        bus = str(template.resolve(target["Arn"]))
        params = target.get("EventBridgeParameters", {})
        context = {
            **SECURE,
            "events:source": params.get("Source", ""),
            "events:detail-type": params.get("DetailType", ""),
        }
        who = "the schedule"
        checks.append(
            Check(
                role_arn,
                who,
                f"the schedule puts on {bus}",
                Need("events:PutEvents", bus, context, "AWS::Events::EventBusPolicy", bus),
                identity,
            )
        )
        if "DeadLetterConfig" in target:
            dlq = str(template.resolve(target["DeadLetterConfig"]["Arn"]))
            need = Need("sqs:SendMessage", dlq, SECURE, "AWS::SQS::QueuePolicy", dlq)
            checks.append(Check(role_arn, who, f"the schedule's dead letters go to {dlq}", need, identity))
    return checks


def evaluate_checks(template: ResolvedTemplate, checks: Sequence[Check]) -> list[Finding]:
    """Every check's decision; the denied ones are the findings."""
    findings = []
    for check in checks:
        need = check.need
        resource_policy = None
        if need.policy_kind:
            resource_policy = template.resource_policy(need.policy_kind, need.policy_target or need.resource)
            if need.policy_kind == "AWS::KMS::Key" and resource_policy is None:
                raise ValueError(f"no key policy for {need.resource} in the template")
        # aws:PrincipalArn is in every request an IAM role makes (the bus policy conditions on it)
        context = {"aws:PrincipalArn": check.principal, **need.context}
        request = Request(need.action, need.resource, check.principal, context)
        decision = evaluate(
            request,
            list(check.identity),
            resource_policy,
            account=template.account,
            key_policy=need.policy_kind == "AWS::KMS::Key",
        )
        if not decision.allowed:
            findings.append(Finding(check, decision))
    return findings


def split(findings: Sequence[Finding], expected: Sequence[Expected]) -> tuple[list[Finding], list[Expected]]:
    """(findings no expectation covers, expectations no finding matched: stale, to remove)."""
    unexpected = [f for f in findings if not any(e.matches(f) for e in expected)]
    stale = [e for e in expected if not any(e.matches(f) for f in findings)]
    return unexpected, stale


def report(title: str, findings: Sequence[Finding]) -> str:
    return f"{title}: {len(findings)}\n\n" + "\n\n".join(f.message() for f in findings)


def summary(checks: Sequence[Check]) -> Mapping[str, int]:
    counts: dict[str, int] = {}
    for check in checks:
        counts[check.who] = counts.get(check.who, 0) + 1
    return counts
