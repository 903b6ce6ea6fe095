"""Routes, retries and the schedule in the synthesized template follow the topology and pipeline.toml."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from contracts.events import CollectionRequested
from restaurant_pipeline.model.config import parse_config
from restaurant_pipeline.model.topology import build_topology, service_environment
from tests.infrastructure.conftest import Synthesized


def _routes(stack: Synthesized):
    return build_topology(stack.config, "bucket").routes


def _queue(stack: Synthesized, name: str) -> dict:
    return stack.one("AWS::SQS::Queue", QueueName=name)["Properties"]


def _logical_id(stack: Synthesized, kind: str, **properties: object) -> str:
    for key, resource in stack.resources(kind).items():
        if all(resource["Properties"].get(k) == v for k, v in properties.items()):
            return key
    raise AssertionError(f"no {kind} with {properties}")


@pytest.mark.parametrize("stack_name", ["default", "changed"])
def test_every_route_has_a_queue_with_a_dlq_after_max_receive_count(synthesized, stack_name):
    stack: Synthesized = getattr(synthesized, stack_name)
    for route in _routes(stack):
        queue = _queue(stack, route.queue_name)
        dlq_id = _logical_id(stack, "AWS::SQS::Queue", QueueName=route.dlq_name)
        assert queue["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
            "maxReceiveCount": stack.config.retries.max_receive_count,
        }


@pytest.mark.parametrize("stack_name", ["default", "changed"])
def test_visibility_timeout_is_six_times_the_function_timeout(synthesized, stack_name):
    stack: Synthesized = getattr(synthesized, stack_name)
    timeouts = stack.config.timeouts
    for route in _routes(stack):
        function = stack.one("AWS::Lambda::Function", FunctionName=route.function_name)["Properties"]
        assert function["Timeout"] == getattr(timeouts, route.service)
        assert _queue(stack, route.queue_name)["VisibilityTimeout"] == 6 * function["Timeout"]


def test_a_timeout_change_in_pipeline_toml_moves_the_visibility_timeout(changed_stack):
    assert _queue(changed_stack, "restaurant-pipeline-transformer.fifo")["VisibilityTimeout"] == 6 * 900
    assert _queue(changed_stack, "restaurant-pipeline-collector")["VisibilityTimeout"] == 6 * 120


def test_transformer_queue_is_fifo_fed_with_one_message_group_from_the_default_bus(default_stack):
    queue = _queue(default_stack, "restaurant-pipeline-transformer.fifo")
    assert queue["FifoQueue"] is True
    assert _queue(default_stack, "restaurant-pipeline-transformer-dlq.fifo")["FifoQueue"] is True
    rule = default_stack.one("AWS::Events::Rule", Name="restaurant-pipeline-to-transformer")["Properties"]
    assert rule["EventBusName"] == "default"
    assert rule["EventPattern"]["source"] == ["aws.s3"]
    assert rule["EventPattern"]["detail-type"] == ["Object Created"]
    assert rule["EventPattern"]["detail"]["object"]["key"] == [{"prefix": "raw/places/"}]
    (target,) = rule["Targets"]
    assert target["SqsParameters"] == {"MessageGroupId": "dbt"}


def test_collector_and_notifier_rules_listen_on_the_pipeline_bus(default_stack):
    bus_id = _logical_id(default_stack, "AWS::Events::EventBus", Name="restaurant-pipeline")
    topology = build_topology(default_stack.config, "bucket")
    for service in ("collector", "notifier"):
        route = topology.route(service)
        rule = default_stack.one("AWS::Events::Rule", Name=route.rule_name)["Properties"]
        assert rule["EventBusName"] == {"Ref": bus_id}
        assert rule["EventPattern"] == route.event_pattern


def test_every_rule_target_has_its_own_dead_letter_queue_and_retry_policy(default_stack):
    rules = default_stack.resources("AWS::Events::Rule")
    assert len(rules) == 3
    for rule in rules.values():
        for target in rule["Properties"]["Targets"]:
            dlq_arn = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
            dlq = default_stack.template["Resources"][dlq_arn]["Properties"]
            assert dlq["QueueName"].endswith("-rule-dlq")
            assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == 86400


def test_event_source_mappings_report_batch_item_failures_with_the_route_concurrency(default_stack):
    mappings = default_stack.resources("AWS::Lambda::EventSourceMapping")
    routes = {route.service: route for route in _routes(default_stack)}
    assert len(mappings) == len(routes)
    for mapping in mappings.values():
        properties = mapping["Properties"]
        function_id = properties["FunctionName"]["Ref"]
        name = default_stack.template["Resources"][function_id]["Properties"]["FunctionName"]
        route = routes[name.removeprefix("restaurant-pipeline-")]
        assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert properties["ScalingConfig"] == {"MaximumConcurrency": route.max_concurrency}
        assert properties["BatchSize"] == route.batch_size
        if route.fifo or not route.batching_window_seconds:
            assert "MaximumBatchingWindowInSeconds" not in properties
        else:
            assert properties["MaximumBatchingWindowInSeconds"] == route.batching_window_seconds


def test_functions_run_python_on_arm64_with_json_logs_tracing_and_retention(default_stack):
    for route in _routes(default_stack):
        function = default_stack.one("AWS::Lambda::Function", FunctionName=route.function_name)["Properties"]
        assert function["Runtime"] in ("python3.12", "python3.13")
        assert function["Architectures"] == ["arm64"]
        assert function["Handler"] == route.handler.replace(":", ".")
        assert function["MemorySize"] == route.memory_mb
        assert function["LoggingConfig"]["LogFormat"] == "JSON"
        assert function["TracingConfig"] == {"Mode": "Active"}
        log_group = default_stack.one("AWS::Logs::LogGroup", LogGroupName=f"/aws/lambda/{route.function_name}")
        assert log_group["Properties"]["RetentionInDays"] == 30


def test_tracing_follows_the_config_switch(changed_stack):
    for function in changed_stack.resources("AWS::Lambda::Function").values():
        properties = function["Properties"]
        assert properties.get("TracingConfig", {"Mode": "PassThrough"}) == {"Mode": "PassThrough"}
        assert properties["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == "true"


def test_function_environment_is_exactly_the_topology_service_environment(default_stack):
    from restaurant_pipeline.model.topology import StackResources

    expected = service_environment(
        default_stack.config,
        build_topology(default_stack.config, "bucket"),
        StackResources(
            bucket="b",
            bus_name="bus",
            topic_arn="t",
            idempotency_table="i",
            ledger_table="l",
            places_api_key_secret_arn="arn",
            athena_workgroup="w",
            athena_results_s3="s3://b/r/",
            glue_database="g",
        ),
    )
    for route in _routes(default_stack):
        function = default_stack.one("AWS::Lambda::Function", FunctionName=route.function_name)["Properties"]
        variables = function["Environment"]["Variables"]
        assert set(variables) == set(expected[route.service])
    collector = default_stack.one("AWS::Lambda::Function", FunctionName="restaurant-pipeline-collector")
    assert "PLACES_API_KEY_SECRET_ARN" in collector["Properties"]["Environment"]["Variables"]
    assert "GOOGLE_PLACES_API_KEY" not in json.dumps(default_stack.template)


def test_schedule_fires_the_configured_expression_in_utc_without_flexible_window(default_stack):
    schedule = default_stack.one("AWS::Scheduler::Schedule")["Properties"]
    assert schedule["ScheduleExpression"] == default_stack.config.schedule.expression
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    dlq_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert default_stack.template["Resources"][dlq_id]["Properties"]["QueueName"] == "restaurant-pipeline-schedule-dlq"


def test_default_schedule_is_daily_at_eight_utc():
    assert parse_config({}).schedule.expression == "cron(0 8 * * ? *)"


def test_repository_pipeline_toml_synthesizes_its_schedule(default_stack):
    default_stack.assertions.has_resource_properties(
        "AWS::Scheduler::Schedule", {"ScheduleExpression": default_stack.config.schedule.expression}
    )


def test_schedule_follows_a_pipeline_toml_change(changed_stack):
    changed_stack.assertions.has_resource_properties(
        "AWS::Scheduler::Schedule", {"ScheduleExpression": "rate(12 hours)", "ScheduleExpressionTimezone": "UTC"}
    )


def test_schedule_puts_a_valid_collection_requested_event_on_the_pipeline_bus(changed_stack):
    target = changed_stack.one("AWS::Scheduler::Schedule")["Properties"]["Target"]
    bus_id = _logical_id(changed_stack, "AWS::Events::EventBus", Name="restaurant-pipeline")
    assert target["Arn"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    assert target["EventBridgeParameters"] == {
        "DetailType": "Collection Requested",
        "Source": "restaurant-pipeline.scheduler",
    }
    request = CollectionRequested.parse_detail(target["Input"])
    assert request.cities == ["Lyon", "Marseille"]
    assert request.trigger_source == "schedule"


def test_bus_archive_keeps_events_for_the_configured_days(synthesized):
    synthesized.default.assertions.has_resource_properties(
        "AWS::Events::Archive",
        {"RetentionDays": synthesized.default.config.aws.bus_archive_retention_days, "EventPattern": Match.any_value()},
    )
    synthesized.changed.assertions.resource_count_is("AWS::Events::Archive", 0)
