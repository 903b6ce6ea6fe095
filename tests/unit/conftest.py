"""Unit tier: no network at all (pytest-socket), not even loopback."""

import pytest
from pytest_socket import disable_socket, enable_socket

from tests.unit.notifier.fakes import World, make_world


@pytest.fixture(autouse=True)
def _no_network():
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture
def world() -> World:
    """The notifier wired to hand-written fakes of its ports (tests/unit/notifier/fakes.py)."""
    return make_world()
