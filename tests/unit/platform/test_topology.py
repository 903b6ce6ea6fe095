from dataclasses import replace

import pytest

from restaurant_pipeline.model.config import parse_config
from restaurant_pipeline.model.topology import (
    MIN_ESM_CONCURRENCY,
    StackResources,
    build_topology,
    service_environment,
)
from services.common.spec import service_spec, service_specs
from services.notifier.settings import NotifierSettings

BUCKET = "a-bucket"


def test_visibility_timeout_is_six_times_each_function_timeout():
    config = parse_config({"timeouts": {"collector": 120, "transformer": 700, "notifier": 30}})

    topology = build_topology(config, BUCKET)

    assert {r.service: r.visibility_timeout_seconds for r in topology.routes} == {
        "collector": 720,
        "transformer": 4200,
        "notifier": 180,
    }


def test_every_route_retries_max_receive_count_times():
    topology = build_topology(parse_config({"retries": {"max_receive_count": 5}}), BUCKET)

    assert {r.max_receive_count for r in topology.routes} == {5}


def test_fleet_rule_concurrent_collectors_never_exceed_the_quota():
    for quota in (1, 7, 100, 600, 6000):
        topology = build_topology(parse_config({"places": {"requests_per_minute": quota}}), BUCKET)
        collector = topology.route("collector")

        assert collector.max_concurrency >= MIN_ESM_CONCURRENCY
        assert collector.max_concurrency * topology.collector_requests_per_minute <= max(quota, MIN_ESM_CONCURRENCY)


def test_transformer_is_a_single_group_fifo_fed_by_s3_object_created_under_raw():
    route = build_topology(parse_config({}), BUCKET).route("transformer")

    assert route.fifo and route.queue_name.endswith(".fifo") and route.message_group_id
    assert route.batching_window_seconds == 0
    assert route.bus == "default"
    assert route.event_pattern["detail-type"] == ["Object Created"]
    assert route.event_pattern["detail"]["bucket"]["name"] == [BUCKET]
    assert route.event_pattern["detail"]["object"]["key"] == [{"prefix": "raw/places/"}]


def test_every_function_gets_the_shared_names_and_its_own_settings():
    config = parse_config({})
    topology = build_topology(config, BUCKET)
    resources = StackResources(
        bucket=BUCKET, bus_name="bus", topic_arn="arn:topic", idempotency_table="idem", ledger_table="ledger"
    )

    environment = service_environment(config, topology, resources)

    for env in environment.values():
        assert env["BUCKET_NAME"] == BUCKET and env["EVENT_BUS_NAME"] == "bus" and env["LEDGER_TABLE_NAME"] == "ledger"
    assert environment["collector"]["PLACES_REQUESTS_PER_MINUTE"] == str(topology.collector_requests_per_minute)
    assert "nextPageToken" in environment["collector"]["PLACES_FIELD_MASK"].split(",")
    assert environment["notifier"]["TOPIC_ARN"] == "arn:topic"
    assert environment["transformer"]["IDEMPOTENCY_TABLE_NAME"] == "idem"
    assert not any("KEY" in name and "SECRET" not in name for env in environment.values() for name in env)


def test_each_environment_is_its_settings_model_dumped_by_alias_and_reads_back():
    """A key is typed once: every variable a function gets is an alias of its settings model, which parses it."""
    config = parse_config({})
    topology = build_topology(config, BUCKET)
    resources = StackResources(
        bucket=BUCKET,
        bus_name="bus",
        topic_arn="arn:topic",
        idempotency_table="idem",
        ledger_table="ledger",
        dbt_target="local",
        warehouse_path="/tmp/warehouse.duckdb",
        endpoint_url="http://127.0.0.1:5000",
    )

    environment = service_environment(config, topology, resources)

    assert list(environment) == [spec.name for spec in service_specs()]
    for route in topology.routes:
        model = route.spec.settings_model
        aliases = {field.alias for field in model.model_fields.values()}
        assert set(environment[route.service]) <= aliases, route.service
        settings = model.from_env(environment[route.service])
        assert (
            model.environment_of(settings.model_dump(include=settings.model_fields_set)) == (environment[route.service])
        )


def test_a_setting_its_model_does_not_declare_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"NotifierSettings has no fields \['topic_arm'\]"):
        NotifierSettings.environment_of({"topic_arm": "arn:topic"})


def test_a_spec_that_publishes_without_the_capability_is_refused():
    collector = service_spec("collector")
    with pytest.raises(ValueError, match="publish_events"):
        replace(collector, capabilities=("ledger",))
