"""`run --city` names each city once: two spellings of one city are refused before anything is published."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from restaurant_pipeline import cli
from restaurant_pipeline.cli import common


def refuse_any_stack(*args: object) -> None:
    raise AssertionError("the stack was looked up: the request would have been published")


@pytest.mark.parametrize(
    ("cities", "first"),
    [
        (["Saint-Étienne", "saint etienne"], "Saint-Étienne"),
        (["Paris", "Lyon", "PARIS"], "Paris"),
        (["Nîmes", "NIMES!"], "Nîmes"),
    ],
)
def test_run_refuses_two_spellings_of_one_city_naming_both(
    monkeypatch: pytest.MonkeyPatch, cities: list[str], first: str
):
    monkeypatch.setattr(common, "resolve_target", refuse_any_stack)
    arguments = ["run"] + [item for city in cities for item in ("--city", city)]

    result = CliRunner().invoke(cli.app, arguments)

    assert result.exit_code == 1
    message = " ".join(result.output.split())  # the error console wraps at the terminal width
    assert "--city: each city once" in message and "Keep one spelling" in message
    assert repr(first) in message and repr(cities[-1]) in message
    assert "Traceback" not in result.output
