from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from restaurant_pipeline.aws import AwsClients
from restaurant_pipeline.local.processes import free_port
from restaurant_pipeline.local.stack import LOCAL_CREDENTIALS, StatePaths, new_stack_info, provision
from restaurant_pipeline.model.config import parse_config
from tests.conftest import REGION

CLI = [sys.executable, "-m", "restaurant_pipeline.cli"]
REPO_ROOT = Path(__file__).resolve().parents[3]


def stack_client(stack_env: dict[str, str], service: str) -> Any:
    """A boto3 client of the stack that `stack_env`'s CLI processes run, with the stack's local credentials."""
    return boto3.client(
        service,
        endpoint_url=stack_env["AWS_ENDPOINT_URL"],
        region_name=stack_env["AWS_DEFAULT_REGION"],
        aws_access_key_id=stack_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack_env["AWS_SECRET_ACCESS_KEY"],
    )


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


@pytest.fixture
def stack_env(tmp_path):
    """The environment of CLI processes that run a stack of their own (free port, temporary state); the stack is
    taken down afterwards, whatever the test did."""
    port = free_port()
    env = {
        **os.environ,
        "PIPELINE_STATE_DIR": str(tmp_path / "state"),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "PIPELINE__SCHEDULE__EXPRESSION": "cron(0 8 1 1 ? 2099)",  # never fires during the test
    }
    yield env
    subprocess.run([*CLI, "local", "down"], env=env, cwd=REPO_ROOT, capture_output=True, timeout=120)
