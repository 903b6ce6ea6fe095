"""Adapter: dbt in process (dbtRunner), parsing the project once per warm process and reusing the manifest.

Speed (measured by `make bench`): the parse happens once (at init, see `prepare`); on DuckDB the database is
opened once per invocation, not once per node (dbt-duckdb closes it whenever no node holds it when the profile's
keep_open is false: ~70 ms of open + httpfs load + secret per node), and released as soon as the invocation
returns, so the file is never locked between invocations; `dbt build` writes no JSON artifacts (the results are
read in memory).

dbt reads its profile from the environment (dbt/profiles.yml uses env_var), so `dbt_environment` is the single
place that says which variables the profile needs; `DbtBuilder` exports them before its first invocation.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from contracts.events import ModelRun, TestCounts
from services.transformer.adapters import shipped_manifest, threads_for_dbt
from services.transformer.domain.failures import FinalError
from services.transformer.domain.model import BuildReport, FailedTest, InfrastructureError

# Before any dbt import: dbt's locks and thread pool must not need /dev/shm, which Lambda lacks (see the module).
threads_for_dbt.install()


def default_project_dir() -> Path:
    """The dbt project beside services/: dbt_project/ in the Lambda artifact (shipped_manifest.ARTIFACT_PROJECT_DIR;
    there dbt/ is dbt-core's own package), else the repository's dbt/, else the copy a wheel installs (`pip install .`:
    restaurant_pipeline/dbt_project/, pyproject.toml's package data). DBT_PROJECT_DIR overrides it (see settings)."""
    root = Path(__file__).resolve().parents[3]
    candidates = (
        root / shipped_manifest.ARTIFACT_PROJECT_DIR,
        root / "dbt",
        root / "restaurant_pipeline" / "dbt_project",
    )
    return next((folder for folder in candidates if (folder / "dbt_project.yml").is_file()), root / "dbt")


def duckdb_extension_directory() -> str:
    """Where duckdb-ext-httpfs keeps httpfs for the pinned DuckDB: loaded offline, never downloaded."""
    import duckdb_ext

    return str(Path(next(iter(duckdb_ext.__path__))) / "extensions")


def dbt_environment(
    *,
    target: str,
    bucket: str,
    warehouse_path: str | None = None,
    endpoint_url: str | None = None,
    athena_workgroup: str | None = None,
    athena_results_s3: str | None = None,
    glue_database: str | None = None,
    nlp_enabled: bool | None = None,
) -> dict[str, str]:
    """The environment dbt reads (dbt/profiles.yml, and NLP_ENABLED in dbt/macros/nlp.sql while parsing).

    Also what `dbt` on the command line needs (docs, debugging).
    """
    env = {"DBT_TARGET": target, "BUCKET_NAME": bucket}
    if nlp_enabled is not None:
        env["NLP_ENABLED"] = "true" if nlp_enabled else "false"
    if target == "local":
        env["DUCKDB_EXTENSION_DIRECTORY"] = duckdb_extension_directory()
        if warehouse_path:
            env["WAREHOUSE_PATH"] = warehouse_path
        if endpoint_url:
            env["AWS_ENDPOINT_URL"] = endpoint_url
    for key, value in (
        ("ATHENA_WORKGROUP", athena_workgroup),
        ("ATHENA_RESULTS_S3", athena_results_s3),
        ("GLUE_DATABASE", glue_database),
    ):
        if value:
            env[key] = value
    return env


# Per build: the results are read from the dbtRunnerResult, so target/run_results.json and manifest.json are not
# written (~0.1 s per invocation), and dbt's own log lines (a file line and a console line for each of ~1,200 events
# per build, formatted even under --quiet) are not produced: ~0.15-0.3 s of a ~1.6 s warm invocation (`make bench`).
# Nothing is lost: every error ends in the results (model and test messages, in the outcome and the function's
# "transform completed" log line) or in the runner's exception (an infrastructure error, logged by the handler).
BUILD_FLAGS = ("--no-write-json", "--log-level", "none", "--log-level-file", "none")


def release_duckdb() -> None:
    """Close dbt-duckdb's process-wide database handle, releasing the file for other processes (and connections).

    dbt/profiles.yml keeps the database open for the whole invocation when DBT_DUCKDB_KEEP_OPEN is true (set by
    DbtBuilder), and this is called after every invocation: one open per invocation instead of one per node.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # the athena-only artifact has no dbt-duckdb
        return
    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        if environment is not None:
            environment.close()
            DuckDBConnectionManager._ENV = None


class UnsafeStateFolder(InfrastructureError, FinalError):
    """dbt's state folder is not a private folder of this user: dbt would write (and read its partial parse) where
    someone else decides. Final: no retry cures it until a person removes the link or fixes the owner."""


STATE_SUBFOLDERS = ("target", "logs")  # what dbt writes under the state folder (_common_args)


def private_state(folder: Path) -> Path:
    """`folder` as dbt's state folder: created with mode 0700 (parents as needed), and refused (UnsafeStateFolder)
    when it, or target/ or logs/ in it, is a symbolic link, not a folder, or owned by another user. A folder of
    this user's with a wider mode is narrowed to 0700. Each is opened without following a link (O_NOFOLLOW), so the
    folder checked is the folder narrowed."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    for path in (folder, *(folder / name for name in STATE_SUBFOLDERS)):
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
        try:
            handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            if path.is_symlink():
                raise UnsafeStateFolder(
                    f"dbt's state folder {path} is a symbolic link (to {os.readlink(path)}): refused, dbt would "
                    f"write where it points. Remove the link (rm {path}) or set DBT_STATE_DIR to a folder of your own"
                ) from None
            raise UnsafeStateFolder(
                f"dbt's state folder {path} is not a folder: remove it or set DBT_STATE_DIR"
            ) from None
        try:
            found = os.fstat(handle)
            if found.st_uid != os.geteuid():
                raise UnsafeStateFolder(
                    f"dbt's state folder {path} belongs to user id {found.st_uid}, not to this user ({os.geteuid()}): "
                    "refused; remove it or set DBT_STATE_DIR to a folder of your own"
                )
            if stat.S_IMODE(found.st_mode) & 0o077:
                os.fchmod(handle, 0o700)
        finally:
            os.close(handle)
    return folder


class DbtBuilder:
    """`build(days, objects)` = `dbt build` of everything downstream of raw for those collection days."""

    def __init__(
        self,
        project_dir: Path,
        target: str,
        environment: Mapping[str, str],
        state_dir: Path,
        daily_drop_warn_share: float | None = None,
    ) -> None:
        self._project_dir = Path(project_dir)
        self._target = target
        self._environment = dict(environment)
        if target == "local":
            self._environment.setdefault("DBT_DUCKDB_KEEP_OPEN", "true")  # released after each invocation
        # Lambda's code folder is read-only: dbt's target/ and logs/ go to a writable folder of this stack's own
        # (settings.dbt_state_folder), never one shared with another stack; checked on each invocation (private_state).
        self._state_dir = Path(state_dir)
        self._drop_share = daily_drop_warn_share
        self._manifest: Any = None
        self._lock = threading.Lock()
        self.parses = 0  # how many times this process parsed the project (at most 1 on a warm function)
        self.manifest_origin = "not loaded yet"  # shipped, or parsed and why (for the init log)
        self.builds = 0

    def with_environment(self, **changes: str) -> DbtBuilder:
        """A builder for another warehouse/bucket that shares this one's parsed manifest (no re-parse).

        DuckDB names its catalog after the file stem and the manifest records it: keep the stem.
        """
        old, new = self._environment.get("WAREHOUSE_PATH"), changes.get("WAREHOUSE_PATH")
        if old and new and Path(old).stem != Path(new).stem:
            raise ValueError(f"warehouse file {new} must keep the stem {Path(old).stem!r} of the parsed manifest")
        clone = DbtBuilder(
            self._project_dir,
            self._target,
            {**self._environment, **changes},
            state_dir=self._state_dir,
            daily_drop_warn_share=self._drop_share,
        )
        clone._manifest = self._runner_manifest()
        clone.manifest_origin = self.manifest_origin
        return clone

    def prepare(self) -> float:
        """Load the shipped manifest or parse the project now (init time) rather than on the first event.

        Returns the seconds it took (0 if already done); `manifest_origin` says which.
        """
        if self._manifest is not None:
            return 0.0
        started = time.perf_counter()
        self._runner_manifest()
        return time.perf_counter() - started

    def _runner_manifest(self) -> Any:
        with self._lock, self._exported():
            self._runner()
        return self._manifest

    def _common_args(self) -> list[str]:
        private_state(self._state_dir)
        return [
            "--project-dir",
            str(self._project_dir),
            "--profiles-dir",
            str(self._project_dir),
            "--target",
            self._target,
            "--target-path",
            str(self._state_dir / "target"),
            "--log-path",
            str(self._state_dir / "logs"),
        ]

    @contextmanager
    def _exported(self) -> Iterator[None]:
        """dbt reads the profile's values from os.environ: export them for one invocation, then restore."""
        saved = {key: os.environ.get(key) for key in self._environment}
        os.environ.update(self._environment)
        try:
            yield
        finally:
            if self._target == "local":
                release_duckdb()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def _runner(self) -> Any:
        from dbt.cli.main import dbtRunner

        if self._manifest is None:
            # os.environ holds the builder's variables here (_exported): what dbt itself will read.
            shipped = shipped_manifest.load(self._project_dir, dict(os.environ))
            self.manifest_origin = shipped.reason
            self._manifest = shipped.manifest
        if self._manifest is None:
            self._manifest = self._parse()
            self.manifest_origin = f"parsed: {self.manifest_origin}"
        return dbtRunner(manifest=self._manifest)

    def _parse(self, *flags: str) -> Any:
        from dbt.cli.main import dbtRunner

        result = dbtRunner().invoke(["--quiet", "parse", *flags, *self._common_args()])
        if not result.success or result.result is None:
            raise InfrastructureError(
                f"dbt parse failed: {result.exception or 'see the dbt log'}"
            ) from result.exception
        self.parses += 1
        return result.result

    def ship_manifest(self) -> Path:
        """Parse the whole project and write the manifest into its folder (`make package`, on the artifact's copy).

        A full parse: a partial parse would carry over what an earlier parse in the same state folder recorded.
        """
        with self._lock, self._exported():
            manifest = self._parse("--no-partial-parse")
            return shipped_manifest.ship(manifest, self._project_dir, dict(os.environ))

    def invoke(self, args: Sequence[str]) -> Any:
        """Any other dbt command on the same parsed manifest (tests use it for unit tests, docs)."""
        with self._lock, self._exported():
            return self._runner().invoke(["--quiet", *args, *self._common_args()])

    def build(self, days: Sequence[str], objects: Sequence[str] = ()) -> BuildReport:
        """`dbt build` for those days; with `objects` (validated keys of those days) staging reads only them."""
        variables: dict[str, Any] = {"dts": list(days)}
        if objects:
            variables["objects"] = list(objects)
        if self._drop_share is not None:
            variables["daily_drop_warn_share"] = self._drop_share
        started = time.monotonic()
        with self._lock, self._exported():
            result = self._runner().invoke(
                [
                    "--quiet",
                    "build",
                    *self._common_args(),
                    "--vars",
                    json.dumps(variables),
                    "--exclude-resource-type",
                    "unit_test",
                    *BUILD_FLAGS,
                ]
            )
            self.builds += 1
            report = interpret(result)
            unkept = [failure.name for failure in report.failures if failure.relation is None]
            if unkept:
                self._keep_failing_rows(report, unkept, variables)
        report.duration_ms = int((time.monotonic() - started) * 1000)
        return report

    def _keep_failing_rows(self, report: BuildReport, names: list[str], variables: dict[str, Any]) -> None:
        """Re-run only the failed tests with --store-failures (DuckDB: dbt_project.yml leaves it to the flag), so
        their failing rows are kept in the audit schema and the outcome shows samples. Same data: the marts are
        built, the staging view reads the same objects. Without it, the failures are still reported, without samples.
        """
        result = self._runner().invoke(
            [
                "--quiet",
                "test",
                *self._common_args(),
                "--select",
                *names,
                "--vars",
                json.dumps(variables),
                "--store-failures",
                *BUILD_FLAGS,
            ]
        )
        kept = {
            item.node.name: f'"{item.node.database}"."{item.node.schema}"."{item.node.alias}"'
            for item in getattr(result.result, "results", None) or []
            if str(getattr(item.status, "value", item.status)).lower() in ("fail", "warn")
        }
        report.failures = [replace(f, relation=f.relation or kept.get(f.name)) for f in report.failures]


def interpret(result: Any) -> BuildReport:
    """Map a dbtRunnerResult to the domain's report; raise InfrastructureError when dbt itself could not work.

    The text of an error never decides its fate (issue 24, item 1c: a raw file named "...Connection..." made a data
    error look like a lost connection, retried for ever):
    - a model or test that ends in error is an error of the build (outcome "error", naming the node and its message),
      whatever its message says;
    - an exception of the runner (dbtRunnerResult.exception: dbt could not parse, connect, or run at all) is raised
      as InfrastructureError chained to it (`from`), so the service classifies it by the AWS error codes along that
      chain (domain/failures.classify: AccessDenied is final, throttling transient), not by its words.
    """
    if result.exception is not None:
        exception = result.exception
        raise InfrastructureError(
            f"dbt could not run: {type(exception).__name__}: {str(exception)[:1000]}"
        ) from exception
    results = list(getattr(result.result, "results", None) or [])
    models: list[ModelRun] = []
    failures: list[FailedTest] = []
    counts = {"total": 0, "passed": 0, "failed": 0, "warned": 0, "errored": 0, "skipped": 0}
    error_message = error_model = None
    for item in results:
        node = item.node
        status = str(getattr(item.status, "value", item.status)).lower()
        resource = str(getattr(node.resource_type, "value", node.resource_type))
        message = str(item.message or "")
        if resource in ("operation", "hook") or node.unique_id.startswith("operation."):
            if status == "error":
                raise InfrastructureError(f"dbt hook {node.name} failed: {message[:1000]}")
            continue
        if resource == "model":
            rows = (getattr(item, "adapter_response", None) or {}).get("rows_affected")
            models.append(
                ModelRun(
                    name=node.name,
                    status=status,
                    rows_affected=rows if isinstance(rows, int) and rows >= 0 else None,
                    execution_time_ms=int((item.execution_time or 0) * 1000),
                )
            )
            if status == "error":
                error_message = error_message or f"model {node.name}: {message}"
                error_model = error_model or node.name
            continue
        if resource != "test":
            continue
        counts["total"] += 1
        attached = getattr(node, "attached_node", None) or ""
        model = attached.split(".")[-1] if attached else None
        if status == "pass":
            counts["passed"] += 1
        elif status in ("fail", "warn"):
            counts["failed" if status == "fail" else "warned"] += 1
            failures.append(
                FailedTest(
                    name=node.name,
                    model=model,
                    severity="error" if status == "fail" else "warn",
                    failing_rows=int(item.failures or 0),
                    relation=getattr(node, "relation_name", None),
                    message=message,
                )
            )
        elif status == "error":
            counts["errored"] += 1
            error_message = error_message or f"test {node.name}: {message}"
            error_model = error_model or model
        else:
            counts["skipped"] += 1
    if error_message is not None:
        outcome = "error"
    elif any(f.severity == "error" for f in failures):
        outcome = "tests_failed"
    else:
        outcome = "passed"
    return BuildReport(
        outcome=outcome,  # type: ignore[arg-type]
        models=models,
        tests=TestCounts(**counts),
        failures=failures,
        error_message=error_message,
        error_model=error_model,
    )
