"""`python -m restaurant_pipeline.artifacts` (`make package`): build the Lambda zips without Docker, and measure them.

For each function: pip installs its own runtime distributions (pinned by requirements.lock) as wheels for the
platform (specs.py: Linux arm64 / CPython 3.12 for AWS, or this machine for the local Lambda sandbox) into
<build dir>/<service>/, leaves out the type information they brought (stub packages, .pyi files), copies the
project packages it runs (the dbt project as dbt_project/), ships the parsed dbt manifest (transformer), checks
that every module-level import reachable from the handler is inside the artifact, zips it reproducibly and reports
the zipped and unzipped sizes against Lambda's limits. A distribution without a matching wheel fails the build
with a message naming it. Host artifacts are cached (host.py): rebuilt only when one of their inputs changes.

    python -m restaurant_pipeline.artifacts                      # the three AWS artifacts (make package)
    python -m restaurant_pipeline.artifacts --service collector  # one
    python -m restaurant_pipeline.artifacts --host               # the three host artifacts (make package-host)
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from restaurant_pipeline.artifacts.interpreters import installed_pythons
from restaurant_pipeline.artifacts.specs import (
    BYTECODE_CACHE,
    DBT_PROJECT,
    EXCLUDED_PARTS,
    EXCLUDED_PATHS,
    LAMBDA,
    LOCAL_ONLY_DISTRIBUTIONS,
    LOCK_FILE,
    RENAMED_IN_ARTIFACT,
    REPO_ROOT,
    STUB_FILE_SUFFIX,
    STUB_PACKAGE_SUFFIX,
    TYPED_CLIENT_PREFIX,
    UNZIPPED_LIMIT,
    ZIP_DIRECT_UPLOAD_LIMIT,
    ArtifactSpec,
    Platform,
)
from services.transformer.spec import ARTIFACT_PROJECT_DIR

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
    bytecode: str = ""  # what compile_bytecode did
    type_information: str = ""  # what strip_type_information left out

    @property
    def fits_direct_upload(self) -> bool:
        return self.zip_bytes <= ZIP_DIRECT_UPLOAD_LIMIT

    def line(self) -> str:
        return (
            f"{self.service:<12} zip {self.zip_bytes / _MB:7.1f} MB (direct-upload limit 50)  "
            f"unzipped {self.unzipped_bytes / _MB:7.1f} MB (limit 250)  {self.files} files"
            + "".join(f"\n{'':<12} {note}" for note in (self.type_information, self.bytecode) if note)
        )


# --- requirements ---------------------------------------------------------------------------------------


def locked_versions(lock_text: str, environment: Mapping[str, str] | None = None) -> dict[str, str]:
    """name -> version from a `uv pip compile --universal` lock file, for the environment the markers are evaluated
    in (a platform's marker_environment(); default: this interpreter). A name may be locked twice under exclusive
    markers (`mmh3==4.1.0 ; python_full_version < '3.13'`): the line whose marker holds there wins."""
    versions: dict[str, str] = {}
    for line in lock_text.splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(?:;\s*(.+))?$", line.strip())
        if not match:
            continue
        marker = match.group(3)
        if marker is None or Marker(marker).evaluate(dict(environment) if environment else None):
            versions[canonicalize_name(match.group(1))] = match.group(2)
    return versions


def project_dependencies(pyproject_text: str) -> dict[str, Requirement]:
    data = tomllib.loads(pyproject_text)
    requirements = [Requirement(item) for item in data["project"]["dependencies"]]
    return {canonicalize_name(req.name): req for req in requirements}


def requirement_set(
    spec: ArtifactSpec, dependencies: dict[str, Requirement], locked: dict[str, str], platform: Platform = LAMBDA
) -> list[str]:
    """The pinned requirement lines of one function, e.g. 'aws-lambda-powertools[parser,tracer]==3.37.0'.

    The host artifact adds the spec's host distributions (what stands in for an AWS service on this machine).
    """
    lines = []
    local_only = {canonicalize_name(n) for n in LOCAL_ONLY_DISTRIBUTIONS}
    host_extras = spec.host_distributions if platform.name == "host" else ()
    for name in (*spec.distributions, *host_extras):
        key = canonicalize_name(name)
        if key in local_only and name not in host_extras:
            raise PackagingError(f"{spec.service}: {name} is local-only and must not ship in a Lambda artifact")
        requirement = dependencies.get(key)
        if requirement is None:
            raise PackagingError(
                f"{spec.service}: {name} is not a runtime dependency in pyproject.toml [project].dependencies; "
                "add it there (then `make lock`) or remove it from restaurant_pipeline/artifacts/specs.py"
            )
        lines.append(pinned(requirement, locked, spec.service))
    return lines


def pinned(requirement: Requirement, locked: dict[str, str], owner: str) -> str:
    version = locked.get(canonicalize_name(requirement.name))
    if version is None:
        raise PackagingError(f"{owner}: {requirement.name} is not pinned in requirements.lock; run `make lock`")
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    return f"{requirement.name}{extras}=={version}"


def constraints(locked: dict[str, str]) -> str:
    """Every locked version as a constraint, so transitive dependencies match what the tests ran."""
    return "".join(f"{name}=={version}\n" for name, version in sorted(locked.items()))


# --- installing -----------------------------------------------------------------------------------------


def pip_command(
    target: Path, requirements_file: Path, constraints_file: Path, platform: Platform = LAMBDA
) -> list[str]:
    """pip installing for `platform`: this interpreter's pip with the platform's wheel tags (AWS), or the pip of
    the interpreter that will run the artifact, which picks its own wheels (host: `platform.python`)."""
    return [
        platform.python or sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",  # .pyc files would double the size; Lambda compiles on import
        "--only-binary=:all:",
        *platform.pip_target_args,
        "--target",
        str(target),
        "--requirement",
        str(requirements_file),
        "--constraint",
        str(constraints_file),
    ]


def explain_pip_failure(service: str, stderr: str, platform: Platform = LAMBDA) -> str:
    missing = re.findall(r"No matching distribution found for ([^\s]+)", stderr)
    if missing:
        names = ", ".join(sorted(set(missing)))
        return (
            f"{service}: no wheel of {names} for {platform.description} on the package registry. Pin a version "
            "that publishes one, drop the dependency from this function (restaurant_pipeline/artifacts/specs.py), "
            "or build the function as a container image."
        )
    if re.search(r"(Connection|NewConnectionError|Temporary failure|Max retries|timed out)", stderr):
        return f"{service}: the package registry is unreachable; building artifacts needs it (pip download)."
    tail = "\n".join(line for line in stderr.splitlines() if "is ignored" not in line)[-2000:]
    return f"{service}: pip failed:\n{tail}"


Installer = Callable[[str, list[str], str, Path, Platform], None]


def pip_install(owner: str, requirements: list[str], constraint_text: str, target: Path, platform: Platform) -> None:
    """Install pinned `requirements` into `target` for `platform` (the host's pip is its interpreter's)."""
    work = target.parent / f".{owner}-pip"
    work.mkdir(parents=True, exist_ok=True)
    requirements_file = work / "requirements.txt"
    constraints_file = work / "constraints.txt"
    requirements_file.write_text("\n".join(requirements) + "\n", encoding="utf-8")
    constraints_file.write_text(constraint_text, encoding="utf-8")
    result = subprocess.run(
        pip_command(target, requirements_file, constraints_file, platform),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise PackagingError(explain_pip_failure(owner, result.stderr, platform))


# --- project code and the import check --------------------------------------------------------------------


def _excluded(relative: Path) -> bool:
    """`relative` is a path from the artifact's root (the same from the repository root for project code)."""
    if any(part in EXCLUDED_PARTS for part in relative.parts):
        return True
    posix = relative.as_posix()
    return any(posix == excluded or posix.startswith(f"{excluded}/") for excluded in EXCLUDED_PATHS)


def _stale_bytecode(relative: Path) -> bool:
    """A bytecode cache in the repository: compiled by whatever Python ran the tests, never shipped."""
    return BYTECODE_CACHE in relative.parts or relative.suffix in (".pyc", ".pyo")


def copy_project_code(spec: ArtifactSpec, target: Path, root: Path = REPO_ROOT) -> None:
    """Copy the spec's project folders and files into the artifact, each under its own path, except the dbt project:
    dbt/ goes to dbt_project/ (specs.RENAMED_IN_ARTIFACT), never into dbt-core's `dbt/` package folder."""
    dbt = root / DBT_PROJECT
    if DBT_PROJECT in spec.packages and (dbt / "packages.yml").is_file() and not (dbt / "dbt_packages").is_dir():
        raise PackagingError(
            f"{spec.service}: dbt/packages.yml lists dbt packages but dbt/dbt_packages/ is missing: "
            "run `dbt deps --project-dir dbt` first (Lambda cannot download them)"
        )
    for item in spec.packages:
        source = root / item
        if not source.exists():
            raise PackagingError(f"{spec.service}: {item} is missing from the repository")
        shipped_as = target / RENAMED_IN_ARTIFACT.get(item, item)
        if source.is_file():
            shipped_as.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, shipped_as)
            continue
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(root)
            if _excluded(relative) or _stale_bytecode(relative) or not path.is_file():
                continue
            destination = shipped_as / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)


# --- type information -------------------------------------------------------------------------------------


def strip_type_information(target: Path) -> str:
    """Remove what only type checkers read from an installed artifact (specs.py says what and why): stub-only packages
    (`<package>-stubs/`), every `.pyi` file, the `mypy_boto3_<service>` packages no shipped module imports, and the
    .dist-info of each distribution left without any of its files. Returns what was left out, for the build report.
    """
    removed_bytes = 0
    removed_packages: list[str] = []

    def remove_tree(folder: Path) -> None:
        nonlocal removed_bytes
        removed_bytes += sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
        shutil.rmtree(folder)

    folders = [path for path in target.iterdir() if path.is_dir()]
    typed_clients = {
        folder.name for folder in folders if folder.name.startswith(TYPED_CLIENT_PREFIX) and folder.name.isidentifier()
    }
    needed = _imported_typed_clients(target, typed_clients)
    for folder in sorted(folders):
        if folder.name.endswith(STUB_PACKAGE_SUFFIX) or (folder.name in typed_clients and folder.name not in needed):
            remove_tree(folder)
            removed_packages.append(folder.name)
    stub_files = sorted(target.rglob(f"*{STUB_FILE_SUFFIX}"))
    for path in stub_files:
        removed_bytes += path.stat().st_size
        path.unlink()
    for record in sorted(target.glob("*.dist-info/RECORD")):
        if _distribution_gone(target, record):
            remove_tree(record.parent)
    if not removed_packages and not stub_files:
        return ""
    packages = f" ({', '.join(removed_packages)})" if removed_packages else ""
    return (
        f"type information left out: {len(removed_packages)} stub package(s){packages} and {len(stub_files)} "
        f".pyi file(s), {removed_bytes / _MB:.1f} MB"
    )


_TYPED_CLIENT_IMPORT = re.compile(rb"\b(" + re.escape(TYPED_CLIENT_PREFIX.encode()) + rb"\w+)")


def _imported_typed_clients(target: Path, typed_clients: set[str]) -> set[str]:
    """The mypy_boto3 packages a module outside them names (dbt-athena imports some at load time), and those these
    name in turn. A name in a comment or under TYPE_CHECKING counts too: keeping a package is the safe mistake."""

    def named_in(folder: Path, skip: set[str]) -> set[str]:
        found: set[str] = set()
        for path in folder.rglob("*.py"):
            top = path.relative_to(target).parts[0]
            if top in skip or top.endswith(STUB_PACKAGE_SUFFIX):
                continue
            found.update(match.decode() for match in _TYPED_CLIENT_IMPORT.findall(path.read_bytes()))
        return found & typed_clients

    needed = named_in(target, typed_clients)
    pending = set(needed)
    while pending:
        client = pending.pop()
        for other in named_in(target / client, set()) - needed:
            needed.add(other)
            pending.add(other)
    return needed


def _distribution_gone(target: Path, record: Path) -> bool:
    """True when none of the files a distribution's RECORD lists (outside its .dist-info and the scripts pip wrote
    elsewhere) is left in the artifact: nothing of it ships, so its metadata does not either."""
    dist_info = record.parent.name
    files = [
        row.split(",", 1)[0]
        for row in record.read_text(encoding="utf-8").splitlines()
        if row and not row.startswith((f"{dist_info}/", "../")) and BYTECODE_CACHE not in row
    ]
    return bool(files) and not any((target / name).exists() for name in files)


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
                    "distribution to this function in restaurant_pipeline/artifacts/specs.py"
                )
    return problems


# --- the dbt manifest ---------------------------------------------------------------------------------------


def ship_dbt_manifest(project_dir: Path, platform: Platform = LAMBDA, nlp_enabled: bool | None = None) -> Path:
    """Parse the artifact's copy of the dbt project (dbt_project/) for the platform's target and ship the manifest in
    it (the cold start).

    The parse runs with this machine's dbt, the version requirements.lock pins for the artifact too; the function
    checks the dbt versions, the project's files and the target before using it, and parses otherwise
    (services/transformer/adapters/shipped_manifest.py). The bucket and the region are not known yet: they do not
    reach the manifest. NLP_ENABLED does (the review models), so it comes from pipeline.toml, as in the stack.
    On the host the target is `local` (DuckDB): the manifest records the warehouse file's stem, the local stack's.
    """
    import tempfile

    from restaurant_pipeline.local.stack import WAREHOUSE_FILE
    from restaurant_pipeline.model.config import ConfigError, load_config
    from services.common.names import ATHENA_WORKGROUP, GLUE_DATABASE
    from services.transformer.spec import DbtBuilder, dbt_environment

    if nlp_enabled is None:
        try:
            nlp_enabled = load_config().nlp.enabled
        except ConfigError as exc:
            raise PackagingError(f"transformer: pipeline.toml decides the NLP models dbt parses: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="dbt-package-") as state:
        environment = dbt_environment(
            target=platform.dbt_target,
            bucket="known-when-deployed",
            athena_workgroup=ATHENA_WORKGROUP,
            glue_database=GLUE_DATABASE,
            warehouse_path=str(Path(state) / WAREHOUSE_FILE) if platform.dbt_target == "local" else None,
            nlp_enabled=nlp_enabled,
        )
        builder = DbtBuilder(project_dir, platform.dbt_target, environment, state_dir=Path(state))
        try:
            return builder.ship_manifest()
        except Exception as exc:
            raise PackagingError(f"transformer: dbt could not parse the project to ship its manifest: {exc}") from exc


# --- bytecode ---------------------------------------------------------------------------------------------


def compile_bytecode(target: Path, python: str | None) -> str:
    """Compile every module of the artifact with the platform's Python, so a cold start does not.

    Lambda's code folder is read-only: a module shipped without bytecode is compiled again by every cold start and
    the result thrown away (measured in the Lambda sandbox: the transformer's INIT 17 s without, 7.7 s with).
    `unchecked-hash` (PEP 552): the bytecode is used without comparing the source's timestamp, which the zip fixes
    at 1980 (reproducible zips). Bytecode depends on the Python version only, not on the architecture.
    Returns what was done, for the build's report.
    """
    if python is None:
        return "no bytecode: no CPython of the platform's version on this machine (cold starts compile)"
    result = subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    # A module that does not compile for this Python (a vendored Python 2 file, a template) is left as source:
    # importing it would fail on Lambda too.
    failed = len(re.findall(r"^\*\*\* Error compiling", result.stdout, re.MULTILINE))
    return f"bytecode compiled by {python}" + (f" ({failed} file(s) left as source)" if failed else "")


# --- zip and measure --------------------------------------------------------------------------------------


def artifact_files(source: Path) -> list[Path]:
    """The files an artifact holds, in zip order: what the zip and the host's unzipped copy both contain."""
    return [path for path in sorted(source.rglob("*")) if path.is_file() and not _excluded(path.relative_to(source))]


def zip_directory(source: Path, destination: Path, compresslevel: int = 9) -> ArtifactSize:
    """Reproducible zip (sorted entries, fixed timestamps) so unchanged code keeps its CDK asset hash."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    unzipped = 0
    files = 0
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as archive:
        for path in artifact_files(source):
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=_ZIP_EPOCH)
            executable = os.access(path, os.X_OK)
            info.external_attr = ((0o755 if executable else 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            archive.writestr(info, data, compresslevel=compresslevel)
            unzipped += len(data)
            files += 1
    return ArtifactSize(destination.stem, destination.stat().st_size, unzipped, files)


def unzip_artifact(archive_path: Path, destination: Path) -> None:
    """Unzip an artifact as Lambda does into its task root: the files and their modes, nothing else."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    with zipfile.ZipFile(archive_path) as archive:
        for info in archive.infolist():
            path = Path(archive.extract(info, destination))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)


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
    platform: Platform = LAMBDA,
    root: Path = REPO_ROOT,
    installer: Installer = pip_install,
    nlp_enabled: bool | None = None,
) -> ArtifactSize:
    """Build one function's artifact for `platform` into <build dir>/<service>/ and <build dir>/<service>.zip."""
    dependencies = project_dependencies((root / "pyproject.toml").read_text(encoding="utf-8"))
    locked = locked_versions((root / LOCK_FILE.name).read_text(encoding="utf-8"), platform.marker_environment())
    requirements = requirement_set(spec, dependencies, locked, platform)
    target = platform.build_dir / spec.service
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    installer(spec.service, requirements, constraints(locked), target, platform)
    type_information = strip_type_information(target)
    copy_project_code(spec, target, root)
    if DBT_PROJECT in spec.packages:
        ship_dbt_manifest(target / ARTIFACT_PROJECT_DIR, platform, nlp_enabled)
    bytecode = compile_bytecode(target, platform_python(platform))
    problems = check_imports(handler_module(spec.service), target)
    if problems:
        raise PackagingError(f"{spec.service}: the artifact would fail at import:\n  - " + "\n  - ".join(problems))
    size = zip_directory(target, platform.zip_path(spec.service), platform.zip_level)
    size = replace(size, bytecode=bytecode, type_information=type_information)
    problems = check_limits(size)
    if problems:
        raise PackagingError("\n".join(problems))
    return size


def platform_python(platform: Platform) -> str | None:
    """An interpreter of the platform's Python version: the sandbox's on the host; for Lambda, one found here."""
    return platform.python or next(iter(installed_pythons(platform.python_version)), None)


def handler_module(service: str) -> str:
    """The handler ('module:function') of a service, from the topology: the artifact must hold its module."""
    from restaurant_pipeline.model.config import parse_config
    from restaurant_pipeline.model.topology import build_topology

    return build_topology(parse_config({}), "bucket").route(service).handler
