"""Issue 26, item 6: the dbt commands an email prints work as printed, and so does plain dbt after `local env`.

One stack, a dropped file that builds (a day of data for plain dbt to show), then one whose data fails tests (a place
twice, a rating of 7.5): its TESTS FAILED email prints,
per failed test, `restaurant-pipeline dbt show --select TEST` (its failing rows), `… dbt compile --select TEST` and
`… dbt show --select MODEL`. Each is pasted as printed into a newcomer's shell (tests/e2e/test_pasted_commands.py
says what that shell holds), from the repository root; each must exit 0 and print rows (the SQL, for compile).
Then the README's way to plain dbt: `eval "$(restaurant-pipeline local env)" && cd dbt && dbt show --select …`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.drills import EventCapture, completed_for, delivered_emails, drop_file, place_line, wait_until
from tests.e2e.test_pasted_commands import VENV_BIN
from tests.support.local_stack import REPO_ROOT, RunningStack, running_stack
from tests.support.shell_commands import Command, run_commands

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

DBT_COMMAND = re.compile(r"^\s+[^:\n]+: (restaurant-pipeline dbt \S.*)$", re.MULTILINE)
TABLE_ROW = re.compile(r"^\|.*\|$", re.MULTILINE)


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    with running_stack("email-dbt") as running:
        yield running


def newcomer_shell(stack: RunningStack, home: Path) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    return {
        "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIPELINE_STATE_DIR": str(stack.state_dir),
        "AWS_ENDPOINT_URL": stack.info.endpoint_url,
    }


def pasted(text: str, stack: RunningStack, home: Path) -> str:
    [outcome] = run_commands((Command(text, "the email"),), newcomer_shell(stack, home), REPO_ROOT, 180)
    assert outcome.ok, outcome.describe()
    return outcome.output


def test_the_tests_failed_emails_dbt_commands_and_plain_dbt_after_local_env_work_as_printed(
    stack: RunningStack, tmp_path: Path
):
    capture = EventCapture(stack)
    good = f"raw/places/dt=2026-02-28/good-{uuid.uuid4().hex[:6]}.jsonl"
    drop_file(stack, good, [place_line("ChIJ-good", "Bien", 4.2), place_line("ChIJ-fine", "Pas Mal", 3.9)])
    [built] = wait_until(lambda: completed_for(capture, good), timeout=180, what="the first transform's outcome")
    assert built["detail"]["outcome"] == "passed"
    key = f"raw/places/dt=2026-03-01/dupes-{uuid.uuid4().hex[:6]}.jsonl"
    twice = place_line("ChIJ-dupe", "Deux Fois", 4.1)
    drop_file(stack, key, [twice, twice, place_line("ChIJ-out-of-range", "Trop Bien", 7.5)])
    [event] = wait_until(lambda: completed_for(capture, key), timeout=180, what="the transform's outcome")
    assert event["detail"]["outcome"] == "tests_failed"
    [email] = delivered_emails(stack, event["detail"]["run_id"])

    commands = DBT_COMMAND.findall(email.body)

    assert any(" show --select " in command for command in commands), email.body
    for command in commands:
        output = pasted(command, stack, tmp_path / "home")
        if " compile " in command:
            assert "select" in output.lower(), output
        else:
            assert TABLE_ROW.findall(output)[1:], f"`{command}` printed no row:\n{output}"
    output = pasted(
        'eval "$(restaurant-pipeline local env)" && cd dbt && dbt show --select city_daily_summary',
        stack,
        tmp_path / "home",
    )
    assert "2026-02-28" in output and TABLE_ROW.findall(output)[1:], output
