"""The transformer with the NLP stage on: moto S3/DynamoDB/EventBridge, real dbt on DuckDB, the offline analyzer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from services.common.adapters.eventbridge import EventPublisher
from services.common.adapters.ledger import RunLedger
from services.transformer.adapters.dbt_build import DbtBuilder, dbt_environment, default_project_dir
from services.transformer.adapters.dynamodb import ObjectClaims
from services.transformer.adapters.marts import WarehouseMarts
from services.transformer.adapters.reviews import DbtReviewStaging, S3ScoreStore
from services.transformer.adapters.s3 import S3ObjectStore
from services.transformer.adapters.vader import VaderAnalyzer
from services.transformer.adapters.warehouse import DuckDBWarehouse
from services.transformer.domain.sentiment import ScoringBuilder
from services.transformer.service import TransformerDeps
from tests.support.transformer_stack import BUCKET, BUS, Stack, provision


@pytest.fixture(scope="session")
def nlp_parsed_builder(tmp_path_factory: pytest.TempPathFactory) -> DbtBuilder:
    """The dbt project parsed once with NLP_ENABLED=true (the review models are enabled at parse time)."""
    state = tmp_path_factory.mktemp("dbt-state-nlp")
    env = dbt_environment(
        target="local", bucket=BUCKET, warehouse_path=str(state / "warehouse.duckdb"), nlp_enabled=True
    )
    builder = DbtBuilder(default_project_dir(), "local", env, state_dir=state)
    builder._runner_manifest()
    return builder


@pytest.fixture
def nlp_stack(aws: str, nlp_parsed_builder: DbtBuilder, tmp_path: Path) -> Iterator[Stack]:
    s3, sqs, s3_events_queue, published_queue = provision(aws)
    warehouse_path = str(tmp_path / "warehouse.duckdb")
    builder = nlp_parsed_builder.with_environment(WAREHOUSE_PATH=warehouse_path, AWS_ENDPOINT_URL=aws)
    marts = WarehouseMarts(DuckDBWarehouse(warehouse_path))
    scoring = ScoringBuilder(
        builder,
        staging=DbtReviewStaging(builder),
        marts=marts,
        store=S3ScoreStore(s3, BUCKET),
        analyzer=VaderAnalyzer(),
    )
    deps = TransformerDeps(
        store=S3ObjectStore(s3, BUCKET),
        builder=scoring,
        marts=marts,
        claims=ObjectClaims(boto3.client("dynamodb"), "idempotency"),
        publisher=EventPublisher(boto3.client("events"), BUS),
        ledger=RunLedger(boto3.client("dynamodb"), "ledger"),
    )
    yield Stack(aws, s3, sqs, builder, deps, warehouse_path, s3_events_queue, published_queue)


def review(
    place: str,
    index: int,
    *,
    text: str | None,
    language: str | None = "fr",
    original: str | None = None,
    original_language: str | None = None,
    rating: int = 4,
) -> dict[str, Any]:
    """A review as the Places API returns it, author included (it must not reach the marts)."""
    item: dict[str, Any] = {
        "name": f"places/{place}/reviews/r{index}",
        "relativePublishTimeDescription": "a week ago",
        "rating": rating,
        "text": {"text": text, "languageCode": language} if text is not None else None,
        "authorAttribution": {
            "displayName": "Zébulon Secret-Author",
            "uri": "https://www.google.com/maps/contrib/123/reviews",
            "photoUri": "https://lh3.googleusercontent.com/a-/SECRETPHOTO",
        },
        "publishTime": f"2025-12-{index + 1:02d}T10:00:00.000000Z",
    }
    if original is not None:
        item["originalText"] = {"text": original, "languageCode": original_language}
    return item


def place_line(place: str, day: str, reviews: list[dict[str, Any]], city: str = "Lyon") -> str:
    return json.dumps(
        {
            "id": place,
            "displayName": {"text": f"Chez {place}", "languageCode": "fr"},
            "location": {"latitude": 45.76, "longitude": 4.83},
            "rating": 4.2,
            "userRatingCount": 120,
            "businessStatus": "OPERATIONAL",
            "reviews": reviews,
            "_collection": {
                "run_id": f"run-{day}",
                "city": city,
                "run_cities": [city],
                "trigger_source": "schedule",
                "query": "restaurants in Lyon",
                "rectangle": None,
                "page": 1,
                "collected_at": f"{day}T08:00:00Z",
            },
        },
        ensure_ascii=False,
    )
