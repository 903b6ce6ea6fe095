"""Start, stop and find the local stack from the CLI (and from tests, on other ports and state folders)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from restaurant_pipeline.local.processes import pid_alive, port_in_use, stop_pid
from restaurant_pipeline.local.stack import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STATE_DIR, StackInfo, StatePaths
from restaurant_pipeline.local.supervisor import LocalStack, StackOptions

STATE_DIR_ENV = "PIPELINE_STATE_DIR"
START_TIMEOUT_SECONDS = 120


class StackNotRunning(RuntimeError):
    pass


class StackStartError(RuntimeError):
    pass


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
    info = StackInfo.from_json(state.stack_file.read_text(encoding="utf-8"))
    supervisor = info.pids.get("supervisor")
    if supervisor and not pid_alive(supervisor):
        raise StackNotRunning(
            f"The local stack's supervisor (pid {supervisor}) is gone but left {state.stack_file}. "
            "Run `restaurant-pipeline local down` to clean up, then `local up --detach`."
        )
    return info


def up(options: StackOptions, detach: bool, progress: Callable[[str], None] | None = None) -> StackInfo:
    """Start the stack (idempotent). With `options.artifacts`, the host artifacts are built (or reused) first,
    here, so that their build (a minute the first time) is shown and does not count against the start timeout."""
    state = StatePaths(Path(options.state_dir).resolve())
    try:
        info = read_stack(state.root)
        return info  # already running: `up` is idempotent
    except StackNotRunning:
        pass
    if state.stack_file.exists():
        down(state.root)
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
    from restaurant_pipeline.config import load_config

    config = load_config(Path(options.config_path) if options.config_path else None)
    try:
        built = ensure_host_artifacts(config.nlp.enabled, progress=progress)
    except PackagingError as exc:
        raise StackStartError(f"the host artifacts for the Lambda sandbox could not be built: {exc}") from exc
    if progress:
        progress(built.summary())


def down(state_dir: Path | None = None, timeout: float = 90.0) -> bool:
    """Stop the stack started from this state folder. True if something was running."""
    state = StatePaths(Path(state_dir or default_state_dir()).resolve())
    if not state.stack_file.exists():
        return False
    info = StackInfo.from_json(state.stack_file.read_text(encoding="utf-8"))
    supervisor = info.pids.get("supervisor", 0)
    stopped = False
    if supervisor and pid_alive(supervisor):
        stopped = stop_pid(supervisor, timeout=timeout)
    # a supervisor that died hard leaves its children: stop them too
    for name, pid in info.pids.items():
        if name != "supervisor" and pid_alive(pid):
            stop_pid(pid)
            stopped = True
    state.stack_file.unlink(missing_ok=True)
    return stopped
