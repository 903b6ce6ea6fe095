"""The transformer's backoff for a transient failure: 30 s then doubled on AWS, the local event source mapping's few
seconds on a local stack (the same time compression as its other retries), never longer than the queue's hour."""

from __future__ import annotations

from pathlib import Path

from restaurant_pipeline.local.esm import LOCAL_RETRY_DELAY_SECONDS
from restaurant_pipeline.local.stack import StatePaths, function_environment, new_stack_info
from restaurant_pipeline.model.config import PipelineConfig
from restaurant_pipeline.model.topology import build_topology
from services.transformer.domain.failures import retry_delay_seconds
from services.transformer.settings import TransformerSettings


def test_the_first_retry_waits_the_configured_backoff_then_twice_as_long_and_the_last_receive_none():
    assert [retry_delay_seconds(receives, 4) for receives in (1, 2, 3, 4)] == [30, 60, 120, 0]
    assert [retry_delay_seconds(receives, 4, first=3) for receives in (1, 2, 3, 4)] == [3, 6, 12, 0]


def test_aws_keeps_the_30_second_backoff_and_the_local_stack_gives_its_own_retry_delay(tmp_path: Path):
    defaults = TransformerSettings.model_validate(
        {
            "DBT_TARGET": "local",
            "WAREHOUSE_PATH": "w.duckdb",
            "BUCKET_NAME": "b",
            "EVENT_BUS_NAME": "e",
            "IDEMPOTENCY_TABLE_NAME": "i",
            "LEDGER_TABLE_NAME": "l",
        }
    )
    assert defaults.retry_backoff_seconds == 30
    info = new_stack_info("http://127.0.0.1:4566", StatePaths(tmp_path))
    config = PipelineConfig()
    environment = function_environment(config, build_topology(config, info.bucket), info, "key")

    assert environment["transformer"]["RETRY_BACKOFF_SECONDS"] == str(LOCAL_RETRY_DELAY_SECONDS)
    assert "RETRY_BACKOFF_SECONDS" not in environment["collector"]
