"""dbt's target/ and logs/ live in a folder of this stack's own, never a shared one, and a planted link is refused
(issue 24, item 9): DbtBuilder defaulted to a shared $TMPDIR/dbt-restaurant-pipeline and followed a symbolic link
planted there, writing (and reading its partial parse) wherever the link pointed."""

from __future__ import annotations

import inspect
import os
import stat
from pathlib import Path

import pytest

from restaurant_pipeline.local.stack import StatePaths, function_environment, new_stack_info
from restaurant_pipeline.model.config import PipelineConfig
from restaurant_pipeline.model.topology import build_topology
from services.common.settings import SettingsError
from services.transformer.adapters.dbt_build import (
    DbtBuilder,
    UnsafeStateFolder,
    dbt_environment,
    default_project_dir,
    private_state,
)
from services.transformer.domain.failures import classify
from services.transformer.settings import TransformerSettings


def builder(state: Path, tmp_path: Path) -> DbtBuilder:
    environment = dbt_environment(target="local", bucket="b", warehouse_path=str(tmp_path / "warehouse.duckdb"))
    return DbtBuilder(default_project_dir(), "local", environment, state_dir=state)


def test_a_state_folder_planted_as_a_link_is_refused_and_nothing_is_written_where_it_points(tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    planted = tmp_path / "state" / "dbt"
    planted.parent.mkdir()
    planted.symlink_to(elsewhere)

    with pytest.raises(UnsafeStateFolder, match=r"is a symbolic link \(to .*elsewhere\): refused") as refused:
        builder(planted, tmp_path).prepare()

    assert list(elsewhere.iterdir()) == []
    assert f"rm {planted}" in str(refused.value) and "DBT_STATE_DIR" in str(refused.value)
    assert classify(refused.value) == "final"  # no retry cures it: a person removes the link


@pytest.mark.parametrize("inside", ["target", "logs"])
def test_a_link_planted_for_target_or_logs_inside_the_state_folder_is_refused(tmp_path: Path, inside: str):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / inside).symlink_to(elsewhere)

    with pytest.raises(UnsafeStateFolder, match=f"{inside} is a symbolic link"):
        private_state(state)


def test_a_dangling_link_is_refused_too(tmp_path: Path):
    planted = tmp_path / "dbt"
    planted.symlink_to(tmp_path / "not-yet")

    with pytest.raises(UnsafeStateFolder, match="is a symbolic link"):
        private_state(planted)
    assert not (tmp_path / "not-yet").exists()


def test_a_file_where_the_folder_should_be_is_refused(tmp_path: Path):
    (tmp_path / "dbt").write_text("")

    with pytest.raises(UnsafeStateFolder, match="is not a folder"):
        private_state(tmp_path / "dbt")


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_state_folder_owned_by_another_user_is_refused(tmp_path: Path):
    theirs = tmp_path / "dbt"
    theirs.mkdir()
    os.chown(theirs, 12345, 12345)

    with pytest.raises(UnsafeStateFolder, match="belongs to user id 12345, not to this user"):
        private_state(theirs)


def test_the_folder_and_its_subfolders_are_created_private_and_a_wider_one_is_narrowed(tmp_path: Path):
    made = private_state(tmp_path / "a" / "dbt")
    wide = tmp_path / "wide"
    wide.mkdir()
    wide.chmod(0o777)
    private_state(wide)

    for folder in (made, made / "target", made / "logs", wide, wide / "target"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_the_builder_has_no_shared_default_folder():
    assert inspect.signature(DbtBuilder).parameters["state_dir"].default is inspect.Parameter.empty


BASE = {
    "DBT_TARGET": "local",
    "WAREHOUSE_PATH": "w.duckdb",
    "BUCKET_NAME": "b",
    "EVENT_BUS_NAME": "e",
    "IDEMPOTENCY_TABLE_NAME": "i",
    "LEDGER_TABLE_NAME": "l",
}


def test_on_lambda_the_state_folder_is_under_tmp_named_after_the_function():
    settings = TransformerSettings.model_validate(
        {**BASE, "AWS_LAMBDA_FUNCTION_NAME": "restaurant-pipeline-transformer"}
    )

    assert settings.dbt_state_folder == Path("/tmp/dbt-restaurant-pipeline-transformer")


def test_dbt_state_dir_wins_and_without_either_the_settings_say_what_to_set(tmp_path: Path):
    given = TransformerSettings.model_validate(
        {**BASE, "DBT_STATE_DIR": str(tmp_path), "AWS_LAMBDA_FUNCTION_NAME": "f"}
    )
    assert given.dbt_state_folder == tmp_path

    with pytest.raises(SettingsError, match="set DBT_STATE_DIR to a folder of this stack's own"):
        _ = TransformerSettings.model_validate(BASE).dbt_state_folder


def test_each_local_stack_gives_its_transformer_a_dbt_folder_in_its_own_state_folder(tmp_path: Path):
    config = PipelineConfig()
    folders = []
    for name in ("one", "two"):
        info = new_stack_info("http://127.0.0.1:4566", StatePaths(tmp_path / name))
        environment = function_environment(config, build_topology(config, info.bucket), info, "key")
        folders.append(Path(environment["transformer"]["DBT_STATE_DIR"]))
        assert "DBT_STATE_DIR" not in environment["collector"]

    assert folders == [tmp_path / "one" / "dbt", tmp_path / "two" / "dbt"]
