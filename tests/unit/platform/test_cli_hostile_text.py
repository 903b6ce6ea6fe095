"""Text from users and data prints as written: a city, key, run id or error holding rich markup (`[/]`, `[bold]`)
neither crashes a command nor changes its output. `audit` tells findings (1) from its own failure (2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from typer.testing import CliRunner

from restaurant_pipeline import cli, ledger_views, operations
from restaurant_pipeline.cli import common, runs
from restaurant_pipeline.operations import DlqDepth, RunProgress

CITY = "Saint-[/]-Étienne [bold]"
RUN = "manual-[/red]-[b]x"
KEY = "raw/places/dt=2026-01-01/[/]*?[ab].jsonl"


@dataclass
class FakeLedger:
    items: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {
                "run_id": RUN,
                "step": "REQUESTED",
                "subject": "-",
                "at": "2026-01-01T08:00:00+00:00",
                "service": "cli",
                "data": {"cities": [CITY], "trigger": "manual"},
            },
            {
                "run_id": RUN,
                "step": "COLLECTION_FAILED",
                "subject": CITY,
                "at": "2026-01-01T08:00:01+00:00",
                "service": "collector",
                "data": {"category": "[/]", "message": "quota [bold]"},
            },
        ]
    )

    def all_steps(self) -> list[dict[str, Any]]:
        return list(self.items)

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        return [item for item in self.items if item["run_id"] == run_id]


@dataclass
class FakeQueue:
    dlq_url: str = "http://127.0.0.1:4566/000000000000/[/]-dlq"


@dataclass
class FakeClients:
    sqs: Any = None
    events: Any = None


@dataclass
class FakeTarget:
    ledger: FakeLedger = field(default_factory=FakeLedger)
    clients: FakeClients = field(default_factory=FakeClients)
    queues: dict[str, FakeQueue] = field(default_factory=lambda: {"transformer": FakeQueue()})
    event_bus: str = "restaurant-pipeline"
    kind: str = "local"

    def dead_letter_queues(self) -> list[operations.DeadLetterQueue]:
        return [
            operations.DeadLetterQueue(name, "service", name, queue.dlq_url, "arn", "url")
            for name, queue in self.queues.items()
        ]


@pytest.fixture
def target(monkeypatch: pytest.MonkeyPatch) -> FakeTarget:
    fake = FakeTarget()
    monkeypatch.setattr(common, "resolve_target", lambda aws, state_dir, code=1: fake)
    return fake


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli.app, list(args), env={"COLUMNS": "400"})


def test_runs_and_runs_show_print_markup_in_run_ids_cities_and_errors_as_written(target: FakeTarget) -> None:
    listed = invoke("runs")
    shown = invoke("runs", "show", RUN)

    assert listed.exit_code == 0, listed.output
    assert RUN in listed.output and CITY in listed.output and "collection failed: [/]" in listed.output
    assert shown.exit_code == 0, shown.output
    assert f"run {RUN}" in shown.output and CITY in shown.output


def test_run_wait_prints_cities_run_ids_and_steps_as_written(
    target: FakeTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    @dataclass
    class Request:
        run_id: str = RUN
        cities: list[str] = field(default_factory=lambda: [CITY])

    def follow(ledger: Any, run_id: str, timeout: float, on_step: Any) -> RunProgress:
        for item in ledger.steps(run_id):
            on_step(item)
        progress = RunProgress(run_id)
        progress.steps = [{"step": "NOTIFIED", "subject": "passed", "at": "x", "service": "notifier", "data": {}}]
        return progress

    monkeypatch.setattr(operations, "request_collection", lambda *args: Request())
    monkeypatch.setattr(operations, "follow_run", follow)

    result = invoke("run", "--city", CITY, "--wait")

    assert f"Requested run {RUN} for {CITY}." in result.output
    assert f"Run {RUN}:" in result.output


def test_audit_prints_findings_with_markup_as_written_and_exits_1(
    target: FakeTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = {"clean": False, "findings": {"raw objects never transformed": [f"s3://bucket/{KEY} (200s old)"]}}
    monkeypatch.setattr(ledger_views, "audit_pipeline", lambda target: report)

    result = invoke("audit")

    assert result.exit_code == runs.AUDIT_FINDINGS == 1
    assert f"s3://bucket/{KEY} (200s old)" in result.output


def test_audit_exits_2_when_it_cannot_reach_the_stack(target: FakeTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(target: Any) -> dict[str, Any]:
        raise EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/[/]")

    monkeypatch.setattr(ledger_views, "audit_pipeline", unreachable)

    result = invoke("audit")

    assert result.exit_code == runs.AUDIT_ERROR == 2
    assert "the audit could not run: EndpointConnectionError" in result.output
    assert "http://127.0.0.1:4566/[/]" in result.output


def test_audit_exits_2_when_there_is_no_stack(tmp_path: Any) -> None:
    result = invoke("audit", "--state-dir", str(tmp_path / "[bold]no-stack"))

    assert result.exit_code == 2
    assert "The local stack is not running" in result.output and "[bold]no-stack" in result.output


def test_dlq_list_prints_queue_urls_as_written(target: FakeTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(operations, "dlq_depth", lambda sqs, service, url: DlqDepth(service, url, 2, 0, 30.0))

    result = invoke("dlq", "list")

    assert result.exit_code == 0, result.output
    assert "/[/]-dlq" in result.output


def test_an_error_message_holding_markup_prints_as_written() -> None:
    result = invoke("reprocess", "--state-dir", "/nonexistent/[/]", "x.jsonl")

    assert result.exit_code == 1
    assert "/nonexistent/[/]" in result.output
