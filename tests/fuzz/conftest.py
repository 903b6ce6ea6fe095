"""Fuzz tier: hypothesis-generated input for every consumer, no network at all (the consumers get fakes)."""

import pytest
from pytest_socket import disable_socket, enable_socket


@pytest.fixture(autouse=True)
def _no_network():
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()
