"""The transformer's environment, parsed once at the edge (keys from restaurant_pipeline.model.topology)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from services.common.settings import ServiceSettings, SettingsError


class TransformerSettings(ServiceSettings):
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME")
    dbt_target: Literal["local", "athena"] = Field(default="athena", alias="DBT_TARGET")
    warehouse_path: str | None = Field(default=None, alias="WAREHOUSE_PATH")
    athena_workgroup: str | None = Field(default=None, alias="ATHENA_WORKGROUP")
    athena_results_s3: str | None = Field(default=None, alias="ATHENA_RESULTS_S3")
    glue_database: str | None = Field(default=None, alias="GLUE_DATABASE")
    daily_drop_warn_share: float = Field(default=0.5, ge=0, le=1, alias="DAILY_DROP_WARN_SHARE")
    nlp_enabled: bool = Field(default=False, alias="NLP_ENABLED")
    # Which sentiment analyzer the NLP stage uses; default: offline with DBT_TARGET=local, comprehend on AWS.
    nlp_analyzer: Literal["comprehend", "offline"] | None = Field(default=None, alias="NLP_ANALYZER")
    # Where Comprehend is called: pipeline.toml [nlp] comprehend_region, or the nearest region offering it.
    comprehend_region: str | None = Field(default=None, alias="COMPREHEND_REGION")
    dbt_project_dir: Path | None = Field(default=None, alias="DBT_PROJECT_DIR")
    # dbt's target/ and logs/ (services/transformer/adapters/dbt_build.private_state): the local stack sets a folder
    # under its state folder; on Lambda, unset, they go under /tmp, named after the function (dbt_state_folder).
    dbt_state_dir: Path | None = Field(default=None, alias="DBT_STATE_DIR")
    # Set by Lambda in every function's environment (and by the local Lambda sandbox):
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
    function_name: str | None = Field(default=None, alias="AWS_LAMBDA_FUNCTION_NAME")
    # Coalesced builds (restaurant_pipeline/model/topology.py): 0 objects turns coalescing off (each batch alone).
    build_max_objects: int = Field(default=1000, ge=0, alias="BUILD_MAX_OBJECTS")
    build_max_mebibytes: int = Field(default=1024, ge=1, alias="BUILD_MAX_MEBIBYTES")
    coalesce_window_hours: int = Field(default=24, ge=1, le=24 * 6, alias="COALESCE_WINDOW_HOURS")
    # The name of the function's own dead-letter queue: where a message whose failure is final is set aside at once
    # (services/transformer/adapters/sqs.py). Unset: such a message is retried like any other.
    dead_letter_queue_name: str | None = Field(default=None, alias="DEAD_LETTER_QUEUE_NAME")
    # The delay before a transiently failed message is received again, doubled on each receive (domain/failures.py).
    # The local stack shortens it as its event source mapping shortens every retry (restaurant_pipeline/local/esm.py).
    retry_backoff_seconds: int = Field(default=30, ge=1, le=900, alias="RETRY_BACKOFF_SECONDS")

    @model_validator(mode="after")
    def _target_needs(self) -> TransformerSettings:
        if self.dbt_target == "local" and not self.warehouse_path:
            raise SettingsError(
                "DBT_TARGET=local needs WAREHOUSE_PATH (the DuckDB file), e.g. .pipeline/warehouse/warehouse.duckdb"
            )
        if self.dbt_target == "athena" and not (self.athena_workgroup and self.glue_database):
            raise SettingsError("DBT_TARGET=athena needs ATHENA_WORKGROUP and GLUE_DATABASE (set by the CDK stack)")
        return self

    @property
    def dbt_state_folder(self) -> Path:
        """Where dbt writes its target/ and logs/: DBT_STATE_DIR, else on Lambda /tmp/dbt-<function name> (/tmp is
        the function's writable folder, https://docs.aws.amazon.com/lambda/latest/dg/API_EphemeralStorage.html, and
        each execution environment has "a dedicated copy of ... a writeable /tmp directory":
        https://docs.aws.amazon.com/whitepapers/latest/security-overview-aws-lambda/lambda-isolation-technologies.html).
        Never a folder another stack shares: without either, SettingsError says what to set."""
        if self.dbt_state_dir is not None:
            return self.dbt_state_dir
        if self.function_name:
            return Path("/tmp") / f"dbt-{self.function_name}"
        raise SettingsError(
            "DBT_STATE_DIR is not set and this is not a Lambda function (no AWS_LAMBDA_FUNCTION_NAME): set "
            "DBT_STATE_DIR to a folder of this stack's own, e.g. .pipeline/dbt (the local stack sets it)"
        )

    @property
    def sentiment_analyzer(self) -> Literal["comprehend", "offline"]:
        if self.nlp_analyzer is not None:
            return self.nlp_analyzer
        return "offline" if self.dbt_target == "local" else "comprehend"
