"""With [nlp] disabled (the default) the field mask, and so the Places SKU and its cost, are exactly as before."""

from __future__ import annotations

from restaurant_pipeline.config import PipelineConfig

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
