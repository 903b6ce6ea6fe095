"""Start, stop and find the local stack from the CLI (and from tests, on other ports and state folders)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from restaurant_pipeline.local.persistence import last_saved
from restaurant_pipeline.local.processes import pid_alive, port_in_use, stop_pid
from restaurant_pipeline.local.stack import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_STATE_DIR,
    StackFileError,
    StackInfo,
    StatePaths,
    read_stack_file,
)
from restaurant_pipeline.local.supervisor import LocalStack, StackOptions, stop_grace_seconds

STATE_DIR_ENV = "PIPELINE_STATE_DIR"
START_TIMEOUT_SECONDS = 120


class StackNotRunning(RuntimeError):
    pass


class StackFileCorrupt(StackNotRunning):
    """stack.json is there but is no stack description: no command can reach the stack through it."""


class StackStartError(RuntimeError):
    pass


SUPERVISOR_MODULE = "restaurant_pipeline.local.supervisor"


def default_state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_ENV, DEFAULT_STATE_DIR))


def endpoint_host_port(endpoint_url: str | None = None) -> tuple[str, int]:
    """Where `local up` listens: AWS_ENDPOINT_URL when it names a loopback host, else 127.0.0.1:4566."""
    url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    hostport = url.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.partition(":")
    return host or DEFAULT_HOST, int(port or DEFAULT_PORT)


def read_stack(state_dir: Path | None = None) -> StackInfo:
    state = StatePaths(Path(state_dir or default_state_dir()).resolve())
    if not state.stack_file.exists():
        raise StackNotRunning(
            f"The local stack is not running (no {state.stack_file}). Start it with `restaurant-pipeline local up "
            "--detach` (or `make run`)."
        )
    info = _read_stack_file(state)
    supervisor = info.pids.get("supervisor")
    if supervisor and not pid_alive(supervisor):
        raise StackNotRunning(
            f"The local stack's supervisor (pid {supervisor}) is gone but left {state.stack_file}. "
            "Run `restaurant-pipeline local down` to clean up, then `local up --detach`."
        )
    return info


def _read_stack_file(state: StatePaths) -> StackInfo:
    try:
        return read_stack_file(state.stack_file)
    except StackFileError as exc:
        where = "" if state.root == default_state_dir().resolve() else f" --state-dir {state.root}"
        what = " ".join(str(exc).split())  # one line, whatever the parser said
        raise StackFileCorrupt(
            f"{state.stack_file} is not a stack description ({what}): stop the stack's processes with "
            f"`restaurant-pipeline local down{where}`, which finds them without it and removes it"
        ) from None


def up(options: StackOptions, detach: bool, progress: Callable[[str], None] | None = None) -> StackInfo:
    """Start the stack (idempotent). With `options.artifacts`, the host artifacts are built (or reused) first,
    here, so that their build (a minute the first time) is shown and does not count against the start timeout."""
    state = StatePaths(Path(options.state_dir).resolve())
    try:  # PIPELINE_LOCAL_STOP_GRACE_SECONDS, when set, is how long `local down` waits for running invocations
        options = replace(options, stop_grace_seconds=stop_grace_seconds(options.stop_grace_seconds))
    except ValueError as exc:
        raise StackStartError(str(exc)) from None
    try:
        info = read_stack(state.root)
    except StackNotRunning:
        pass
    else:
        holding = _save_report(state)
        if holding.get("holding"):
            raise StackStartError(
                f"the local stack is stopping but could not save its state ({holding['error']}); it keeps that state "
                "until `restaurant-pipeline local down` succeeds: fix the cause and run it again, or "
                "`local down --no-save` to stop without saving"
            )
        return info  # already running: `up` is idempotent
    if state.stack_file.exists():
        down(state.root)
    if state.stack_file.exists():  # a folder in its place: down stopped what it found but leaves folders alone
        raise StackStartError(f"{state.stack_file} is in the way and is not a file: remove it, then `local up` again")
    if port_in_use(options.host, options.port):
        raise StackStartError(
            f"{options.host}:{options.port} is taken by another process (not this project's stack in {state.root}). "
            "Stop it, or choose another endpoint with AWS_ENDPOINT_URL=http://127.0.0.1:PORT."
        )
    if options.artifacts:
        _build_host_artifacts(options, progress)
    if not detach:
        LocalStack(options).run()
        raise StackNotRunning("the local stack stopped")
    state.make()
    command = [
        sys.executable,
        "-m",
        "restaurant_pipeline.local.supervisor",
        "--state-dir",
        str(state.root),
        "--host",
        options.host,
        "--port",
        str(options.port),
        "--retry-delay-seconds",
        str(options.retry_delay_seconds),
        "--alarm-period-seconds",
        str(options.alarm_period_seconds),
        "--stop-grace-seconds",
        str(options.stop_grace_seconds),
    ]
    if options.config_path:
        command += ["--config", options.config_path]
    if options.places_stub_port:
        command += ["--places-stub-port", str(options.places_stub_port)]
    if not options.scheduler:
        command.append("--no-scheduler")
    if options.artifacts:
        command.append("--artifacts")
    log_path = state.logs / "supervisor.log"
    with open(log_path, "ab") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            raise StackStartError("the local stack failed to start:\n" + "\n".join(tail))
        if state.stack_file.exists():
            return StackInfo.from_json(state.stack_file.read_text(encoding="utf-8"))
        time.sleep(0.1)
    stop_pid(process.pid)
    raise StackStartError(f"the local stack did not become ready within {START_TIMEOUT_SECONDS}s; see {log_path}")


def _build_host_artifacts(options: StackOptions, progress: Callable[[str], None] | None) -> None:
    from restaurant_pipeline.artifacts.build import PackagingError
    from restaurant_pipeline.artifacts.host import ensure_host_artifacts
    from restaurant_pipeline.model.config import load_config

    config = load_config(Path(options.config_path) if options.config_path else None)
    try:
        built = ensure_host_artifacts(config.nlp.enabled, progress=progress)
    except PackagingError as exc:
        raise StackStartError(f"the host artifacts for the Lambda sandbox could not be built: {exc}") from exc
    if progress:
        progress(built.summary())


@dataclass(frozen=True)
class DownResult:
    """What `local down` did, for the CLI to say truthfully."""

    was_running: bool
    saved: bool = False
    counts: dict[str, int] | None = None
    error: str | None = None  # why nothing was saved (None with saved=False: --no-save asked for it)
    holding: bool = False  # the stack is still up, holding its state in moto: fix the cause, `local down` again
    previous_snapshot: str | None = None  # when the snapshot `local up` restores was saved (None: there is none)
    note: str | None = None  # stack.json was unreadable: how the processes were found instead, and what was done
    # messages whose invocation still ran when the stop grace ended: made visible again before the save (so saved
    # with the queues, unless --no-save)
    released: int = 0

    def released_sentence(self) -> str | None:
        """What became of the messages in flight at `down`, in words, or None when there were none."""
        if self.released <= 0:
            return None
        one = self.released == 1
        what = "1 message in flight was" if one else f"{self.released} messages in flight were"
        if self.saved:
            return f"{what} released and will be delivered again after `local up`."
        if self.holding:
            waits = "it waits" if one else "they wait"
            return f"{what} released; {waits} in the queues, to be saved when `local down` succeeds."
        return f"{what} released but not saved (--no-save): lost with the stack's unsaved state."


def down(state_dir: Path | None = None, timeout: float = 300.0, save: bool = True) -> DownResult:
    """Stop the stack started from this state folder, saving its state first (unless save=False). The supervisor
    saves and reports in last-save.json; a supervisor still saving after `timeout` is left alone (never killed
    mid-save), and one whose save failed keeps the stack's state until asked again."""
    state = StatePaths(Path(state_dir or default_state_dir()).resolve())
    if not state.stack_file.exists():
        return DownResult(was_running=False)
    try:
        pids = dict(read_stack_file(state.stack_file).pids)
    except StackFileError as exc:
        pids, note = _pids_without_stack_file(state, str(exc))
        result = _stop(state, pids, timeout, save) if pids else DownResult(was_running=False)
        if result.holding:
            return replace(result, note=note)
        if state.stack_file.is_dir():
            return replace(result, note=f"{note}; it is a folder, left in place: remove it yourself")
        state.stack_file.unlink(missing_ok=True)
        return replace(result, note=f"{note}; the file is removed")
    result = _stop(state, pids, timeout, save)
    if not result.holding:
        state.stack_file.unlink(missing_ok=True)
    return result


def _pids_without_stack_file(state: StatePaths, problem: str) -> tuple[dict[str, int], str]:
    """The stack's processes when stack.json cannot say: the supervisor `local up --detach` started for this state
    folder, found by its command line, and every process below it (asked before it stops: they outlive it)."""
    unreadable = f"{state.stack_file} is not a stack description ({' '.join(problem.split())})"
    supervisor = find_supervisor(state.root)
    if supervisor is None:
        return {}, (
            f"{unreadable}, and no supervisor of {state.root} is running (a stack started without --detach stops "
            "with Ctrl-C in its terminal)"
        )
    pids = {"supervisor": supervisor.pid}
    with contextlib.suppress(psutil.Error):
        pids.update({f"pid {child.pid}": child.pid for child in supervisor.children(recursive=True)})
    return pids, (
        f"{unreadable}: found the stack's supervisor (pid {supervisor.pid}) by its command line, "
        f"with {len(pids) - 1} process(es) below it"
    )


def find_supervisor(root: Path) -> psutil.Process | None:
    """The running `python -m restaurant_pipeline.local.supervisor --state-dir <root>` (`local up --detach`)."""
    for process in psutil.process_iter(["cmdline"]):
        arguments = process.info.get("cmdline") or []
        for index, argument in enumerate(arguments[:-1]):
            if argument == "-m" and arguments[index + 1] == SUPERVISOR_MODULE:
                options = arguments[index + 2 :]
                if "--state-dir" in options[:-1] and _same_folder(options[options.index("--state-dir") + 1], root):
                    return process
    return None


def _same_folder(given: str, root: Path) -> bool:
    try:
        return Path(given).resolve() == root
    except (OSError, RuntimeError):
        return False


def _stop(state: StatePaths, pids: dict[str, int], timeout: float, save: bool) -> DownResult:
    supervisor = pids.get("supervisor", 0)
    if supervisor and pid_alive(supervisor):
        state.save_report.unlink(missing_ok=True)
        os.kill(supervisor, signal.SIGTERM if save else signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while pid_alive(supervisor):
            report = _save_report(state)
            if report.get("holding"):
                return DownResult(
                    True,
                    error=report["error"],
                    holding=True,
                    previous_snapshot=last_saved(state),
                    released=_released(report),
                )
            if time.monotonic() > deadline:
                return DownResult(
                    True,
                    error=f"the supervisor (pid {supervisor}) is still stopping after {timeout:.0f}s (a large save?); "
                    f"it was left running: see {state.logs / 'supervisor.log'}, and run `local down` again to wait",
                    holding=True,
                    previous_snapshot=last_saved(state),
                )
            time.sleep(0.1)
        report = _save_report(state)
        if report.get("saved"):
            result = DownResult(True, saved=True, counts=report.get("counts"), released=_released(report))
        elif report.get("discarded"):
            result = DownResult(True, previous_snapshot=last_saved(state), released=_released(report))
        else:
            result = DownResult(
                True,
                error=f"the supervisor exited without saving: see {state.logs / 'supervisor.log'}",
                previous_snapshot=last_saved(state),
            )
    else:
        result = DownResult(
            True,
            error=f"the stack's supervisor (pid {supervisor}) had died: moto, which held the state in memory, died "
            "with it, and nothing could be saved",
            previous_snapshot=last_saved(state),
        )
    # a supervisor that died hard leaves its children: stop them too
    for name, pid in pids.items():
        if name != "supervisor" and pid_alive(pid):
            stop_pid(pid)
    return result


def _released(report: dict[str, Any]) -> int:
    released = report.get("released", 0)
    return released if isinstance(released, int) and released > 0 else 0


def _save_report(state: StatePaths) -> dict[str, Any]:
    try:
        report: dict[str, Any] = json.loads(state.save_report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return report
