"""boto3 clients for one target: the local stack (an endpoint URL) or a real AWS account (none)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:  # the stubs are a dev dependency, for mypy only (docs/aws.md)
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

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
    def s3(self) -> S3Client:
        client: S3Client = self.client("s3")
        return client

    @property
    def sqs(self) -> SQSClient:
        client: SQSClient = self.client("sqs")
        return client

    @property
    def events(self) -> EventBridgeClient:
        client: EventBridgeClient = self.client("events")
        return client

    @property
    def sns(self) -> SNSClient:
        client: SNSClient = self.client("sns")
        return client

    @property
    def dynamodb(self) -> DynamoDBClient:
        client: DynamoDBClient = self.client("dynamodb")
        return client

    @property
    def logs(self) -> CloudWatchLogsClient:
        client: CloudWatchLogsClient = self.client("logs")
        return client

    @property
    def cloudformation(self) -> CloudFormationClient:
        client: CloudFormationClient = self.client("cloudformation")
        return client
