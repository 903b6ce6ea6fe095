"""`python -m cdk.package` (`make package`): build the Lambda zips without Docker, and measure them.

For each function: pip installs its own runtime distributions (pinned by requirements.lock) as Linux arm64
wheels for CPython 3.12 into build/lambda/<service>/, copies the project packages it runs, checks that every
module-level import reachable from the handler is inside the artifact, zips it reproducibly and reports the
zipped and unzipped sizes against Lambda's limits. A distribution without a matching wheel fails the build
with a message naming it.

    python -m cdk.package                      # all three
    python -m cdk.package --service collector  # one
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from cdk.artifacts import (
    ARTIFACTS,
    BUILD_DIR,
    EXCLUDED_PARTS,
    EXCLUDED_PATHS,
    LAMBDA_PLATFORM,
    LAMBDA_PYTHON_VERSION,
    LOCAL_ONLY_DISTRIBUTIONS,
    LOCK_FILE,
    REPO_ROOT,
    UNZIPPED_LIMIT,
    ZIP_DIRECT_UPLOAD_LIMIT,
    ArtifactSpec,
)

PROJECT_PACKAGES = ("contracts", "services", "restaurant_pipeline")
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_MB = 1024 * 1024


class PackagingError(RuntimeError):
    """The artifact cannot be built; the message names the cause and the fix."""


@dataclass(frozen=True)
class ArtifactSize:
    service: str
    zip_bytes: int
    unzipped_bytes: int
    files: int

    @property
    def fits_direct_upload(self) -> bool:
        return self.zip_bytes <= ZIP_DIRECT_UPLOAD_LIMIT

    @property
    def fits_unzipped(self) -> bool:
        return self.unzipped_bytes <= UNZIPPED_LIMIT

    def line(self) -> str:
        return (
            f"{self.service:<12} zip {self.zip_bytes / _MB:7.1f} MB (direct-upload limit 50)  "
            f"unzipped {self.unzipped_bytes / _MB:7.1f} MB (limit 250)  {self.files} files"
        )


# --- requirements ---------------------------------------------------------------------------------------


def locked_versions(lock_text: str) -> dict[str, str]:
    """name -> version from a `uv pip compile` lock file."""
    versions: dict[str, str] = {}
    for line in lock_text.splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line)
        if match:
            versions[canonicalize_name(match.group(1))] = match.group(2)
    return versions


def project_dependencies(pyproject_text: str) -> dict[str, Requirement]:
    data = tomllib.loads(pyproject_text)
    requirements = [Requirement(item) for item in data["project"]["dependencies"]]
    return {canonicalize_name(req.name): req for req in requirements}


def requirement_set(spec: ArtifactSpec, dependencies: dict[str, Requirement], locked: dict[str, str]) -> list[str]:
    """The pinned requirement lines of one function, e.g. 'aws-lambda-powertools[parser,tracer]==3.37.0'."""
    lines = []
    for name in spec.distributions:
        key = canonicalize_name(name)
        if key in {canonicalize_name(n) for n in LOCAL_ONLY_DISTRIBUTIONS}:
            raise PackagingError(f"{spec.service}: {name} is local-only and must not ship in a Lambda artifact")
        requirement = dependencies.get(key)
        if requirement is None:
            raise PackagingError(
                f"{spec.service}: {name} is not a runtime dependency in pyproject.toml [project].dependencies; "
                "add it there (then `make lock`) or remove it from cdk/artifacts.py"
            )
        version = locked.get(key)
        if version is None:
            raise PackagingError(f"{spec.service}: {name} is not pinned in requirements.lock; run `make lock`")
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        lines.append(f"{requirement.name}{extras}=={version}")
    return lines


def constraints(locked: dict[str, str]) -> str:
    """Every locked version as a constraint, so transitive dependencies match what the tests ran."""
    return "".join(f"{name}=={version}\n" for name, version in sorted(locked.items()))


# --- installing -----------------------------------------------------------------------------------------


def pip_command(target: Path, requirements_file: Path, constraints_file: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",  # .pyc files would double the size; Lambda compiles on import
        "--only-binary=:all:",
        "--platform",
        LAMBDA_PLATFORM,
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--implementation",
        "cp",
        "--target",
        str(target),
        "--requirement",
        str(requirements_file),
        "--constraint",
        str(constraints_file),
    ]


def explain_pip_failure(service: str, stderr: str) -> str:
    missing = re.findall(r"No matching distribution found for ([^\s]+)", stderr)
    if missing:
        names = ", ".join(sorted(set(missing)))
        return (
            f"{service}: no wheel of {names} for Linux arm64 (manylinux2014_aarch64) / CPython "
            f"{LAMBDA_PYTHON_VERSION} on the package registry. Pin a version that publishes one, drop the "
            "dependency from this function (cdk/artifacts.py), or build the function as a container image."
        )
    if re.search(r"(Connection|NewConnectionError|Temporary failure|Max retries|timed out)", stderr):
        return f"{service}: the package registry is unreachable; `make package` needs it (pip download)."
    tail = "\n".join(line for line in stderr.splitlines() if "is ignored" not in line)[-2000:]
    return f"{service}: pip failed:\n{tail}"


Installer = Callable[[ArtifactSpec, list[str], str, Path], None]


def pip_install(spec: ArtifactSpec, requirements: list[str], constraint_text: str, target: Path) -> None:
    work = target.parent / f".{spec.service}-pip"
    work.mkdir(parents=True, exist_ok=True)
    requirements_file = work / "requirements.txt"
    constraints_file = work / "constraints.txt"
    requirements_file.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    constraints_file.write_text(constraint_text, encoding="utf-8")
    result = subprocess.run(
        pip_command(target, requirements_file, constraints_file), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise PackagingError(explain_pip_failure(spec.service, result.stderr))


# --- project code and the import check --------------------------------------------------------------------


def _excluded(relative: Path) -> bool:
    """`relative` is a path from the artifact's root (the same from the repository root for project code)."""
    if any(part in EXCLUDED_PARTS for part in relative.parts) or relative.suffix in (".pyc", ".pyo"):
        return True
    posix = relative.as_posix()
    return any(posix == excluded or posix.startswith(f"{excluded}/") for excluded in EXCLUDED_PATHS)


def copy_project_code(spec: ArtifactSpec, target: Path, root: Path = REPO_ROOT) -> None:
    dbt = root / "dbt"
    if "dbt" in spec.packages and (dbt / "packages.yml").is_file() and not (dbt / "dbt_packages").is_dir():
        raise PackagingError(
            f"{spec.service}: dbt/packages.yml lists dbt packages but dbt/dbt_packages/ is missing: "
            "run `dbt deps --project-dir dbt` first (Lambda cannot download them)"
        )
    for item in spec.packages:
        source = root / item
        if not source.exists():
            raise PackagingError(f"{spec.service}: {item} is missing from the repository")
        if source.is_file():
            (target / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / item)
            continue
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(root)
            if _excluded(relative) or not path.is_file():
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


def module_level_imports(source: str) -> list[tuple[str, int, bool]]:
    """(module, line, maybe) of every import executed when the module loads (not those inside functions).

    `from package import name` also yields ("package.name", line, True): name may be a submodule.
    """
    found: list[tuple[str, int, bool]] = []

    def visit(nodes: Iterable[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.extend((alias.name, node.lineno, False) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.level > 0 or node.module):
                module = "." * node.level + (node.module or "")
                found.append((module, node.lineno, False))
                separator = "" if module.endswith(".") else "."
                found.extend((f"{module}{separator}{alias.name}", node.lineno, True) for alias in node.names)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if isinstance(node, ast.ClassDef):
                    visit(node.body)
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                continue
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                for field in ("body", "orelse", "finalbody"):
                    visit(getattr(node, field, []) or [])
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(ast.parse(source).body)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _resolve_relative(module: str, current: str, is_package: bool) -> str:
    level = len(module) - len(module.lstrip("."))
    package_parts = current.split(".") if is_package else current.split(".")[:-1]
    base = package_parts[: len(package_parts) - (level - 1)] if level > 1 else package_parts
    rest = module.lstrip(".")
    return ".".join([*base, rest] if rest else base)


def _top_level_available(target: Path, name: str) -> bool:
    if name in sys.stdlib_module_names or name == "__future__":
        return True
    if (target / name).is_dir() or (target / f"{name}.py").is_file():
        return True
    return any(target.glob(f"{name}.*.so")) or any(target.glob(f"{name}.abi3.so"))


def check_imports(handler: str, target: Path) -> list[str]:
    """Problems: module-level imports reachable from the handler that the artifact cannot satisfy."""
    module = handler.partition(":")[0]
    problems: list[str] = []
    seen: set[str] = set()
    pending = [module]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        path = _module_file(target, current)
        if path is None:
            if current == module:
                problems.append(f"handler module {current} is not in the artifact (is it written yet?)")
            continue
        is_package = path.name == "__init__.py"
        for imported, line, maybe in module_level_imports(path.read_text(encoding="utf-8")):
            name = _resolve_relative(imported, current, is_package) if imported.startswith(".") else imported
            top = name.split(".")[0]
            if top in PROJECT_PACKAGES:
                if _module_file(target, name) is None:
                    if not maybe:
                        problems.append(
                            f"{path.relative_to(target)}:{line} imports {name}, which is not in the artifact"
                        )
                    continue
                # the module and every parent package's __init__ run on import
                parts = name.split(".")
                pending.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))
            elif maybe:
                continue
            elif not _top_level_available(target, top):
                problems.append(
                    f"{path.relative_to(target)}:{line} imports {top} at module level, but {top} is not in the "
                    "artifact: import it inside the function that needs it (local-only code), or add its "
                    "distribution to this function in cdk/artifacts.py"
                )
    return problems


# --- the dbt manifest ---------------------------------------------------------------------------------------


def ship_dbt_manifest(project_dir: Path) -> Path:
    """Parse the artifact's copy of dbt/ for the deployed target and ship the manifest in it (the cold start).

    The parse runs with this machine's dbt, the version requirements.lock pins for the artifact too; the function
    checks the dbt versions, the project's files and the target before using it, and parses otherwise
    (services/transformer/adapters/shipped_manifest.py). The bucket and the region are not known yet: they do not
    reach the manifest. NLP_ENABLED does (the review models), so it comes from pipeline.toml, as in the stack.
    """
    import tempfile

    from cdk.constructs.shared import ATHENA_WORKGROUP, DBT_TARGET, GLUE_DATABASE
    from restaurant_pipeline.config import ConfigError, load_config
    from services.transformer.adapters.dbt_build import DbtBuilder, dbt_environment

    try:
        nlp_enabled = load_config().nlp.enabled
    except ConfigError as exc:
        raise PackagingError(f"transformer: pipeline.toml decides the NLP models dbt parses: {exc}") from exc
    environment = dbt_environment(
        target=DBT_TARGET,
        bucket="known-when-deployed",
        athena_workgroup=ATHENA_WORKGROUP,
        glue_database=GLUE_DATABASE,
        nlp_enabled=nlp_enabled,
    )
    with tempfile.TemporaryDirectory(prefix="dbt-package-") as state:
        builder = DbtBuilder(project_dir, DBT_TARGET, environment, state_dir=Path(state))
        try:
            return builder.ship_manifest()
        except Exception as exc:
            raise PackagingError(f"transformer: dbt could not parse the project to ship its manifest: {exc}") from exc


# --- zip and measure --------------------------------------------------------------------------------------


def zip_directory(source: Path, destination: Path) -> ArtifactSize:
    """Reproducible zip (sorted entries, fixed timestamps) so unchanged code keeps its CDK asset hash."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    unzipped = 0
    files = 0
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(source.rglob("*")):
            if not path.is_file() or _excluded(path.relative_to(source)):
                continue
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=_ZIP_EPOCH)
            executable = os.access(path, os.X_OK)
            info.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            archive.writestr(info, data, compresslevel=9)
            unzipped += len(data)
            files += 1
    return ArtifactSize(destination.stem, destination.stat().st_size, unzipped, files)


def check_limits(size: ArtifactSize, unzipped_limit: int = UNZIPPED_LIMIT) -> list[str]:
    problems = []
    if size.unzipped_bytes > unzipped_limit:
        problems.append(
            f"{size.service}: {size.unzipped_bytes / _MB:.1f} MB unzipped exceeds Lambda's "
            f"{unzipped_limit / _MB:.0f} MB: it needs a container image (DockerImageFunction)"
        )
    return problems


# --- the build --------------------------------------------------------------------------------------------


def build(
    spec: ArtifactSpec,
    *,
    build_dir: Path = BUILD_DIR,
    root: Path = REPO_ROOT,
    installer: Installer = pip_install,
) -> ArtifactSize:
    dependencies = project_dependencies((root / "pyproject.toml").read_text(encoding="utf-8"))
    locked = locked_versions((root / LOCK_FILE.name).read_text(encoding="utf-8"))
    requirements = requirement_set(spec, dependencies, locked)
    target = build_dir / spec.service
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    installer(spec, requirements, constraints(locked), target)
    copy_project_code(spec, target, root)
    if "dbt" in spec.packages:
        ship_dbt_manifest(target / "dbt")
    from restaurant_pipeline.config import parse_config
    from restaurant_pipeline.topology import build_topology  # the handler path comes from the topology

    handler = build_topology(parse_config({}), "bucket").route(spec.service).handler
    problems = check_imports(handler, target)
    if problems:
        raise PackagingError(f"{spec.service}: the artifact would fail at import:\n  - " + "\n  - ".join(problems))
    size = zip_directory(target, build_dir / f"{spec.service}.zip")
    problems = check_limits(size)
    if problems:
        raise PackagingError("\n".join(problems))
    return size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cdk.package", description=__doc__.splitlines()[0])
    parser.add_argument("--service", action="append", choices=sorted(ARTIFACTS), help="build only this function")
    args = parser.parse_args(argv)
    services = args.service or list(ARTIFACTS)
    sizes: list[ArtifactSize] = []
    for service in services:
        print(f"building {service} (pip, {LAMBDA_PLATFORM}, CPython {LAMBDA_PYTHON_VERSION}) ...", flush=True)
        try:
            sizes.append(build(ARTIFACTS[service]))
        except PackagingError as exc:
            print(f"make package: {exc}", file=sys.stderr)
            return 1
    for size in sizes:
        print(size.line())
        if not size.fits_direct_upload:
            print(f"  {size.service}: over 50 MB zipped: fine through S3 (CDK uploads assets there), not directly.")
    report = BUILD_DIR / "sizes.json"
    report.write_text(json.dumps([asdict(size) for size in sizes], indent=2) + "\n", encoding="utf-8")
    print(f"artifacts in {BUILD_DIR}; sizes in {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
