"""`reprocess` fed the common mistakes answers each with one line naming the file or object and what to do
(exit 1), never a traceback. S3 is moto's in-process one (no socket), as the local stack's."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from restaurant_pipeline import cli
from restaurant_pipeline.cli import common

BUCKET = "restaurant-pipeline-local"
LOOSE_KEY = "raw/places/sample__paris.jsonl"  # under raw/places/ but not in a dt= partition
PLACE = b'{"id": "p1", "displayName": {"text": "Chez Nous"}}\n'


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The stack `reprocess` reaches: its bucket on moto, holding one object dropped outside the dt= layout."""
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-3")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
        client.put_object(Bucket=BUCKET, Key=LOOSE_KEY, Body=PLACE)
        target = SimpleNamespace(clients=SimpleNamespace(s3=client), bucket=BUCKET)
        monkeypatch.setattr(common, "resolve_target", lambda aws, state_dir: target)
        yield client


def reprocess(*args: str):
    return CliRunner().invoke(cli.app, ["reprocess", *args])


def one_line(result) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_a_missing_object_names_it_and_how_to_list_its_folder(s3):
    line = one_line(reprocess(f"s3://{BUCKET}/raw/places/dt=2026-12-01/missing.jsonl"))

    assert line.startswith(f"error: s3://{BUCKET}/raw/places/dt=2026-12-01/missing.jsonl: no such object")
    assert f"aws s3 ls s3://{BUCKET}/raw/places/dt=2026-12-01/" in line


def test_a_missing_bucket_is_named_with_the_stacks_own(s3):
    line = one_line(reprocess("s3://restaurant-pipeline-lcoal/raw/places/dt=2026-12-01/x.jsonl"))

    assert "there is no bucket 'restaurant-pipeline-lcoal'" in line and BUCKET in line


def test_a_local_file_that_is_not_there_says_where_it_was_looked_for(s3, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    line = one_line(reprocess("sample__paris.jsonl"))

    assert line == (
        f"error: sample__paris.jsonl: no such file (from {tmp_path}); give a .jsonl, .jsonl.gz, .json file, "
        "or s3://BUCKET/KEY"
    )


def test_a_folder_is_refused_with_one_of_its_files_as_the_example(s3, tmp_path):
    (tmp_path / "sample__paris.jsonl").write_bytes(PLACE)

    line = one_line(reprocess(str(tmp_path)))

    assert line == (
        f"error: {tmp_path} is a folder: give one file in it, e.g. restaurant-pipeline reprocess "
        f"{tmp_path / 'sample__paris.jsonl'}"
    )
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="raw/places/dt=")["KeyCount"] == 0


def test_an_object_under_raw_outside_a_day_partition_is_refused_until_its_day_is_given(s3):
    line = one_line(reprocess(f"s3://{BUCKET}/{LOOSE_KEY}"))

    assert "not at raw/places/dt=YYYY-MM-DD/NAME" in line and "--date YYYY-MM-DD" in line
    assert s3.head_object(Bucket=BUCKET, Key=LOOSE_KEY).get("Metadata") == {}  # not copied onto itself

    given = reprocess(f"s3://{BUCKET}/{LOOSE_KEY}", "--date", "2026-12-01")

    assert given.exit_code == 0, given.output
    copied = s3.get_object(Bucket=BUCKET, Key="raw/places/dt=2026-12-01/sample__paris.jsonl")
    assert copied["Body"].read() == PLACE


def test_an_empty_source_is_a_usage_error(s3):
    result = reprocess("")

    assert result.exit_code == 2
    assert result.output.strip() == "error: pass a .jsonl, .jsonl.gz or .json file, or s3://BUCKET/KEY"
