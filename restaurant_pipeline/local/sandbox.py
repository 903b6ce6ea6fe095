"""A Lambda sandbox on this machine: the deployed artifact, under Lambda's constraints, behind the Runtime API.

`local up --artifacts` runs each service this way instead of importing its handler into a worker process:
- the code is the service's host artifact (restaurant_pipeline/artifacts/host.py), unzipped into its own task root:
  a module missing from the zip fails here as it would on AWS;
- the interpreter runs without site-packages (`-S`): sys.path is the task root, the runtime folder and the standard
  library; nothing from .venv or the repository leaks in;
- the environment is Lambda's only (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime):
  the reserved variables (_HANDLER, AWS_EXECUTION_ENV, AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
  LAMBDA_TASK_ROOT, AWS_REGION, ...) and the function's own from the topology; HOME is not set, as on Lambda;
- the code directory read-only, /tmp the only writable place (capped at the function's ephemeral storage), no usable
  /dev/shm, in a private mount namespace (sandbox_init.py) where the machine allows one (root on Linux, with
  `unshare`); elsewhere `constraints()` says which of these are not enforced;
- the function's memory size as the address-space limit (RLIMIT_AS);
- the handler hosted by awslambdaric (the runtime interface client of AWS's Python base images) against a Runtime
  API served by the worker (runtime_api.py): the context object, the init phase and the error format are Lambda's;
- a timeout or a crashed runtime ends the execution environment; the next invocation starts a new one (a cold start).
What it cannot reproduce (docs/aws.md): arm64 (the host's architecture runs), the exact Python patch level, Athena
(DuckDB stands in), the unprivileged Lambda user (the sandbox runs as the user who started the stack), seccomp.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any

from restaurant_pipeline.local.processes import die_with_parent
from restaurant_pipeline.local.runtime_api import InvocationResult, RuntimeApi

INIT_SCRIPT = Path(__file__).with_name("sandbox_init.py")
LAMBDA_PATH = "/usr/local/bin:/usr/bin/:/bin"  # Lambda's PATH without /var/lang/bin and /opt/bin (not here)


@dataclass(frozen=True)
class SandboxSpec:
    """One function's execution environment. JSON-serializable: the worker receives it from the supervisor."""

    function_name: str
    handler: str  # Lambda's form, 'package.module.function'
    task_root: str
    runtime_dir: str
    python: str
    python_version: str
    memory_mb: int
    ephemeral_storage_mb: int
    region: str
    environment: dict[str, str]  # the function's configured variables (topology.service_environment + local)
    writable: tuple[str, ...] = ()  # stand-ins for AWS services the function writes to (none on AWS)
    account_id: str = "123456789012"
    # Python files run before the runtime starts, like a Lambda internal extension (here: the AWS call recorder of
    # the IAM proof, restaurant_pipeline/local/call_recorder.py): each is loaded by its path, standard library and
    # the artifact's packages only, and its `preload()` called. Nothing is added to sys.path or to the runtime folder.
    preload: tuple[str, ...] = ()

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SandboxSpec:
        data = json.loads(text)
        data["writable"] = tuple(data.get("writable", ()))
        data["preload"] = tuple(data.get("preload", ()))
        return cls(**data)


@dataclass(frozen=True)
class Constraint:
    name: str
    enforced: bool
    how: str

    def line(self) -> str:
        return f"{'enforced' if self.enforced else 'NOT enforced'}: {self.name} ({self.how})"


@cache
def isolation() -> tuple[bool, str]:
    """Can this machine give the sandbox a private mount namespace? (available, how or why not)"""
    if sys.platform != "linux":
        return False, f"no mount namespaces on {sys.platform}"
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False, "util-linux's unshare and mount are not installed"
    if os.geteuid() != 0:
        return False, "mount namespaces need root here (the stack runs as an unprivileged user)"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "mount", "-t", "tmpfs", "tmpfs", "/mnt"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return False, f"unshare --mount refused: {probe.stderr.strip()[:200]}"
    return True, "a private mount namespace (unshare --mount)"


def constraints(spec: SandboxSpec) -> list[Constraint]:
    """What this machine enforces of Lambda's conditions for `spec`, and what it cannot."""
    isolated, how = isolation()
    python_note = f"CPython {spec.python_version}" + ("" if spec.python_version == "3.12" else ", Lambda runs 3.12")
    limits = "RLIMIT_AS; Lambda counts resident memory" if sys.platform == "linux" else f"not on {sys.platform}"
    return [
        Constraint(
            "code from the artifact only: sys.path = task root, runtime folder, standard library",
            True,
            f"python -S, {python_note}",
        ),
        Constraint("Lambda's environment only (no HOME, the reserved variables)", True, "a fresh environment"),
        Constraint("the code directory read-only", isolated, how),
        Constraint("/tmp the only writable place, capped at the function's ephemeral storage", isolated, how),
        Constraint("no usable /dev/shm (POSIX semaphores fail)", isolated, how),
        Constraint("address space limited to the function's memory size", sys.platform == "linux", limits),
    ]


def lambda_environment(spec: SandboxSpec, runtime_api: str) -> dict[str, str]:
    """What Lambda puts in a function's environment, then the function's own variables."""
    reserved = {
        "_HANDLER": spec.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{spec.python_version}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{spec.function_name}",
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "LAMBDA_TASK_ROOT": spec.task_root,
        "LAMBDA_RUNTIME_DIR": spec.runtime_dir,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": LAMBDA_PATH,
        "PYTHONPATH": spec.runtime_dir,
    }
    return {**spec.environment, **reserved}


def launch_command(spec: SandboxSpec, runtime_api: str) -> list[str]:
    isolated, _ = isolation()
    config = {
        "isolate": isolated,
        "task_root": spec.task_root,
        "runtime_dir": spec.runtime_dir,
        "python": spec.python,
        "python_prefix": _prefix(spec.python),
        "writable": list(spec.writable),
        "tmp_size_mb": spec.ephemeral_storage_mb,
        "memory_mb": spec.memory_mb if sys.platform == "linux" else None,
        "handler": spec.handler,
        "preload": list(spec.preload),
        "environment": lambda_environment(spec, runtime_api),
    }
    init = [spec.python, "-S", "-I", str(INIT_SCRIPT), json.dumps(config)]
    return ["unshare", "--mount", "--propagation", "private", "--", *init] if isolated else init


@cache
def _prefix(python: str) -> str:
    return subprocess.run(
        [python, "-S", "-c", "import sys; print(sys.base_prefix)"], capture_output=True, text=True, check=True
    ).stdout.strip()


@dataclass
class EnvironmentStats:
    cold_starts: int = 0
    last_init_seconds: float | None = None  # launch -> the runtime's first poll for work (Lambda's INIT phase)
    timeouts: int = 0
    exits: list[int] = field(default_factory=list)


class ExecutionEnvironment:
    """One Lambda execution environment for one function: started on demand, ended by a timeout or a crash."""

    def __init__(self, spec: SandboxSpec, output: IO[bytes] | int | None = None) -> None:
        self.spec = spec
        self._output = output
        self._api = RuntimeApi().start()
        self._process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0
        self._lock = threading.Lock()
        self.stats = EnvironmentStats()

    @property
    def pid(self) -> int:
        return self._process.pid if self._process else 0

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """The INIT phase: a new runtime process imports the handler module, then polls for work."""
        self.end()
        self._api.reset()
        self._started_at = time.monotonic()
        self._process = subprocess.Popen(
            launch_command(self.spec, self._api.address),
            stdout=self._output,
            stderr=subprocess.STDOUT if self._output is not None else None,
            preexec_fn=die_with_parent,
        )
        self.stats.cold_starts += 1
        self.stats.last_init_seconds = None
        threading.Thread(target=self._watch_init, daemon=True, name="sandbox-init").start()

    def _watch_init(self) -> None:
        started = self._started_at
        if self._api.polled.wait(timeout=900) and started == self._started_at:
            self.stats.last_init_seconds = self._api.first_poll_at - started

    def invoke(self, event: dict[str, Any], timeout_seconds: float) -> InvocationResult:
        """One invocation, as Lambda makes it: a timeout or a crash ends this environment (the next one is cold)."""
        with self._lock:
            if not self.alive():
                self.start()
            result = self._api.invoke(event, timeout_seconds, self.spec.function_arn, runtime_alive=self.alive)
            if result.status == "timeout":
                self.stats.timeouts += 1
                self.end()
            elif result.status in ("exited", "init_error"):
                if self._process is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self._process.wait(timeout=5)  # a runtime that posted an init error exits
                    code = self._process.poll()
                    if code is not None:
                        self.stats.exits.append(code)
                        if result.status == "exited":
                            result.payload = {"errorType": "Runtime.ExitError", "errorMessage": _exit_reason(code)}
                self.end()
            return result

    def end(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()  # Lambda freezes, then discards the environment: nothing runs on
            process.wait(timeout=10)

    def close(self) -> None:
        self.end()
        self._api.stop()


def _exit_reason(code: int) -> str:
    if code < 0:
        return f"Runtime exited with error: signal {-code}"
    return f"Runtime exited with error: exit status {code}"
