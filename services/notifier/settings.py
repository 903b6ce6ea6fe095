"""The notifier's environment, parsed once at the edge (see restaurant_pipeline.model.topology.service_environment)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from services.common.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    topic_arn: str = Field(alias="TOPIC_ARN", min_length=1)
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=1)
    # Required here (optional for the other services): the ledger is how a multi-city run sends one email.
    ledger_table_name: str = Field(alias="LEDGER_TABLE_NAME", min_length=1)
    repeat_failure_window_minutes: int = Field(default=360, ge=0, alias="REPEAT_FAILURE_WINDOW_MINUTES")

    @property
    def repeat_failure_window(self) -> timedelta:
        return timedelta(minutes=self.repeat_failure_window_minutes)
