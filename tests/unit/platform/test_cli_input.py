"""A bad --city or --date is a clear message naming the option and the fix (exit 2, click's usage error), found
before anything is contacted: never a traceback."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from restaurant_pipeline import cli
from restaurant_pipeline.cli import common


class RecordingEvents:
    def __init__(self) -> None:
        self.entries: list[Any] = []

    def put_events(self, Entries: list[Any]) -> dict[str, Any]:
        self.entries.extend(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> RecordingEvents:
    """The stack the command would reach: a bus that records what it is given."""
    recorded = RecordingEvents()
    target = SimpleNamespace(clients=SimpleNamespace(events=recorded), event_bus="restaurant-pipeline")
    monkeypatch.setattr(common, "resolve_target", lambda aws, state_dir: target)
    return recorded


@pytest.mark.parametrize("city", ["", "   ", "x" * 101])
def test_a_bad_city_is_a_usage_error_naming_the_option_not_a_traceback(events, city):
    result = CliRunner().invoke(cli.app, ["run", "--city", city])

    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert "--city" in result.output and "is not a city name" in result.output
    assert events.entries == []  # nothing was sent


def test_a_good_city_is_requested(events):
    result = CliRunner().invoke(cli.app, ["run", "--city", " Lyon ", "--json"])

    assert result.exit_code == 0, result.output
    assert '"Lyon"' in events.entries[0]["Detail"]


@pytest.mark.parametrize("day", ["2026-13-01", "yesterday", "01/12/2026"])
def test_a_bad_date_is_a_usage_error_naming_the_option_and_the_format(monkeypatch, day):
    monkeypatch.setattr(common, "resolve_target", lambda aws, state_dir: pytest.fail("the stack was contacted"))

    result = CliRunner().invoke(cli.app, ["reprocess", "some-file.jsonl", "--date", day])

    assert result.exit_code == 2, result.output
    assert "--date" in result.output and "YYYY-MM-DD" in result.output
