"""The alarms of the synthesized stack are the shared declarations (restaurant_pipeline/model/alarms.py), one for one:
the same metric, threshold and missing-data treatment, the topic as ALARM and OK action of every alarm that notifies,
and "no successful run" silent before the first success. The local stack evaluates the same declarations
(tests/unit/platform/test_local_alarms.py)."""

from __future__ import annotations

from typing import Any

import pytest

from restaurant_pipeline.model.alarms import (
    A_TRANSFORM_HAS_PASSED,
    NO_SUCCESSFUL_RUN,
    NO_TRANSFORM_PASSED,
    Alarms,
    MetricAlarm,
    pipeline_alarms,
)
from restaurant_pipeline.model.topology import build_topology
from services.common.names import Metric
from tests.infrastructure.conftest import Synthesized

KINDS = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")


def declared(stack: Synthesized) -> Alarms:
    return pipeline_alarms(build_topology(stack.config, bucket="any"))


def template_alarms(stack: Synthesized) -> dict[str, dict[str, Any]]:
    """AlarmName -> properties, metric and composite alarms alike."""
    found: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        for resource in stack.resources(kind).values():
            properties = resource["Properties"]
            found[properties["AlarmName"]] = properties
    return found


def logical_id_of(stack: Synthesized, kind: str, **properties: Any) -> str:
    matches = [
        key
        for key, resource in stack.resources(kind).items()
        if all(resource["Properties"].get(k) == v for k, v in properties.items())
    ]
    assert len(matches) == 1, (kind, properties, matches)
    return matches[0]


def topic_ref(stack: Synthesized) -> dict[str, str]:
    (topic,) = stack.resources("AWS::SNS::Topic")
    return {"Ref": topic}


def dimension_value(stack: Synthesized, alarm: MetricAlarm, key: str) -> Any:
    """What the template must hold for a declared dimension: the stack's own queue or function by its name."""
    value = alarm.metric.dimension(key)
    if key == "QueueName":
        return {"Fn::GetAtt": [logical_id_of(stack, "AWS::SQS::Queue", QueueName=value), "QueueName"]}
    if key == "FunctionName":
        return {"Ref": logical_id_of(stack, "AWS::Lambda::Function", FunctionName=value)}
    return value


@pytest.fixture(params=["default", "changed"])
def stack(request, synthesized) -> Synthesized:
    return getattr(synthesized, request.param)


def test_every_alarm_in_the_template_is_a_shared_declaration_and_every_declaration_is_deployed(stack):
    assert sorted(template_alarms(stack)) == sorted(alarm.name for alarm in declared(stack).all)


def test_each_metric_alarm_is_its_declaration(stack):
    alarms = template_alarms(stack)
    for alarm in declared(stack).metric_alarms:
        properties = alarms[alarm.name]
        assert {
            "Namespace": properties["Namespace"],
            "MetricName": properties["MetricName"],
            "Statistic": properties["Statistic"],
            "Period": properties["Period"],
            "Threshold": properties["Threshold"],
            "ComparisonOperator": properties["ComparisonOperator"],
            "EvaluationPeriods": properties["EvaluationPeriods"],
            "DatapointsToAlarm": properties["DatapointsToAlarm"],
            "TreatMissingData": properties["TreatMissingData"],
            "AlarmDescription": properties["AlarmDescription"],
        } == {
            "Namespace": alarm.metric.namespace,
            "MetricName": alarm.metric.name,
            "Statistic": alarm.metric.statistic,
            "Period": alarm.metric.period_seconds,
            "Threshold": alarm.threshold,
            "ComparisonOperator": alarm.comparison,
            "EvaluationPeriods": alarm.evaluation_periods,
            "DatapointsToAlarm": alarm.datapoints_to_alarm,
            "TreatMissingData": alarm.treat_missing_data,
            "AlarmDescription": alarm.description,
        }, alarm.name
        assert properties["Dimensions"] == [
            {"Name": key, "Value": dimension_value(stack, alarm, key)} for key, _ in alarm.metric.dimensions
        ], alarm.name


def test_every_alarm_that_notifies_sends_alarm_and_ok_to_the_topic_and_building_blocks_send_nothing(stack):
    alarms = template_alarms(stack)
    for alarm in declared(stack).all:
        properties = alarms[alarm.name]
        actions = (properties.get("AlarmActions"), properties.get("OKActions"))
        if alarm.notifies:
            assert actions == ([topic_ref(stack)], [topic_ref(stack)]), alarm.name
        else:
            assert actions == (None, None), alarm.name
        assert "InsufficientDataActions" not in properties


def test_every_dead_letter_queue_of_the_stack_has_an_alarm(stack):
    dlqs = {
        queue["Properties"]["QueueName"]
        for queue in stack.resources("AWS::SQS::Queue").values()
        if "dlq" in queue["Properties"]["QueueName"]
    }
    watched = {alarm.metric.dimension("QueueName") for alarm in declared(stack).metric_alarms}
    assert len(dlqs) == 7 and dlqs <= watched


def test_every_function_has_an_error_alarm(stack):
    functions = {f["Properties"]["FunctionName"] for f in stack.resources("AWS::Lambda::Function").values()}
    watched = {a.metric.dimension("FunctionName") for a in declared(stack).metric_alarms if a.metric.name == "Errors"}
    assert watched == functions


def test_transformer_infrastructure_failures_and_failed_tests_have_their_own_alarms(default_stack):
    alarms = template_alarms(default_stack)
    by_metric = {p.get("MetricName"): p for p in alarms.values() if p.get("Namespace") == "RestaurantPipeline"}
    for metric in (Metric.DEAD_LETTERED_OBJECTS, Metric.TRANSFORM_TESTS_FAILED):
        properties = by_metric[metric]
        assert (properties["Threshold"], properties["ComparisonOperator"], properties["TreatMissingData"]) == (
            1,
            "GreaterThanOrEqualToThreshold",
            "notBreaching",
        )
        assert properties["Dimensions"] == [{"Name": "service", "Value": "transformer"}]
        assert properties["OKActions"] == [topic_ref(default_stack)]


def test_no_successful_run_alarms_only_after_a_first_success_and_clears_with_the_next(default_stack):
    alarms = template_alarms(default_stack)
    no_pass, has_passed = alarms[NO_TRANSFORM_PASSED], alarms[A_TRANSFORM_HAS_PASSED]
    # 26 hourly periods without a passed transform (missing data = no success)
    assert (no_pass["Period"], no_pass["EvaluationPeriods"], no_pass["DatapointsToAlarm"]) == (3600, 26, 26)
    assert (no_pass["ComparisonOperator"], no_pass["TreatMissingData"]) == ("LessThanThreshold", "breaching")
    # OK from the first passed transform on; missing data keeps that state
    assert (has_passed["EvaluationPeriods"], has_passed["TreatMissingData"]) == (1, "ignore")
    assert no_pass["MetricName"] == has_passed["MetricName"] == Metric.TRANSFORM_PASSED
    # the one that mails: both at once
    rule = alarms[NO_SUCCESSFUL_RUN]["AlarmRule"]["Fn::Join"][1]
    ids = {
        name: logical_id_of(default_stack, "AWS::CloudWatch::Alarm", AlarmName=name)
        for name in (NO_TRANSFORM_PASSED, A_TRANSFORM_HAS_PASSED)
    }
    assert rule == [
        '(ALARM("',
        {"Fn::GetAtt": [ids[NO_TRANSFORM_PASSED], "Arn"]},
        '") AND OK("',
        {"Fn::GetAtt": [ids[A_TRANSFORM_HAS_PASSED], "Arn"]},
        '"))',
    ]


def test_the_dashboard_shows_the_failure_metrics_and_every_alarm(default_stack):
    (dashboard,) = default_stack.resources("AWS::CloudWatch::Dashboard").values()
    body = str(dashboard["Properties"]["DashboardBody"])
    for metric in (Metric.DEAD_LETTERED_OBJECTS, Metric.TRANSFORM_TESTS_FAILED, Metric.NOTIFICATION_FAILURES):
        assert f'"{metric}"' in body
    for alarm in declared(default_stack).all:
        kind = "AWS::CloudWatch::Alarm" if isinstance(alarm, MetricAlarm) else "AWS::CloudWatch::CompositeAlarm"
        assert logical_id_of(default_stack, kind, AlarmName=alarm.name) in body, alarm.name
