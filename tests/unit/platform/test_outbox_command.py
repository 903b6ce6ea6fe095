"""`restaurant-pipeline outbox`: a paged listing of the runs' emails, newest first; `--last` is the newest run email
(never an alarm's ALARM/OK email, which `--alarms` shows); `--run ID` one run's emails; `--json` fields as its help
names them. The run emails are the notifier's own (render_run_email), so a change of its wording is caught here."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from restaurant_pipeline import cli
from restaurant_pipeline.local.outbox import write_eml
from restaurant_pipeline.local.stack import StatePaths
from services.notifier.domain.body import render_run_email
from services.notifier.domain.message import EmailContext
from services.notifier.domain.outcomes import settled_outcomes
from tests.unit.notifier.builders import transform

START = datetime(2026, 12, 1, 8, tzinfo=UTC)
RUNS = [f"manual-202612{day:02d}T080000Z-abc{day:03d}" for day in range(1, 26)]  # 25 runs, oldest first
ALARM = 'ALARM: "restaurant-pipeline-notifier-dlq-not-empty" in EU (Paris)'
OK = 'OK: "restaurant-pipeline-notifier-dlq-not-empty" in EU (Paris)'


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """An outbox of 25 runs' emails (the 8th run mailed twice) and, newer than all of them, an alarm and its OK."""
    outbox = StatePaths(tmp_path).outbox
    context = EmailContext(log_location=".pipeline/logs", max_receive_count=3)
    for number, run_id in enumerate(RUNS):
        email = render_run_email(run_id, settled_outcomes(transform("passed", run_id=run_id)), context)
        write_eml(outbox, email.subject, email.body, f"sns-{number}", START + timedelta(hours=number))
    again = render_run_email(RUNS[7], settled_outcomes(transform("tests_failed", run_id=RUNS[7])), context)
    write_eml(outbox, again.subject, again.body, "sns-again", START + timedelta(hours=7, minutes=30))
    end = START + timedelta(days=2)
    write_eml(outbox, ALARM, "You are receiving this email because your alarm …", "sns-alarm", end)
    write_eml(outbox, OK, "You are receiving this email because your alarm …", "sns-ok", end + timedelta(minutes=5))
    return tmp_path


def outbox(state_dir: Path, *args: str):
    result = CliRunner().invoke(cli.app, ["outbox", "--state-dir", str(state_dir), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_last_is_the_newest_run_email_not_the_newer_alarm_email(state_dir):
    result = outbox(state_dir, "--last")

    assert result.exit_code == 0, result.output
    assert f"Run {RUNS[-1]}" in result.output
    assert "Subject: [restaurant-pipeline] OK Paris" in result.output
    assert "ALARM" not in result.output and 'OK: "' not in result.output


def test_alarm_emails_are_listed_and_shown_only_with_alarms(state_dir):
    listing = outbox(state_dir, "--alarms").output.splitlines()
    newest = outbox(state_dir, "--alarms", "--last").output

    assert listing[0].startswith("2 of 2 alarm emails in ")
    assert [line[21:] for line in listing[2:4]] == [OK, ALARM]
    assert not any(run in "\n".join(listing) for run in RUNS)
    assert f"Subject: {OK}" in newest and "[restaurant-pipeline]" not in newest


def test_run_shows_every_email_of_that_run_in_full_and_a_start_of_its_id_will_do(state_dir):
    result = outbox(state_dir, "--run", RUNS[7][:-2])

    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"2 email(s) of run {RUNS[7]} in ")
    assert result.output.count("Subject: [restaurant-pipeline]") == 2
    assert result.output.index("TESTS FAILED") < result.output.index("Subject: [restaurant-pipeline] OK")
    assert all(run not in result.output for run in RUNS if run != RUNS[7])


@pytest.mark.parametrize(
    ("run", "says"),
    [("manual-2099", "no email of a run 'manual-2099' in the outbox"), ("manual-2026120", "starts 9 run ids")],
)
def test_run_naming_no_run_or_several_is_one_line(state_dir, run, says):
    result = outbox(state_dir, "--run", run)

    assert result.exit_code == 1
    assert "Traceback" not in result.output and result.output.count("\n") == 1
    assert says in result.output


def test_the_listing_is_one_line_per_email_newest_first_paged_with_how_to_see_the_rest(state_dir):
    lines = outbox(state_dir).output.splitlines()

    assert lines[0].startswith("20 of 26 run emails in ") and lines[0].endswith("(the alarms' with --alarms):")
    rows = lines[2:22]
    assert [row.split()[2] for row in rows] == [*RUNS[::-1][:17], RUNS[7], RUNS[7], RUNS[6]]
    assert rows[0].startswith(f"2026-12-02 08:00:00  {RUNS[-1]}  [restaurant-pipeline] OK Paris")
    assert lines[22] == "… 6 older not shown: `restaurant-pipeline outbox --limit 26` lists them all"
    assert len(lines) == 24

    assert len(outbox(state_dir, "--limit", "3").output.splitlines()) == 2 + 3 + 2
    assert len(outbox(state_dir, "--limit", "0").output.splitlines()) == 2 + 26 + 1


def test_json_fields_are_the_ones_its_help_names(state_dir):
    records = json.loads(outbox(state_dir, "--json").output)
    command = typer.main.get_command(cli.app).commands["outbox"]  # type: ignore[attr-defined]
    help_text = next(p.help for p in command.params if "--json" in p.opts)

    assert len(records) == 26 and records[0]["run_id"] == RUNS[-1]
    assert list(records[0]) == ["sent_at", "kind", "run_id", "from", "to", "subject", "body", "file", "message_id"]
    assert all(field in help_text for field in records[0])
    assert records[0]["kind"] == "run" and records[0]["file"].endswith(".eml")
    assert [r["kind"] for r in json.loads(outbox(state_dir, "--json", "--alarms").output)] == ["alarm", "alarm"]


def test_last_with_only_alarm_emails_says_so_and_where_they_are(tmp_path):
    write_eml(StatePaths(tmp_path).outbox, ALARM, "You are receiving this email because your alarm …", "a", START)

    result = outbox(tmp_path, "--last")

    assert result.exit_code == 0
    assert result.output.startswith(f"No run email in {StatePaths(tmp_path).outbox} yet (1 alarm email(s): ")
    assert "`restaurant-pipeline outbox --alarms`" in result.output and "Subject:" not in result.output
