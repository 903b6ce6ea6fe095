"""The sentiment analyzers of the NLP stage, chosen by name: Amazon Comprehend on AWS, VADER offline (locally).
Each is imported only when chosen: Comprehend's client on AWS, VADER's lexicon where there is no network."""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.transformer.ports import SentimentAnalyzer

if TYPE_CHECKING:
    from mypy_boto3_comprehend import ComprehendClient


def make_analyzer(
    kind: str, comprehend_client: ComprehendClient | None = None, comprehend_region: str | None = None
) -> SentimentAnalyzer:
    """comprehend_region: where Comprehend is called (COMPREHEND_REGION), which may not be the function's own region:
    Comprehend is not offered everywhere (eu-west-3 has none). None: the function's region."""
    if kind == "comprehend":
        from services.transformer.adapters.comprehend import ComprehendAnalyzer

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
        from services.transformer.adapters.vader import VaderAnalyzer

        return VaderAnalyzer()
    raise ValueError(f"unknown NLP analyzer {kind!r}: use comprehend or offline")
