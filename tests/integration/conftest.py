"""Fixtures shared by the integration tiers: a moto-backed transformer (tests/support/transformer_stack.py) with one
dbt manifest parsed for the session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from services.common.adapters.eventbridge import EventPublisher
from services.common.adapters.ledger import RunLedger
from services.transformer.adapters.dbt_build import DbtBuilder, dbt_environment, default_project_dir
from services.transformer.adapters.dynamodb import ObjectClaims
from services.transformer.adapters.marts import WarehouseMarts
from services.transformer.adapters.s3 import S3ObjectStore
from services.transformer.adapters.warehouse import DuckDBWarehouse
from services.transformer.service import TransformerDeps
from tests.support.transformer_stack import BUCKET, BUS, Stack, provision


@pytest.fixture(scope="session")
def parsed_builder(tmp_path_factory: pytest.TempPathFactory) -> DbtBuilder:
    """Parses the dbt project once for the session; each test clones it with its own warehouse and endpoint."""
    state = tmp_path_factory.mktemp("dbt-state")
    env = dbt_environment(
        target="local", bucket=BUCKET, warehouse_path=str(state / "warehouse.duckdb")
    )  # same stem, same catalog
    builder = DbtBuilder(default_project_dir(), "local", env, state_dir=state)
    builder._runner_manifest()
    return builder


@pytest.fixture
def stack(aws: str, parsed_builder: DbtBuilder, tmp_path: Path) -> Iterator[Stack]:
    s3, sqs, s3_events_queue, published_queue = provision(aws)
    warehouse_path = str(tmp_path / "warehouse.duckdb")
    builder = parsed_builder.with_environment(WAREHOUSE_PATH=warehouse_path, AWS_ENDPOINT_URL=aws)
    deps = TransformerDeps(
        store=S3ObjectStore(s3, BUCKET),
        builder=builder,
        marts=WarehouseMarts(DuckDBWarehouse(warehouse_path)),
        claims=ObjectClaims(boto3.client("dynamodb"), "idempotency"),
        publisher=EventPublisher(boto3.client("events"), BUS),
        ledger=RunLedger(boto3.client("dynamodb"), "ledger"),
    )
    yield Stack(aws, s3, sqs, builder, deps, warehouse_path, s3_events_queue, published_queue)
