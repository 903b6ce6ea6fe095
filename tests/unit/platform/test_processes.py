"""pid_alive: whether a stack process still runs, whoever started it (the CLI that asks is rarely the parent)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from restaurant_pipeline.local.processes import pid_alive
from tests.support.processes import started_by_someone_else, zombie_of_another_parent


def test_a_running_process_someone_else_started_is_alive():
    pid = started_by_someone_else("sleep 30")
    try:
        assert pid_alive(pid)
    finally:
        os.kill(pid, 9)


def test_a_child_that_exited_is_not_alive_and_gets_reaped():
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 5
    while pid_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.01)

    assert not pid_alive(child.pid)
    with pytest.raises(ChildProcessError):  # pid_alive reaped the zombie
        os.waitpid(child.pid, os.WNOHANG)


def test_a_zombie_of_another_parent_is_not_alive():
    zombie, parent = zombie_of_another_parent()
    try:
        deadline = time.monotonic() + 5
        while pid_alive(zombie) and time.monotonic() < deadline:
            time.sleep(0.01)

        assert not pid_alive(zombie)
    finally:
        parent.kill()
        parent.wait()


def test_a_pid_no_process_has_is_not_alive():
    child = subprocess.Popen(["true"])
    child.wait()

    assert not pid_alive(child.pid)
