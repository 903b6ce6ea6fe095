"""A real detached stack whose stack.json got corrupted: `status` says so in one line, and `local down` still finds
its supervisor (by its command line), which saves and stops everything as usual (issue 24, item 10)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from restaurant_pipeline.local.processes import pid_alive
from tests.integration.platform.conftest import CLI, REPO_ROOT, stack_client


def cli(env, *args):
    return subprocess.run([*CLI, *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=180)


def test_down_stops_and_saves_a_live_stack_whose_stack_json_is_truncated(stack_env):
    assert cli(stack_env, "local", "up", "--detach", "--no-scheduler").returncode == 0
    status = json.loads(cli(stack_env, "local", "status", "--json").stdout)
    s3 = stack_client(stack_env, "s3")
    s3.put_object(Bucket=status["bucket"], Key="notes/kept.txt", Body=b"still here")
    stack_file = Path(stack_env["PIPELINE_STATE_DIR"]) / "stack.json"
    stack_file.write_text(stack_file.read_text()[:60], encoding="utf-8")

    looked = cli(stack_env, "local", "status")
    down = cli(stack_env, "local", "down")

    assert looked.returncode == 1 and "Traceback" not in looked.stderr
    assert looked.stderr.strip().startswith("error:") and "is not a stack description" in looked.stderr
    assert down.returncode == 0, down.stderr
    supervisor = status["processes"]["supervisor"]["pid"]
    assert f"found the stack's supervisor (pid {supervisor}) by its command line" in down.stderr
    assert "Local stack stopped; saved" in down.stdout
    assert not any(pid_alive(process["pid"]) for process in status["processes"].values())
    assert not stack_file.exists()

    assert cli(stack_env, "local", "up", "--detach", "--no-scheduler").returncode == 0
    assert s3.get_object(Bucket=status["bucket"], Key="notes/kept.txt")["Body"].read() == b"still here"
