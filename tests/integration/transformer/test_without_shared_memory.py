"""dbt where POSIX semaphores cannot be created, as on Lambda (no /dev/shm): fails bare, works through our adapter.

Each check runs dbt in a new process inside a private mount namespace whose /dev/shm is an empty read-only tmpfs
(the sandbox's way, sandbox.py), so `multiprocessing.Lock()` fails there as it does on Lambda (Errno 30 here,
Errno 38 there). Skipped, with the reason, where this machine cannot make such a namespace.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from restaurant_pipeline.local.sandbox import isolation
from services.transformer.adapters.dbt_build import default_project_dir

pytestmark = pytest.mark.integration

ISOLATED, HOW = isolation()
REPO_ROOT = Path(__file__).resolve().parents[3]


def run_without_shm(tmp_path: Path, *code: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "probe.py"
    script.write_text("".join(textwrap.dedent(part) for part in code), encoding="utf-8")
    environment = {
        "PATH": "/usr/bin:/bin",
        "DBT_TARGET": "local",
        "WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "PYTHONPATH": str(REPO_ROOT),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    shell = f"mount -t tmpfs -o ro,size=4k tmpfs /dev/shm && exec {sys.executable} {script}"
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", shell],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )


PARSE = f"""
    from dbt.cli.main import dbtRunner
    project = {str(default_project_dir())!r}
    result = dbtRunner().invoke(["--quiet", "parse", "--project-dir", project, "--profiles-dir", project,
                                 "--target-path", "target", "--log-path", "logs"])
    print("SUCCESS" if result.success else f"FAILED {{result.exception!r}}")
"""


@pytest.mark.skipif(not ISOLATED, reason=f"no private mount namespace here: {HOW}")
def test_bare_dbt_cannot_parse_without_shared_memory(tmp_path):
    result = run_without_shm(tmp_path, PARSE)

    assert "FAILED" in result.stdout, result.stdout + result.stderr
    assert "Read-only file system" in result.stdout or "Function not implemented" in result.stdout


@pytest.mark.skipif(not ISOLATED, reason=f"no private mount namespace here: {HOW}")
def test_dbt_parses_and_runs_its_thread_pool_without_shared_memory_through_the_adapter(tmp_path):
    result = run_without_shm(
        tmp_path,
        """
        import multiprocessing
        import services.transformer.adapters.dbt_build  # installs threads_for_dbt before any dbt import
        from dbt.graph.thread_pool import DbtThreadPool
        try:
            multiprocessing.Lock()
            print("semaphores work here: the check proves nothing")
        except OSError:
            pass
        pool = DbtThreadPool(2)
        print("pool", sorted(pool.map(abs, [-2, -1])))
        pool.close()
        pool.join()
        """,
        PARSE,
    )

    assert "semaphores work" not in result.stdout
    assert "pool [1, 2]" in result.stdout, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_the_project_has_no_semantic_models_or_metrics(parsed_builder):
    """dbt validates semantic models and metrics with a ProcessPoolExecutor, which threads_for_dbt does not cover:
    one appearing would fail on Lambda (see services/transformer/adapters/threads_for_dbt.py)."""
    manifest = parsed_builder._runner_manifest()

    assert manifest.semantic_models == {} and manifest.metrics == {}
