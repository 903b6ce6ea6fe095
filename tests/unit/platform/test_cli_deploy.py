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
