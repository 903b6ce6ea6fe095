"""The whole choreography on a real local stack: moto, the Places stub and the three services as processes.

One stack per test module (starting it costs a few seconds); each on a free port with its own state folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


def start_stack(
    state_dir: Path,
    extra_env: dict[str, str] | None = None,
    places: tuple[str, str] | None = None,
    artifacts: bool = False,
) -> RunningStack:
    """A detached stack on a free port with its state in `state_dir`. By default the collector talks to the stack's
    own Places stub; `places=(base_url, api_key)` points it at that Places API with that key instead. With
    `artifacts`, each service runs its host artifact in a Lambda sandbox (`local up --artifacts`)."""
    overrides = {
        "PIPELINE__SCHEDULE__EXPRESSION": "cron(0 8 1 1 ? 2099)",  # the schedule must not fire mid-test
        **(extra_env or {}),
    }
    if places:
        overrides |= {"PLACES_API_BASE_URL": places[0], "GOOGLE_PLACES_API_KEY": places[1]}
    saved = {name: os.environ.get(name) for name in [*overrides, "GOOGLE_PLACES_API_KEY"]}
    os.environ.pop("GOOGLE_PLACES_API_KEY", None)
    os.environ.update(overrides)
    try:
        options = StackOptions(
            state_dir=str(state_dir), port=free_port(), scheduler=False, retry_delay_seconds=1, artifacts=artifacts
        )
        info = control.up(options, detach=True)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    env = {
        **{k: v for k, v in os.environ.items() if k != "GOOGLE_PLACES_API_KEY"},
        "PIPELINE_STATE_DIR": str(state_dir),
        "AWS_ENDPOINT_URL": info.endpoint_url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": info.region,
    }
    return RunningStack(info=info, target=local_target(state_dir), state_dir=state_dir, env=env)


@contextmanager
def state_folder(name: str) -> Iterator[Path]:
    """A state folder of our own, not under pytest's basetemp: pytest sessions running at the same time (other
    tiers, other checkouts) prune each other's old basetemp folders, which would pull a running stack's
    warehouse and logs from under it. Kept when KEEP_DRILL_STATE is set, for a post-mortem."""
    folder = Path(tempfile.mkdtemp(prefix=f"restaurant-pipeline-{name}-"))
    try:
        yield folder
    finally:
        if not os.environ.get("KEEP_DRILL_STATE"):
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def local_stack() -> Iterator[RunningStack]:
    with state_folder("stack") as state_dir:
        stack = start_stack(state_dir)
        try:
            yield stack
        finally:
            control.down(state_dir)
