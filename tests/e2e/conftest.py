"""The whole choreography on a real local stack: moto, the Places stub and the three services as processes.

One stack per test module (starting it costs a few seconds); each on a free port with its own state folder
(tests/support/local_stack.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.local_stack import RunningStack, running_stack


@pytest.fixture(scope="module")
def local_stack() -> Iterator[RunningStack]:
    with running_stack("stack") as stack:
        yield stack
