"""Builds the NLP stage from the transformer's settings (edge code: the only place its clients are created)."""

from __future__ import annotations

from typing import Any

from services.transformer.adapters.dbt_build import DbtBuilder
from services.transformer.domain import Warehouse
from services.transformer.sentiment.adapters import DbtReviewStaging, S3ScoreStore
from services.transformer.sentiment.port import SentimentAnalyzer
from services.transformer.sentiment.stage import ScoringBuilder


def make_analyzer(kind: str, comprehend_client: Any = None, comprehend_region: str | None = None) -> SentimentAnalyzer:
    """comprehend_region: where Comprehend is called (COMPREHEND_REGION), which may not be the function's own region:
    Comprehend is not offered everywhere (eu-west-3 has none). None: the function's region."""
    if kind == "comprehend":
        from services.transformer.sentiment.comprehend import ComprehendAnalyzer

        if comprehend_client is None:
            import boto3
            from botocore.config import Config

            # Our own backoff handles throttling (ComprehendAnalyzer); botocore's retries stay for network errors.
            comprehend_client = boto3.client(
                "comprehend",
                region_name=comprehend_region,
                config=Config(retries={"max_attempts": 3, "mode": "standard"}),
            )
        return ComprehendAnalyzer(comprehend_client)
    if kind == "offline":
        from services.transformer.sentiment.offline import VaderAnalyzer

        return VaderAnalyzer()
    raise ValueError(f"unknown NLP analyzer {kind!r}: use comprehend or offline")


def scoring_builder(
    builder: DbtBuilder, warehouse: Warehouse, s3_client: Any, bucket: str, analyzer: SentimentAnalyzer
) -> ScoringBuilder:
    return ScoringBuilder(
        builder,
        staging=DbtReviewStaging(builder),
        warehouse=warehouse,
        store=S3ScoreStore(s3_client, bucket),
        analyzer=analyzer,
    )
