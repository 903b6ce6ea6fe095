"""Typed function settings, parsed once from the environment at the edge (domain code never reads os.environ)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class SettingsError(RuntimeError):
    """The function's environment is incomplete: a deployment problem, named precisely."""


class ServiceSettings(BaseModel):
    """Keys every function gets (see restaurant_pipeline.model.topology.service_environment)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # Read by Powertools itself (https://docs.powertools.aws.dev/lambda/python/latest/#environment-variables).
    powertools_metrics_namespace: str | None = Field(default=None, alias="POWERTOOLS_METRICS_NAMESPACE")
    powertools_log_level: str | None = Field(default=None, alias="POWERTOOLS_LOG_LEVEL")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    bucket_name: str = Field(alias="BUCKET_NAME")
    ledger_table_name: str | None = Field(default=None, alias="LEDGER_TABLE_NAME")
    log_location: str = Field(default="", alias="LOG_LOCATION")
    max_receive_count: int = Field(default=3, ge=1, alias="MAX_RECEIVE_COUNT")
    # The local stack's moto server; unset on AWS.
    aws_endpoint_url: str | None = Field(default=None, alias="AWS_ENDPOINT_URL")
    powertools_service_name: str | None = Field(default=None, alias="POWERTOOLS_SERVICE_NAME")

    @classmethod
    def environment_of(cls, values: Mapping[str, object]) -> dict[str, str]:
        """The environment that `from_env` reads back as these values (by field name): each field under its alias,
        in the model's order; a None value is left out. Not validated here: the function validates at its start,
        and the CDK stack passes tokens for names it does not know yet."""
        unknown = sorted(set(values) - set(cls.model_fields))
        if unknown:
            raise ValueError(f"{cls.__name__} has no fields {unknown}: declare them there, with their alias")
        environment = {}
        for name, field in cls.model_fields.items():
            value = values.get(name)
            if value is None:
                continue
            if field.alias is None:
                raise ValueError(f"{cls.__name__}.{name} needs an alias: the environment variable it is read from")
            environment[field.alias] = _environment_value(value)
        return environment

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


def _environment_value(value: object) -> str:
    """One value as the environment spells it: JSON for mappings and lists, lower-case booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float | Path):
        return str(value)
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_none=True)
    return json.dumps(value, sort_keys=True)
