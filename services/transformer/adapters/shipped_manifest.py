"""The dbt manifest parsed when the Lambda artifact is built, loaded at init instead of parsing (the cold start).

Parsing the project costs seconds; loading the parsed manifest a fraction of one (`make bench`, a new process on
the Athena target: 2.6 s against 0.6 s, the adapter's import included in both). dbt's own partial parsing cannot
reuse a manifest built elsewhere: it hashes every connection value of the profile (the bucket in s3_data_dir, the
region), which differ between the machine that builds the artifact and the deployed function. Those values are
read only when SQL runs, never while parsing, so they are left out, and what does reach the manifest is
fingerprinted instead:

- the project's files (a digest of the project folder), dbt's version and the adapter's;
- the profile variables that choose the target and name its relations (DBT_TARGET, `MANIFEST_INPUTS`);
- every environment variable the project's files read while parsing (dbt records them in the manifest).

Any difference and the shipped manifest is not used: the project is parsed as before, and the reason is returned
for the init log. tests/integration/transformer/test_shipped_manifest.py parses twice with different values of
every other variable dbt reads and checks that the manifests are the same, so a change that breaks the premise
fails CI.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The dbt project's folder at the root of the transformer's artifact (the repository's dbt/, renamed): apart from
# dbt-core's own `dbt/` package, which pip installs at the artifact's root too. `make package` puts it there
# (restaurant_pipeline/artifacts/specs.py), the function looks for it (dbt_build.default_project_dir).
ARTIFACT_PROJECT_DIR = "dbt_project"
# Inside the project folder of the artifact: `make package` writes it, the function only reads it.
SHIPPED_DIR = "shipped-manifest"
MANIFEST_FILE = "manifest.msgpack"
FINGERPRINT_FILE = "fingerprint.json"

# The profile variables whose values reach the parsed manifest (dbt/profiles.yml): DBT_TARGET (the output, its type
# and every `target.*` read while parsing), and per output what names its relations: the Glue database; DuckDB names
# its catalog after the file's stem. The other variables are read only when SQL runs.
MANIFEST_INPUTS = {"athena": ("GLUE_DATABASE",), "local": ("WAREHOUSE_PATH",)}

# Never part of the project's digest: dbt's output, logs, and the shipped manifest itself.
_NOT_PROJECT = {"target", "logs", ".user.yml", SHIPPED_DIR, "__pycache__"}


@dataclass(frozen=True)
class LoadedManifest:
    manifest: Any  # dbt.contracts.graph.manifest.Manifest, or None when the project must be parsed
    reason: str  # why it was used or not, for the init log


def project_digest(project_dir: Path) -> str:
    """sha256 over the project's files (paths and bytes), in a stable order."""
    digest = hashlib.sha256()
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if not path.is_file() or _NOT_PROJECT.intersection(relative.parts):
            continue
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def manifest_inputs(environment: Mapping[str, str]) -> dict[str, str]:
    """DBT_TARGET and its `MANIFEST_INPUTS`; of WAREHOUSE_PATH only the file stem names anything."""
    target = environment.get("DBT_TARGET") or "local"  # the profile's default output
    values = {"DBT_TARGET": target}
    for name in MANIFEST_INPUTS.get(target, ()):
        value = environment.get(name, "")
        values[name] = Path(value).stem if name == "WAREHOUSE_PATH" and value else value
    return values


def dbt_versions(adapter_type: str) -> dict[str, str]:
    from dbt.version import __version__ as core

    adapter = importlib.import_module(f"dbt.adapters.{adapter_type}.__version__")
    return {"dbt-core": str(core), f"dbt-{adapter_type}": str(adapter.version)}


def fingerprint(project_dir: Path, environment: Mapping[str, str], adapter_type: str) -> dict[str, Any]:
    """What the manifest was parsed from. (The adapter follows DBT_TARGET; it says which version to compare.)"""
    return {
        "adapter": adapter_type,
        "project": project_digest(project_dir),
        "versions": dbt_versions(adapter_type),
        "inputs": manifest_inputs(environment),
    }


def ship(manifest: Any, project_dir: Path, environment: Mapping[str, str]) -> Path:
    """Write a parsed manifest and its fingerprint into `project_dir`/shipped-manifest/ (the artifact's copy)."""
    from dbt.parser.manifest import extended_mashumaro_encoder

    folder = project_dir / SHIPPED_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST_FILE).write_bytes(manifest.to_msgpack(extended_mashumaro_encoder))
    recorded = fingerprint(project_dir, environment, manifest.metadata.adapter_type)
    (folder / FINGERPRINT_FILE).write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return folder


def load(project_dir: Path, environment: Mapping[str, str]) -> LoadedManifest:
    """The shipped manifest when it was parsed from these files, by this dbt, for this target; else None and why.

    `environment` is what dbt will see (os.environ overlaid with the builder's variables).
    """
    folder = project_dir / SHIPPED_DIR
    if not (folder / MANIFEST_FILE).is_file() or not (folder / FINGERPRINT_FILE).is_file():
        return LoadedManifest(None, f"no shipped manifest in {folder}")
    try:
        recorded = json.loads((folder / FINGERPRINT_FILE).read_text(encoding="utf-8"))
        current = fingerprint(project_dir, environment, str(recorded["adapter"]))
    except (ValueError, KeyError, ImportError) as exc:
        return LoadedManifest(None, f"shipped fingerprint unreadable or adapter missing ({exc})")
    difference = _first_difference(recorded, current)
    if difference:
        return LoadedManifest(None, f"shipped manifest parsed with a different {difference}")
    from dbt.constants import DEFAULT_ENV_PLACEHOLDER
    from dbt.contracts.graph.manifest import Manifest
    from dbt.parser.manifest import extended_mashumuro_decoder

    try:
        manifest = Manifest.from_msgpack((folder / MANIFEST_FILE).read_bytes(), decoder=extended_mashumuro_decoder)
    except Exception as exc:  # a corrupt file must cost a parse, never the function
        return LoadedManifest(None, f"shipped manifest unreadable ({type(exc).__name__}: {str(exc)[:200]})")
    for name, value in sorted(manifest.env_vars.items()):
        # dbt records a variable that was unset (its default used) as a placeholder: it must still be unset
        if environment.get(name, DEFAULT_ENV_PLACEHOLDER) != value:
            return LoadedManifest(None, f"shipped manifest parsed with another value of {name}")
    manifest.build_flat_graph()
    return LoadedManifest(manifest, "shipped manifest loaded")


def _first_difference(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    if recorded.get("project") != current["project"]:
        return "dbt project (its files changed after the artifact was built)"
    for section in ("versions", "inputs"):
        for name, value in current[section].items():
            if recorded.get(section, {}).get(name) != value:
                return f"{name} ({recorded.get(section, {}).get(name)!r}, now {value!r})"
    return None
