"""`deploy` from an installed copy (`pip install .`: no cdk.json, cdk/ nor requirements.lock beside the package)
stops at once with one line saying to clone the repository, exit 2, before any question or AWS call; `destroy`,
which needs nothing from the tree, still runs there."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from restaurant_pipeline import cli
from restaurant_pipeline import deploy as deployment


@pytest.fixture
def installed_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """REPO_ROOT as an installed copy has it: site-packages, with the packages of the wheel and no tree around them."""
    for package in ("restaurant_pipeline", "services", "contracts"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.setattr(deployment, "REPO_ROOT", tmp_path)
    return tmp_path


def test_deploy_from_an_installed_copy_is_one_line_saying_to_clone_exit_2_before_any_question(
    installed_copy: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(deployment, "deploy", lambda **kwargs: pytest.fail("deploy ran from an installed copy"))

    result = CliRunner().invoke(cli.app, ["deploy"], input="AIzaSy-typed-for-nothing\nops@example.com\n")

    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "API key" not in result.output  # not asked: the answer could not be used
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: deploy builds the Lambda zips and synthesizes the CDK app from a checkout")
    assert f"({installed_copy} has no cdk.json, cdk/app.py, requirements.lock)" in line
    assert line.endswith(
        "clone the repository, then in the clone run make install && .venv/bin/restaurant-pipeline deploy"
    )


def test_the_library_call_refuses_an_installed_copy_before_anything_runs(installed_copy: Path):
    class NoAws:
        def client(self, name: str) -> None:
            pytest.fail(f"AWS ({name}) was called from an installed copy")

    with pytest.raises(deployment.NotACheckout, match="from a checkout of the repository"):
        deployment.deploy(
            api_key="AIzaSy-test",
            email="",
            session=NoAws(),
            run=lambda *args, **kwargs: pytest.fail(f"{args[0]} ran from an installed copy"),
        )


def test_a_checkout_is_what_deploy_builds_from():
    assert deployment.require_checkout() == deployment.REPO_ROOT  # this repository


def test_destroy_needs_no_checkout_and_still_runs_from_an_installed_copy(
    installed_copy: Path, monkeypatch: pytest.MonkeyPatch
):
    calls: list[dict] = []
    monkeypatch.setattr(deployment, "destroy", lambda **kwargs: calls.append(kwargs) or deployment.DestroySummary())
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)

    result = CliRunner().invoke(cli.app, ["destroy", "--yes"])

    assert result.exit_code == 0, result.output
    assert calls == [{"keep_data": True, "buckets": ()}]
