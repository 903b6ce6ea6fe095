"""boto3 clients for one target: the local stack (an endpoint URL) or a real AWS account (none)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

_RETRIES = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=70)


@dataclass
class AwsClients:
    region: str
    endpoint_url: str | None = None
    credentials: dict[str, str] | None = None  # for the local stack only
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, name: str) -> Any:
        if name not in self._cache:
            kwargs: dict[str, Any] = {"region_name": self.region, "config": _RETRIES}
            if self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
            if self.credentials:
                kwargs["aws_access_key_id"] = self.credentials["AWS_ACCESS_KEY_ID"]
                kwargs["aws_secret_access_key"] = self.credentials["AWS_SECRET_ACCESS_KEY"]
            session: Any = boto3.session.Session()
            self._cache[name] = session.client(name, **kwargs)
        return self._cache[name]

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def sqs(self) -> Any:
        return self.client("sqs")

    @property
    def events(self) -> Any:
        return self.client("events")

    @property
    def sns(self) -> Any:
        return self.client("sns")

    @property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @property
    def logs(self) -> Any:
        return self.client("logs")

    @property
    def cloudformation(self) -> Any:
        return self.client("cloudformation")
