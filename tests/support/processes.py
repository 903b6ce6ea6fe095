"""Processes in the states pid_alive must tell apart, made with real fork/exec (no /proc needed to make them)."""

from __future__ import annotations

import subprocess
import sys

# A parent that never reaps its child: the child stays a zombie while the parent sleeps. The Popen object is kept:
# dropped, its __del__ reaps a child that has already exited, which a loaded machine makes likely (the zombie was then
# gone: tests/integration/platform/test_without_proc.py failed beside a CPU hog).
_KEEPER = "import subprocess, time; child = subprocess.Popen(['true']); print(child.pid, flush=True); time.sleep(30)"


def started_by_someone_else(command: str) -> int:
    """The pid of `command` run in the background by a shell that exits at once: not our child."""
    output = subprocess.run(["sh", "-c", f"{command} >/dev/null 2>&1 & echo $!"], capture_output=True, text=True)
    return int(output.stdout)


def zombie_of_another_parent() -> tuple[int, subprocess.Popen[str]]:
    """(pid of a child that exits at once and is never reaped, its parent: kill it when done)."""
    keeper = subprocess.Popen([sys.executable, "-c", _KEEPER], stdout=subprocess.PIPE, text=True)
    assert keeper.stdout is not None
    return int(keeper.stdout.readline()), keeper
