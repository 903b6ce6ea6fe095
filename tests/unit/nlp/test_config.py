"""With [nlp] disabled (the default) the field mask, and so the Places SKU and its cost, are exactly as before."""

from __future__ import annotations

import pytest

from restaurant_pipeline.model.config import PipelineConfig

DEFAULT_MASK = [
    "places.id", "places.displayName", "places.formattedAddress", "places.location",
    "places.rating", "places.userRatingCount", "places.priceLevel", "places.businessStatus",
    "places.types", "places.primaryType", "places.googleMapsUri", "nextPageToken",
]  # fmt: skip


def test_disabled_nlp_keeps_the_enterprise_field_mask_without_reviews():
    config = PipelineConfig()
    assert config.nlp.enabled is False
    assert config.effective_field_mask == DEFAULT_MASK


def test_enabled_nlp_adds_reviews_once():
    config = PipelineConfig.model_validate({"nlp": {"enabled": True}})
    assert config.effective_field_mask == [*DEFAULT_MASK, "places.reviews"]
    assert config.effective_field_mask.count("places.reviews") == 1


def test_comprehend_is_not_offered_in_the_default_region_so_the_stage_calls_the_nearest_region_that_has_it():
    from restaurant_pipeline.model.regions import service_regions

    assert "eu-west-3" not in service_regions("comprehend")  # botocore's endpoint data
    config = PipelineConfig.model_validate({"nlp": {"enabled": True}})
    assert config.aws.region == "eu-west-3"
    assert config.comprehend_region == "eu-west-2"  # London, 340 km from Paris (Frankfurt: 480 km)


def test_the_stack_region_is_used_when_comprehend_is_offered_there_and_an_explicit_one_wins():
    here = PipelineConfig.model_validate({"nlp": {"enabled": True}, "aws": {"region": "eu-central-1"}})
    assert here.comprehend_region == "eu-central-1"
    chosen = PipelineConfig.model_validate({"nlp": {"enabled": True, "comprehend_region": "eu-west-1"}})
    assert chosen.comprehend_region == "eu-west-1"


def test_a_comprehend_region_without_comprehend_is_refused_when_the_configuration_loads():
    from restaurant_pipeline.model.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as error:
        parse_config({"nlp": {"enabled": True, "comprehend_region": "eu-west-3"}})
    message = str(error.value)
    assert "nlp.comprehend_region = 'eu-west-3': Amazon Comprehend is not offered in eu-west-3" in message
    assert "eu-west-2" in message  # the regions that have it are listed


def test_every_commercial_region_has_a_location_so_the_nearest_comprehend_region_can_be_found():
    from restaurant_pipeline.model.regions import REGION_LOCATIONS, service_regions

    assert set(service_regions("s3")) <= set(REGION_LOCATIONS)  # S3 is in every region of the partition


def test_the_transformer_gets_the_comprehend_region_only_with_nlp():
    from restaurant_pipeline.model.topology import StackResources, build_topology, service_environment

    resources = StackResources(bucket="b", bus_name="bus", topic_arn="t", idempotency_table="i", ledger_table="l")
    for enabled, expected in ((True, "eu-west-2"), (False, None)):
        config = PipelineConfig.model_validate({"nlp": {"enabled": enabled}})
        environment = service_environment(config, build_topology(config, "b"), resources)["transformer"]
        assert environment.get("COMPREHEND_REGION") == expected


def test_the_comprehend_client_is_made_for_the_configured_region(monkeypatch):
    from services.transformer.adapters.analyzers import make_analyzer

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # no credential lookup (network) when the client is made
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")  # the function's own region

    analyzer = make_analyzer("comprehend", comprehend_region="eu-west-2")
    assert analyzer._client.meta.region_name == "eu-west-2"  # type: ignore[attr-defined]
