"""The Lambda sandbox proves itself: a tiny artifact that breaks one of Lambda's rules fails in it, with a clear error.

Each test runs a real runtime process (awslambdaric, the sandbox's interpreter) against the Runtime API, from a task
root under /tmp (the sandbox's fresh /tmp must still show it). Where this machine cannot give the sandbox a private
mount namespace (not root, not Linux), the constraints that need one are skipped with the reason, and a test checks
that `constraints()` says they are not enforced.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from restaurant_pipeline.artifacts.host import ensure_runtime, sandbox_python
from restaurant_pipeline.local.sandbox import ExecutionEnvironment, SandboxSpec, constraints, isolation

pytestmark = pytest.mark.integration

ISOLATED, HOW = isolation()
needs_isolation = pytest.mark.skipif(not ISOLATED, reason=f"no private mount namespace here: {HOW}")

PROBE = """
import json, os, sys

def describe(event, context):
    return {
        "cwd": os.getcwd(),
        "sys_path": sys.path,
        "home": os.environ.get("HOME"),
        "environment": dict(os.environ),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "event": event,
    }

def lock(event, context):
    import multiprocessing
    multiprocessing.Lock()
    return "a semaphore was created"

def write(event, context):
    remaining = event.get("bytes", 1)
    with open(event["path"], "w") as handle:
        while remaining > 0:
            chunk = min(remaining, 1024 * 1024)
            handle.write("x" * chunk)
            remaining -= chunk
    return "written"

def allocate(event, context):
    block = bytearray(event["megabytes"] * 1024 * 1024)
    return len(block)

def sleep(event, context):
    import time
    time.sleep(event["seconds"])
    return "slept"

def preloaded(event, context):
    extension = sys.modules.get("extension")
    return {
        "ran_before_the_handler": getattr(extension, "RAN", False),
        "argv": sys.argv,
        "sys_path": sys.path,
    }

def import_absent(event, context):
    import yaml  # in the project's virtualenv, not in this artifact
    return "imported"
"""


@pytest.fixture(scope="module")
def runtime_dir() -> Path:
    return ensure_runtime()


@pytest.fixture
def task_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("task")  # under /tmp: hidden by the sandbox's own /tmp, bound again
    (root / "probe.py").write_text(textwrap.dedent(PROBE), encoding="utf-8")
    (root / "broken.py").write_text("import yaml\n\ndef handler(event, context):\n    return 1\n", encoding="utf-8")
    return root


@pytest.fixture
def sandbox(task_root: Path, runtime_dir: Path) -> Iterator[callable]:
    opened: list[ExecutionEnvironment] = []

    def open_environment(handler: str, memory_mb: int = 256, preload: tuple[str, ...] = ()) -> ExecutionEnvironment:
        python = sandbox_python()
        spec = SandboxSpec(
            function_name="probe",
            handler=handler,
            task_root=str(task_root),
            runtime_dir=str(runtime_dir),
            python=python.executable,
            python_version=python.version,
            memory_mb=memory_mb,
            ephemeral_storage_mb=512,
            region="eu-west-3",
            environment={"FUNCTION_SETTING": "from the topology"},
            preload=preload,
        )
        environment = ExecutionEnvironment(spec)
        opened.append(environment)
        return environment

    yield open_environment
    for environment in opened:
        environment.close()


def test_the_function_sees_only_its_artifact_and_lambdas_environment(sandbox, task_root, runtime_dir):
    result = sandbox("probe.describe").invoke({"hello": "world"}, timeout_seconds=30)

    assert result.status == "response", result.payload
    seen = result.payload
    assert seen["event"] == {"hello": "world"}
    assert seen["cwd"] == str(task_root)
    assert seen["sys_path"][:2] == [str(task_root), str(runtime_dir)]
    assert not any("site-packages" in entry or ".venv" in entry for entry in seen["sys_path"])
    assert seen["home"] is None  # Lambda sets no HOME
    environment = seen["environment"]
    assert (
        environment["AWS_LAMBDA_FUNCTION_NAME"] == "probe" and environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    )
    assert environment["LAMBDA_TASK_ROOT"] == str(task_root) and environment["_HANDLER"] == "probe.describe"
    assert environment["AWS_EXECUTION_ENV"].startswith("AWS_Lambda_python3.")
    assert environment["FUNCTION_SETTING"] == "from the topology"
    assert "VIRTUAL_ENV" not in environment and "PYTEST_CURRENT_TEST" not in environment
    assert seen["function_name"] == "probe" and seen["request_id"] == result.request_id
    assert 25_000 < seen["remaining_ms"] <= 30_000


def test_a_module_missing_from_the_artifact_fails_as_on_aws(sandbox):
    at_import = sandbox("broken.handler").invoke({}, timeout_seconds=30)
    in_handler = sandbox("probe.import_absent").invoke({}, timeout_seconds=30)

    assert at_import.status == "init_error"
    assert at_import.payload["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'yaml'" in at_import.error_message
    assert in_handler.status == "error" and in_handler.payload["errorType"] == "ModuleNotFoundError"


@needs_isolation
def test_a_multiprocessing_lock_cannot_be_created(sandbox):
    result = sandbox("probe.lock").invoke({}, timeout_seconds=30)

    assert result.status == "error", result.payload
    assert result.payload["errorType"] == "OSError"  # Errno 30 here, Errno 38 on Lambda: no semaphore either way


@needs_isolation
def test_only_tmp_is_writable(sandbox, task_root):
    environment = sandbox("probe.write")
    in_code = environment.invoke({"path": str(task_root / "new.py")}, timeout_seconds=30)
    # A place the host can write: this repository, unless the clone itself lives under /tmp (the sandbox's /tmp is
    # its own, so a path there is writable by design); then /var/tmp, outside /tmp on every Linux.
    here = Path(__file__).resolve()
    elsewhere = here if not here.is_relative_to("/tmp") else Path("/var/tmp/clone-is-under-tmp.py")
    in_host = environment.invoke({"path": str(elsewhere.with_name("written-by-a-function"))}, 30)
    in_tmp = environment.invoke({"path": "/tmp/scratch.txt"}, timeout_seconds=30)

    assert in_code.status == in_host.status == "error"
    assert "Read-only file system" in in_code.error_message and "Read-only file system" in in_host.error_message
    assert not (task_root / "new.py").exists()
    assert in_tmp.status == "response" and in_tmp.payload == "written"
    assert not Path("/tmp/scratch.txt").exists()  # the sandbox's /tmp is its own


@needs_isolation
def test_tmp_is_capped_at_the_ephemeral_storage(sandbox):
    result = sandbox("probe.write").invoke({"path": "/tmp/big", "bytes": 513 * 1024 * 1024}, timeout_seconds=60)

    assert result.status == "error" and "No space left on device" in result.error_message


def test_memory_beyond_the_function_size_fails(sandbox):
    within = sandbox("probe.allocate", memory_mb=256).invoke({"megabytes": 32}, timeout_seconds=30)
    beyond = sandbox("probe.allocate", memory_mb=256).invoke({"megabytes": 512}, timeout_seconds=30)

    assert within.status == "response" and within.payload == 32 * 1024 * 1024
    assert beyond.status == "error" and beyond.payload["errorType"] == "MemoryError"


def test_a_timeout_ends_the_environment_and_the_next_invocation_starts_cold(sandbox):
    environment = sandbox("probe.sleep")
    timed_out = environment.invoke({"seconds": 30}, timeout_seconds=2)
    after = environment.invoke({"seconds": 0}, timeout_seconds=30)

    assert timed_out.status == "timeout" and "Task timed out after 2.00 seconds" in timed_out.error_message
    assert after.status == "response" and after.payload == "slept"
    assert environment.stats.cold_starts == 2 and environment.stats.timeouts == 1


def test_the_report_says_what_this_machine_enforces(task_root, runtime_dir):
    python = sandbox_python()
    spec = SandboxSpec(
        "probe",
        "probe.describe",
        str(task_root),
        str(runtime_dir),
        python.executable,
        python.version,
        128,
        512,
        "eu-west-3",
        {},
    )
    report = {constraint.name: constraint for constraint in constraints(spec)}

    assert report["the code directory read-only"].enforced is ISOLATED
    assert report["no usable /dev/shm (POSIX semaphores fail)"].enforced is ISOLATED
    if not ISOLATED:
        assert HOW in report["/tmp the only writable place, capped at the function's ephemeral storage"].line()


def test_a_preloaded_file_runs_before_the_runtime_and_leaves_the_function_s_world_as_it_was(
    sandbox, task_root, runtime_dir, tmp_path_factory
):
    extension = tmp_path_factory.mktemp("extension") / "extension.py"  # under /tmp too: kept visible
    extension.write_text("RAN = False\n\ndef preload():\n    global RAN\n    RAN = True\n", encoding="utf-8")

    result = sandbox("probe.preloaded", preload=(str(extension),)).invoke({}, timeout_seconds=30)

    assert result.status == "response", result.payload
    assert result.payload["ran_before_the_handler"] is True
    assert result.payload["argv"][1:] == ["probe.preloaded"]  # what awslambdaric reads its handler from
    assert result.payload["argv"][0].endswith("awslambdaric/__main__.py")
    assert result.payload["sys_path"][:2] == [str(task_root), str(runtime_dir)]
    assert str(extension.parent) not in result.payload["sys_path"]
