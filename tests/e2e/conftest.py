"""The whole choreography on a real local stack: moto, the Places stub and the three services as processes.

One stack per test module (starting it costs a few seconds); each on a free port with its own state folder
(tests/support/local_stack.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from restaurant_pipeline.local import control
from tests.support.local_stack import RunningStack, start_stack, state_folder


@pytest.fixture(scope="module")
def local_stack() -> Iterator[RunningStack]:
    with state_folder("stack") as state_dir:
        stack = start_stack(state_dir)
        try:
            yield stack
        finally:
            control.down(state_dir)
