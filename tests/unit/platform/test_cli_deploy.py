"""`restaurant-pipeline deploy`: what it asks, and what it hands to restaurant_pipeline.deploy.deploy."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from restaurant_pipeline import cli
from restaurant_pipeline import deploy as deployment


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """deploy() replaced by a recorder; the deployed stack subscribes ops@example.com; pipeline.toml names none."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(deployment, "deploy", lambda **kwargs: calls.append(kwargs) or {})
    monkeypatch.setattr(deployment, "current_email", lambda config=None, session=None: "ops@example.com")
    monkeypatch.setenv("PIPELINE__NOTIFICATIONS__EMAIL", "")
    monkeypatch.delenv("NOTIFICATION_EMAIL", raising=False)
    return calls


def test_the_email_prompt_offers_the_deployed_address_and_enter_keeps_it(deployed):
    result = CliRunner().invoke(cli.app, ["deploy"], input="AIzaSy-test\n\n")
    assert result.exit_code == 0, result.output
    assert "[ops@example.com]" in result.output
    assert deployed[0]["email"] == "ops@example.com"


def test_none_at_the_prompt_or_no_email_removes_the_subscription(deployed):
    CliRunner().invoke(cli.app, ["deploy"], input="AIzaSy-test\nnone\n")
    CliRunner().invoke(cli.app, ["deploy", "--yes", "--no-email"])
    assert [call["email"] for call in deployed] == ["", ""]


def test_without_questions_and_without_an_address_deploy_decides_to_keep_it(deployed):
    CliRunner().invoke(cli.app, ["deploy", "--yes"])
    assert deployed[0]["email"] is None  # deploy() keeps pipeline.toml's, else the deployed one


API_KEY = "AIzaSy-cli-test-key-never-echoed"


def test_the_api_key_is_never_a_command_line_argument(deployed):
    result = CliRunner().invoke(cli.app, ["deploy", "--api-key", API_KEY, "--yes"])
    assert result.exit_code == 2 and "No such option" in result.output
    assert deployed == []


def test_the_api_key_comes_from_a_file_or_standard_input(deployed, tmp_path):
    key_file = tmp_path / "places.key"
    key_file.write_text(f"  {API_KEY}\n", encoding="utf-8")
    from_file = CliRunner().invoke(cli.app, ["deploy", "--yes", "--api-key-file", str(key_file)])
    from_stdin = CliRunner().invoke(cli.app, ["deploy", "--yes", "--api-key-file", "-"], input=f"{API_KEY}\n")
    assert (from_file.exit_code, from_stdin.exit_code) == (0, 0)
    assert [call["api_key"] for call in deployed] == [API_KEY, API_KEY]
    assert API_KEY not in from_file.output + from_stdin.output


def test_the_hidden_prompt_does_not_echo_the_key_and_enter_keeps_the_stored_one(deployed):
    typed = CliRunner().invoke(cli.app, ["deploy", "--no-email"], input=f"{API_KEY}\n")
    kept = CliRunner().invoke(cli.app, ["deploy", "--no-email"], input="\n")
    assert (typed.exit_code, kept.exit_code) == (0, 0)
    assert API_KEY not in typed.output
    assert [call["api_key"] for call in deployed] == [API_KEY, None]


def test_an_empty_or_missing_key_file_is_named(deployed, tmp_path):
    empty = tmp_path / "empty.key"
    empty.write_text("\n", encoding="utf-8")
    for source in (str(empty), str(tmp_path / "missing.key")):
        result = CliRunner().invoke(cli.app, ["deploy", "--yes", "--api-key-file", source])
        assert result.exit_code == 1 and "--api-key-file" in result.output
    assert deployed == []


def test_destroy_exits_1_when_a_bucket_is_still_there(monkeypatch):
    left = deployment.DestroySummary(deleted=[("data", 3)], remaining=[("logs", "objects kept arriving")])
    monkeypatch.setattr(deployment, "destroy", lambda **kwargs: left)
    assert CliRunner().invoke(cli.app, ["destroy", "--yes", "--delete-data"]).exit_code == 1
    monkeypatch.setattr(deployment, "destroy", lambda **kwargs: deployment.DestroySummary(deleted=[("data", 3)]))
    assert CliRunner().invoke(cli.app, ["destroy", "--yes", "--delete-data", "--bucket", "data"]).exit_code == 0
