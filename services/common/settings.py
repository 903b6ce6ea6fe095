"""Typed function settings, parsed once from the environment at the edge (domain code never reads os.environ)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class SettingsError(RuntimeError):
    """The function's environment is incomplete: a deployment problem, named precisely."""


class ServiceSettings(BaseModel):
    """Keys every function gets (see restaurant_pipeline.topology.service_environment)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    bucket_name: str = Field(alias="BUCKET_NAME")
    ledger_table_name: str | None = Field(default=None, alias="LEDGER_TABLE_NAME")
    log_location: str = Field(default="", alias="LOG_LOCATION")
    max_receive_count: int = Field(default=3, ge=1, alias="MAX_RECEIVE_COUNT")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        try:
            return cls.model_validate(dict(os.environ if environ is None else environ))
        except ValidationError as exc:
            problems = [f"{e['loc'][0]} ({e['msg']})" for e in exc.errors()]
            raise SettingsError(
                f"{cls.__name__}: missing or invalid environment variables: {'; '.join(problems)}. "
                "They are set by the CDK stack or `restaurant-pipeline local up`."
            ) from None
