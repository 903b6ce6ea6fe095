"""The whole choreography on a real local stack: moto, the Places stub and the three services as processes.

One stack per test module (starting it costs a few seconds); each on a free port with its own state folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from restaurant_pipeline.local import control
from restaurant_pipeline.local.processes import free_port
from restaurant_pipeline.local.stack import StackInfo
from restaurant_pipeline.local.supervisor import StackOptions
from restaurant_pipeline.target import Target, local_target

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunningStack:
    info: StackInfo
    target: Target
    state_dir: Path
    env: dict[str, str]


def start_stack(state_dir: Path, extra_env: dict[str, str] | None = None) -> RunningStack:
    port = free_port()
    overrides = {
        "PIPELINE__SCHEDULE__EXPRESSION": "cron(0 8 1 1 ? 2099)",  # the schedule must not fire mid-test
        **(extra_env or {}),
    }
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    os.environ.pop("GOOGLE_PLACES_API_KEY", None)
    try:
        options = StackOptions(state_dir=str(state_dir), port=port, scheduler=False, retry_delay_seconds=1)
        info = control.up(options, detach=True)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    env = {
        **os.environ,
        "PIPELINE_STATE_DIR": str(state_dir),
        "AWS_ENDPOINT_URL": info.endpoint_url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": info.region,
    }
    return RunningStack(info=info, target=local_target(state_dir), state_dir=state_dir, env=env)


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    state_dir = tmp_path_factory.mktemp("stack")
    stack = start_stack(state_dir)
    try:
        yield stack
    finally:
        control.down(state_dir)
