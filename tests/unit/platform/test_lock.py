"""requirements.lock is resolved once for every supported Python and platform (uv's universal resolution): a
distribution may be locked twice under exclusive markers, and each consumer reads the line for its own platform."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from pathlib import Path

from packaging.specifiers import SpecifierSet

from restaurant_pipeline.artifacts.build import locked_versions
from restaurant_pipeline.artifacts.specs import LAMBDA, LOCK_FILE

REPO_ROOT = Path(__file__).resolve().parents[3]
FORKED = """\
mmh3==4.1.0 ; python_full_version < '3.13'
    # via dbt-athena
mmh3==5.3.1 ; python_full_version >= '3.13'
    # via dbt-athena
awslambdaric==4.2.2 ; sys_platform == 'linux'
boto3==1.40.0
"""


def test_the_lambda_platform_reads_the_lines_for_linux_arm64_and_python_3_12():
    locked = locked_versions(FORKED, LAMBDA.marker_environment())

    assert locked == {"mmh3": "4.1.0", "awslambdaric": "4.2.2", "boto3": "1.40.0"}


def test_a_python_3_13_host_reads_its_own_line():
    host_313 = replace(LAMBDA, name="host", python_version="3.13").marker_environment()

    assert locked_versions(FORKED, host_313)["mmh3"] == "5.3.1"


def test_a_macos_host_gets_no_linux_only_distribution():
    mac = {**LAMBDA.marker_environment(), "sys_platform": "darwin", "platform_system": "Darwin"}

    assert "awslambdaric" not in locked_versions(FORKED, mac)


def test_the_committed_lock_covers_every_supported_python():
    """`make lock` resolves universally: the lock's header says so, and its Python range is pyproject's."""
    lock = LOCK_FILE.read_text(encoding="utf-8")
    requires_python = SpecifierSet(
        tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    )

    assert "--universal" in lock.splitlines()[1]
    assert [v for v in ("3.10", "3.11", "3.12", "3.13", "3.14") if f"{v}.0" in requires_python] == [
        "3.11",
        "3.12",
        "3.13",
    ]
    for minor in ("3.11", "3.12", "3.13"):
        environment = replace(LAMBDA, name="host", python_version=minor).marker_environment()
        mmh3 = locked_versions(lock, environment)["mmh3"]
        # mmh3 4.1 publishes no wheel for 3.13 (dbt-labs/dbt-adapters#2045): the override in pyproject.toml
        assert re.match(r"5\." if minor == "3.13" else r"4\.1\.", mmh3), (minor, mmh3)
