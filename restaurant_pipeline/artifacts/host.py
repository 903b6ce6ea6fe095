"""The artifacts for this machine: what the local stack's Lambda sandbox runs (`local up --artifacts`).

The same builder as the AWS artifacts (build.py): the same file list, exclusions and shipped dbt manifest; only
the wheels differ (pip of the interpreter that runs them picks them), plus the transformer's stand-in for Athena
(dbt-duckdb; its manifest is parsed for the `local` target). Each artifact is zipped, then unzipped into its task
root, as Lambda does with the zip it is given.

Built once, then reused while nothing it is made of changes: a key over the interpreter, the pinned requirements,
the project files it ships, what the dbt manifest depends on (NLP_ENABLED) and the builder's own code is kept beside
each task root. The installed wheels are cached on their own (keyed by interpreter and requirements), so a code
change costs a copy and a zip, not a download.

Interpreter: Lambda runs CPython 3.12; the sandbox prefers a `python3.12` on this machine, else runs the interpreter
of this process and says so. `LAMBDA_SANDBOX_PYTHON` chooses another.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform as host_os
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from restaurant_pipeline.artifacts import build as builder
from restaurant_pipeline.artifacts.interpreters import installed_pythons, probe
from restaurant_pipeline.artifacts.specs import (
    ARTIFACTS,
    HOST_BUILD_DIR,
    LAMBDA_PYTHON_VERSION,
    LOCK_FILE,
    REPO_ROOT,
    RUNTIME_INTERFACE_CLIENT,
    ArtifactSpec,
    Platform,
)

INPUTS_FILE = ".artifact-inputs"
WHEELS_DIR = ".wheels"
RUNTIME_DIR = "runtime"


@dataclass(frozen=True)
class SandboxPython:
    executable: str  # the interpreter itself (a pyenv shim resolved), run directly in the sandbox
    version: str  # "3.12"
    chosen_because: str


@cache
def sandbox_python() -> SandboxPython:
    """The interpreter the sandbox runs: LAMBDA_SANDBOX_PYTHON, else CPython 3.12 (Lambda's), else this one."""
    chosen = os.environ.get("LAMBDA_SANDBOX_PYTHON")
    if chosen:
        probed = probe(chosen)
        if probed is None:
            raise builder.PackagingError(f"LAMBDA_SANDBOX_PYTHON={chosen} is not a CPython with pip")
        return SandboxPython(probed[0], probed[1], "LAMBDA_SANDBOX_PYTHON")
    for executable in installed_pythons(LAMBDA_PYTHON_VERSION):
        return SandboxPython(executable, LAMBDA_PYTHON_VERSION, f"Lambda's version, found at {executable}")
    probed = probe(getattr(sys, "_base_executable", sys.executable))
    if probed is None:
        raise builder.PackagingError("no interpreter with pip for the Lambda sandbox")
    return SandboxPython(probed[0], probed[1], f"no CPython {LAMBDA_PYTHON_VERSION} found: this process's interpreter")


def host_platform() -> Platform:
    python = sandbox_python()
    return Platform(
        name="host",
        build_dir=HOST_BUILD_DIR,
        python_version=python.version,
        pip_target_args=(),
        dbt_target="local",
        zip_level=1,
        description=f"this machine ({sys.platform} {host_os.machine()}) / CPython {python.version}",
        python=python.executable,
    )


@dataclass
class HostArtifacts:
    """Where each service's task root is, the runtime folder, and what this call built or reused."""

    task_roots: dict[str, Path]
    runtime_dir: Path
    python: SandboxPython
    built: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        parts = []
        if self.built:
            parts.append(f"built {', '.join(self.built)}")
        if self.reused:
            parts.append(f"reused {', '.join(self.reused)} (inputs unchanged)")
        return f"host artifacts ({'; '.join(parts)}) in {self.seconds:.1f}s, CPython {self.python.version}"


def ensure_host_artifacts(
    nlp_enabled: bool,
    services: Iterable[str] = tuple(ARTIFACTS),
    root: Path = REPO_ROOT,
    build_dir: Path = HOST_BUILD_DIR,
    progress: Callable[[str], None] | None = None,
) -> HostArtifacts:
    """Build (or reuse) the host artifacts of `services` and the sandbox's runtime folder."""
    started = time.monotonic()
    platform = host_platform()
    if build_dir != platform.build_dir:
        platform = replace(platform, build_dir=build_dir)
    python = sandbox_python()
    result = HostArtifacts({}, build_dir / RUNTIME_DIR, python)
    say = progress or (lambda message: None)
    ensure_runtime(result.runtime_dir, root, say)
    for service in services:
        spec = ARTIFACTS[service]
        task_root = build_dir / service
        key = artifact_key(spec, platform, python, nlp_enabled, root)
        result.task_roots[service] = task_root
        if _read_key(task_root) == key:
            result.reused.append(service)
            continue
        say(f"building the {service} artifact for {platform.description}")
        builder.build(
            spec,
            platform=platform,
            root=root,
            installer=CachedInstaller(build_dir / WHEELS_DIR),
            nlp_enabled=nlp_enabled,
        )
        builder.unzip_artifact(platform.zip_path(service), task_root)  # replaces the staging folder build() used
        (task_root / INPUTS_FILE).write_text(key + "\n", encoding="utf-8")
        result.built.append(service)
    result.seconds = time.monotonic() - started
    return result


class CachedInstaller:
    """pip_install, once per (interpreter, requirements): later builds copy (hard-link) the installed tree."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir

    def __call__(
        self, owner: str, requirements: list[str], constraint_text: str, target: Path, platform: Platform
    ) -> None:
        digest = _sha256([sandbox_python().executable, platform.python_version, *requirements, constraint_text])
        cached = self.cache_dir / f"{owner}-{digest[:16]}"
        if not cached.is_dir():
            staging = cached.with_name(cached.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            builder.pip_install(owner, requirements, constraint_text, staging, platform)
            staging.rename(cached)
        shutil.copytree(cached, target, dirs_exist_ok=True, copy_function=_link_or_copy)


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def artifact_key(spec: ArtifactSpec, platform: Platform, python: SandboxPython, nlp_enabled: bool, root: Path) -> str:
    """What the artifact is made of: any change, and it is rebuilt."""
    parts = [
        python.executable,
        platform.python_version,
        platform.dbt_target,
        f"nlp={nlp_enabled}",
        json.dumps(spec.__dict__, sort_keys=True),
        (root / "pyproject.toml").read_text(encoding="utf-8"),
        (root / LOCK_FILE.name).read_text(encoding="utf-8"),
        _tree_digest(Path(builder.__file__).parent),  # the builder itself
    ]
    parts.extend(_tree_digest(root / item) for item in spec.packages)
    return _sha256(parts)


def ensure_runtime(
    runtime_dir: Path = HOST_BUILD_DIR / RUNTIME_DIR,
    root: Path = REPO_ROOT,
    say: Callable[[str], None] = lambda message: None,
) -> Path:
    """The sandbox's runtime folder (Lambda's LAMBDA_RUNTIME_DIR): the runtime interface client, pinned by the lock."""
    platform = host_platform()
    locked = builder.locked_versions((root / LOCK_FILE.name).read_text(encoding="utf-8"), platform.marker_environment())
    requirements = []
    for name in RUNTIME_INTERFACE_CLIENT:
        version = locked.get(name)
        if version is None:
            raise builder.PackagingError(f"sandbox runtime: {name} is not pinned in requirements.lock; run `make lock`")
        requirements.append(f"{name}=={version}")
    key = _sha256([sandbox_python().executable, platform.python_version, *requirements])
    if _read_key(runtime_dir) == key:
        return runtime_dir
    say(f"installing the runtime interface client ({', '.join(requirements)}) for the sandbox")
    shutil.rmtree(runtime_dir, ignore_errors=True)
    runtime_dir.mkdir(parents=True)
    builder.pip_install("runtime", requirements, builder.constraints(locked), runtime_dir, platform)
    (runtime_dir / INPUTS_FILE).write_text(key + "\n", encoding="utf-8")
    return runtime_dir


def _read_key(folder: Path) -> str | None:
    try:
        return (folder / INPUTS_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _tree_digest(path: Path) -> str:
    digest = hashlib.sha256()
    files = [path] if path.is_file() else builder.artifact_files(path)
    for file in files:
        digest.update(file.relative_to(path.parent).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def _sha256(parts: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()
