"""The dbt manifest shipped in the transformer's artifact (`make package`): loaded instead of parsing only when it was
parsed for what runs, and it builds the same marts as a parse (moto + DuckDB, real dbt)."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import pytest

from services.transformer.adapters import shipped_manifest
from services.transformer.adapters.dbt_build import DbtBuilder, dbt_environment, default_project_dir
from services.transformer.adapters.shipped_manifest import MANIFEST_INPUTS, SHIPPED_DIR
from tests.support.transformer_stack import BUCKET, DAY, Stack

pytestmark = pytest.mark.integration

LOADED = "shipped manifest loaded"


def _copy_project(destination: Path, source: Path | None = None) -> Path:
    ignored = ("target", "logs") if source else ("target", "logs", SHIPPED_DIR)
    shutil.copytree(source or default_project_dir(), destination, ignore=shutil.ignore_patterns(*ignored))
    return destination


def _local_environment(warehouse: Path, **changes: str) -> dict[str, str]:
    return {
        **dbt_environment(target="local", bucket=BUCKET, warehouse_path=str(warehouse), nlp_enabled=False),
        **changes,
    }


@pytest.fixture(scope="module")
def artifact_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of dbt/ in another folder with its shipped manifest, as `make package` leaves it in the artifact:
    parsed with another bucket and another warehouse folder than the function will use."""
    root = tmp_path_factory.mktemp("artifact")
    project = _copy_project(root / "dbt")
    environment = _local_environment(root / "package" / "warehouse.duckdb", BUCKET_NAME="bucket-at-package-time")
    DbtBuilder(project, "local", environment, state_dir=root / "state").ship_manifest()
    return project


def test_the_shipped_manifest_replaces_the_parse_and_builds_the_same_marts(
    stack: Stack, artifact_project: Path, parsed_builder: DbtBuilder, tmp_path: Path
):
    environment = _local_environment(Path(stack.warehouse_path), AWS_ENDPOINT_URL=stack.endpoint)
    builder = DbtBuilder(artifact_project, "local", environment, state_dir=tmp_path / "state")

    builder.prepare()

    assert (builder.parses, builder.manifest_origin) == (0, LOADED)
    assert set(builder._manifest.nodes) == set(parsed_builder._manifest.nodes)
    shipped = dataclasses.replace(stack, builder=builder, deps=dataclasses.replace(stack.deps, builder=builder))
    shipped.drop_fixture("clean_paris.jsonl", key=f"raw/places/dt={DAY}/run-2026-01-01-a__paris.jsonl.gz", gz=True)
    shipped.run(shipped.s3_messages(1))
    [event] = shipped.published(1)
    assert event.outcome == "passed", event.error
    assert event.row_counts == {
        "restaurants": 4,
        "restaurant_daily_snapshots": 4,
        "city_daily_summary": 1,
        "city_cuisine_daily_summary": 3,  # French, Cafe, Unspecified (primary type "restaurant")
    }
    assert event.tests.failed == 0 and event.tests.passed == event.tests.total > 10
    assert builder.parses == 0


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"WAREHOUSE_PATH": "/elsewhere/other.duckdb"}, "a different WAREHOUSE_PATH ('warehouse', now 'other')"),
        ({"DBT_TARGET": "athena"}, "a different DBT_TARGET ('local', now 'athena')"),
        ({"NLP_ENABLED": "true"}, "another value of NLP_ENABLED"),
    ],
)
def test_a_manifest_parsed_for_another_target_or_graph_is_not_used(artifact_project: Path, change, reason):
    loaded = shipped_manifest.load(artifact_project, _local_environment(Path("/run/warehouse.duckdb"), **change))

    assert loaded.manifest is None
    assert reason in loaded.reason


def test_values_read_only_when_sql_runs_do_not_stop_the_shipped_manifest(artifact_project: Path):
    environment = _local_environment(
        Path("/another/folder/warehouse.duckdb"),
        BUCKET_NAME="the-deployed-bucket",
        AWS_ENDPOINT_URL="http://127.0.0.1:1",
        AWS_REGION="us-east-1",
        GLUE_DATABASE="names_nothing_on_duckdb",
    )

    assert shipped_manifest.load(artifact_project, environment).reason == LOADED


def test_an_edited_project_or_a_corrupt_file_costs_a_parse_never_the_function(artifact_project: Path, tmp_path: Path):
    edited = _copy_project(tmp_path / "edited", artifact_project)
    model = edited / "models" / "marts" / "restaurants.sql"
    model.write_text(model.read_text(encoding="utf-8") + "\n-- edited after packaging\n", encoding="utf-8")
    corrupt = _copy_project(tmp_path / "corrupt", artifact_project)
    (corrupt / SHIPPED_DIR / shipped_manifest.MANIFEST_FILE).write_bytes(b"\x00not msgpack")
    environment = _local_environment(tmp_path / "warehouse.duckdb")

    assert "different dbt project" in shipped_manifest.load(edited, environment).reason
    assert "shipped manifest unreadable" in shipped_manifest.load(corrupt, environment).reason
    builder = DbtBuilder(edited, "local", environment, state_dir=tmp_path / "state")
    builder.prepare()
    assert builder.parses == 1
    assert builder.manifest_origin.startswith("parsed: shipped manifest parsed with a different dbt project")


def _profile_and_macro_variables() -> set[str]:
    project = default_project_dir()
    texts = [(project / "profiles.yml").read_text(encoding="utf-8")]
    texts += [path.read_text(encoding="utf-8") for path in (project / "macros").glob("*.sql")]
    return {name for text in texts for name in re.findall(r"env_var\('(\w+)'", text)}


def _without_parse_times(value: object) -> object:
    """The manifest minus when each node was parsed (`created_at`), the only thing that differs between parses."""
    if isinstance(value, dict):
        return {key: _without_parse_times(item) for key, item in value.items() if key != "created_at"}
    if isinstance(value, list):
        return [_without_parse_times(item) for item in value]
    return value


@pytest.mark.parametrize("target", ["athena", "local"])
def test_every_other_variable_dbt_reads_leaves_the_parsed_manifest_unchanged(target: str, tmp_path: Path):
    """The premise of shipping a manifest parsed before the deployment exists: only DBT_TARGET, the target's
    MANIFEST_INPUTS and the variables dbt records while parsing (NLP_ENABLED) shape the graph; the rest is read
    when SQL runs."""
    varied = _profile_and_macro_variables() - {"DBT_TARGET", "NLP_ENABLED", *MANIFEST_INPUTS[target]}
    assert {"BUCKET_NAME", "AWS_ENDPOINT_URL", "ATHENA_WORKGROUP", "ATHENA_RESULTS_S3"} <= varied
    assert ("GLUE_DATABASE" if target == "local" else "WAREHOUSE_PATH") in varied  # the other output's input

    def parsed(side: str) -> dict:
        values = {
            name: ("true" if side == "a" else "false") if "KEEP_OPEN" in name else f"{side}-{name.lower()}"
            for name in varied
        }
        values["AWS_ENDPOINT_URL"] = f"http://127.0.0.{1 if side == 'a' else 2}:4566"
        environment = {
            **dbt_environment(target=target, bucket=values["BUCKET_NAME"], nlp_enabled=False),
            "WAREHOUSE_PATH": str(tmp_path / side / "warehouse.duckdb"),
            **values,
        }
        builder = DbtBuilder(default_project_dir(), target, environment, state_dir=tmp_path / f"state-{side}")
        manifest = builder._runner_manifest()
        assert builder.parses == 1
        content = manifest.writable_manifest().to_dict(omit_none=False)
        content.pop("metadata")
        return {"graph": _without_parse_times(content), "read_while_parsing": dict(manifest.env_vars)}

    first, second = parsed("a"), parsed("b")

    assert first["read_while_parsing"] == second["read_while_parsing"] == {"NLP_ENABLED": "false"}
    assert first["graph"] == second["graph"]
