from __future__ import annotations

import pytest

from restaurant_pipeline.aws import AwsClients
from restaurant_pipeline.config import parse_config
from restaurant_pipeline.local.stack import LOCAL_CREDENTIALS, StatePaths, new_stack_info, provision
from tests.conftest import REGION


@pytest.fixture
def stack(aws, tmp_path):
    """The local stack's resources provisioned on a fresh moto server (no workers)."""
    clients = AwsClients(region=REGION, endpoint_url=aws, credentials=LOCAL_CREDENTIALS)
    info = new_stack_info(aws, StatePaths(tmp_path / "state"))
    config = parse_config({"retries": {"max_receive_count": 3}})
    topology = provision(clients, config, info)
    from restaurant_pipeline.local.stack import enable_bucket_events

    enable_bucket_events(clients.s3, info.bucket)
    return clients, info, topology
