"""A corrupt stack.json (truncated, wrong types, missing keys, a folder in its place) is one line naming the file,
what is wrong and what to do, from every command; `audit` exits 2 (its own failure, not a finding); `local down`
finds a detached stack's processes by their command line instead and stops them (issue 24, item 10)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from restaurant_pipeline import cli
from restaurant_pipeline.local.processes import pid_alive, stop_pid
from restaurant_pipeline.local.stack import StatePaths, new_stack_info


def _valid(state: StatePaths) -> dict[str, object]:
    info = new_stack_info("http://127.0.0.1:1", state)
    return dict(json.loads(info.to_json()))


def truncated(state: StatePaths) -> None:
    state.stack_file.write_text(json.dumps(_valid(state), indent=2)[:40], encoding="utf-8")


def wrong_types(state: StatePaths) -> None:
    state.stack_file.write_text(json.dumps({**_valid(state), "pids": {"supervisor": "one"}}), encoding="utf-8")


def not_an_object(state: StatePaths) -> None:
    state.stack_file.write_text("[]", encoding="utf-8")


def missing_keys(state: StatePaths) -> None:
    data = _valid(state)
    del data["bucket"], data["queues"]
    state.stack_file.write_text(json.dumps(data), encoding="utf-8")


def a_folder(state: StatePaths) -> None:
    state.stack_file.mkdir()


CORRUPT = {
    "truncated": (truncated, "line 2, column 13: Unterminated string"),
    "wrong types": (wrong_types, "pids.supervisor: Input should be a valid integer"),
    "not an object": (not_an_object, "Input should be a dictionary"),
    "missing keys": (missing_keys, "bucket: Field required (+1 more)"),
    "a folder": (a_folder, "Is a directory"),
}


@pytest.fixture(params=list(CORRUPT), ids=list(CORRUPT))
def corrupt(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[StatePaths, str]:
    state = StatePaths(tmp_path / "state")
    state.make()
    spoil, problem = CORRUPT[request.param]
    spoil(state)
    return state, problem


def run(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli.app, list(arguments))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("command", "code"),
    [(["local", "status"], 1), (["local", "status", "--json"], 1), (["local", "env"], 1), (["audit"], 2)],
    ids=["status", "status --json", "env", "audit"],
)
def test_every_command_says_in_one_line_what_is_wrong_with_the_file_and_what_to_do(corrupt, command, code):
    state, problem = corrupt

    exit_code, output = run(*command, "--state-dir", str(state.root))

    assert exit_code == code, output
    assert "Traceback" not in output and len(output.strip().splitlines()) == 1, output
    assert f"{state.stack_file} is not a stack description" in output and problem in output
    assert "`restaurant-pipeline local down --state-dir" in output


FAKE_SUPERVISOR = """
import json, signal, subprocess, sys
from pathlib import Path
state = Path(sys.argv[sys.argv.index("--state-dir") + 1])
child = subprocess.Popen(["sleep", "300"], start_new_session=True)  # a worker: its own session, as the real ones
def stop(signum, frame):
    report = {"saved": True, "counts": {"objects": 3, "items": 2, "messages": 1}}
    (state / "last-save.json").write_text(json.dumps(report))
    sys.exit(0)  # leaves its worker behind, as a supervisor that died hard would
signal.signal(signal.SIGTERM, stop)
(state / "ready").write_text(str(child.pid))
signal.pause()
"""


@pytest.fixture
def supervisor(corrupt: tuple[StatePaths, str]) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A harmless process whose command line is the detached supervisor's for this state folder, with a child."""
    state, _ = corrupt
    module = ["-m", "restaurant_pipeline.local.supervisor", "--state-dir", str(state.root)]
    process = subprocess.Popen([sys.executable, "-c", FAKE_SUPERVISOR, *module], start_new_session=True)
    ready = state.root / "ready"
    wait_until(lambda: (ready.exists() and ready.read_text() != "") or process.poll() is not None)
    assert process.poll() is None, "the fake supervisor did not start"
    child = int(ready.read_text())
    yield process, child
    for pid in (process.pid, child):
        stop_pid(pid, timeout=2)
    process.wait(timeout=5)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_down_finds_a_live_stack_by_its_command_line_and_stops_it_and_its_children(corrupt, supervisor):
    state, problem = corrupt
    process, child = supervisor

    exit_code, output = run("local", "down", "--state-dir", str(state.root))

    assert exit_code == 0, output
    assert process.wait(timeout=5) == 0 and not pid_alive(child)
    assert "Traceback" not in output and problem in output
    assert f"found the stack's supervisor (pid {process.pid}) by its command line" in output
    assert "Local stack stopped; saved 3 object versions" in output
    assert not state.stack_file.is_file()  # a corrupt file is removed; a folder is left for its owner to remove
    assert ("a folder, left in place" in output) == state.stack_file.is_dir()


def test_down_with_a_corrupt_file_and_nothing_running_removes_the_file_and_says_so(corrupt):
    state, problem = corrupt

    exit_code, output = run("local", "down", "--state-dir", str(state.root))

    assert exit_code == 0, output
    assert "Traceback" not in output and problem in output and "no supervisor of" in output
    assert "The local stack was not running." in output
