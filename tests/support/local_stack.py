"""A local stack for the e2e tier and the benchmarks: started detached on a free port with its own state folder,
the schedule kept from firing, and what a test needs to reach it (the CLI's environment, a Target)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from restaurant_pipeline.local import control
from restaurant_pipeline.local.processes import free_port
from restaurant_pipeline.local.stack import StackInfo
from restaurant_pipeline.local.supervisor import StackOptions
from restaurant_pipeline.target import Target, local_target

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


@dataclass
class RunningStack:
    info: StackInfo
    target: Target
    state_dir: Path
    env: dict[str, str]


@contextmanager
def overridden_environment(overrides: Mapping[str, str], removed: Sequence[str] = ()) -> Iterator[None]:
    """os.environ with `overrides` set and `removed` unset, for the block; as it was afterwards."""
    saved = {name: os.environ.get(name) for name in [*overrides, *removed]}
    for name in removed:
        os.environ.pop(name, None)
    os.environ.update(overrides)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


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
    with overridden_environment(overrides, removed=("GOOGLE_PLACES_API_KEY",)):
        options = StackOptions(
            state_dir=str(state_dir), port=free_port(), scheduler=False, retry_delay_seconds=1, artifacts=artifacts
        )
        info = control.up(options, detach=True)
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


def wait_until(condition: Callable[[], T], timeout: float = 60.0, interval: float = 0.2, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not met within {timeout:.0f}s: {what or condition}")
        time.sleep(interval)


@contextmanager
def running_stack(
    name: str,
    extra_env: dict[str, str] | None = None,
    places: tuple[str, str] | None = None,
    artifacts: bool = False,
) -> Iterator[RunningStack]:
    """start_stack in a state folder of its own (state_folder(name)/state: the folder around it holds nothing else,
    so whatever appears there escaped the state folder), stopped with `local down` afterwards."""
    with state_folder(name) as parent:
        state_dir = parent / "state"
        state_dir.mkdir()
        stack = start_stack(state_dir, extra_env, places, artifacts)
        try:
            yield stack
        finally:
            control.down(state_dir)
