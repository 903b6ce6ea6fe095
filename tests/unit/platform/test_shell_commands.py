"""How the documentation's and the demo's commands are read and run (tests/e2e/test_pasted_commands.py uses it)."""

from __future__ import annotations

from pathlib import Path

from tests.support.shell_commands import (
    Command,
    bash_blocks,
    prompt_commands,
    run_commands,
    run_until_interrupted,
    untagged_commands,
)

PAGE = """# A page

```bash
source .venv/bin/activate   # a comment after a command stays with it
# a comment line is not a command
restaurant-pipeline sql "select 1 \\
  as one"
```

```bash
# AWS only: a deployed stack
restaurant-pipeline deploy
```

```
restaurant-pipeline outbox
```

```
✓ local stack up on http://127.0.0.1:4566
```
"""


def test_a_bash_block_gives_one_command_per_logical_line():
    local, aws = bash_blocks(PAGE, "page.md")

    assert [c.text for c in local.commands] == [
        "source .venv/bin/activate   # a comment after a command stays with it",
        'restaurant-pipeline sql "select 1 \\\n  as one"',
    ]
    assert local.commands[1].source == "page.md:6" and not local.aws_only
    assert aws.aws_only


def test_a_command_in_a_block_not_tagged_bash_is_found_and_sample_output_is_not():
    assert untagged_commands(PAGE, "page.md") == ["page.md:15 (```): restaurant-pipeline outbox"]


def test_the_prompt_lines_of_an_output_are_its_commands():
    output = 'warehouse: x\n  $ .venv/bin/restaurant-pipeline sql "select 1"\nRun passed\n  $ make down\n'

    assert [c.text for c in prompt_commands(output)] == ['.venv/bin/restaurant-pipeline sql "select 1"', "make down"]


def test_a_failing_command_is_reported_and_the_ones_after_it_do_not_run(tmp_path: Path):
    commands = (
        Command("cd /", "p:1"),
        Command('test "$PWD" = / && false', "p:2"),
        Command(f"touch {tmp_path}/ran", "p:3"),
    )

    outcomes = run_commands(commands, {"PATH": "/usr/bin:/bin"}, tmp_path, timeout=30)

    assert [(o.command.source, o.code) for o in outcomes] == [("p:1", 0), ("p:2", 1)]
    assert not (tmp_path / "ran").exists()


SERVES = "import signal, sys, time; {handler}print('ready', flush=True); time.sleep(60)"
CLEAN_EXIT = "signal.signal(signal.SIGINT, lambda *_: sys.exit(0)); "


def test_a_command_that_runs_until_interrupted_passes_when_it_keeps_running_and_stops_on_ctrl_c(tmp_path: Path):
    def outcome(code: str) -> bool:
        command = Command(f'python3 -c "{code}"  # until Ctrl-C', "p:1")
        return run_until_interrupted(command, {"PATH": "/usr/bin:/bin"}, tmp_path, timeout=30).ok

    assert outcome(SERVES.format(handler=CLEAN_EXIT))
    assert not outcome(SERVES.format(handler=""))  # a traceback on Ctrl-C is no clean stop
    assert not outcome("print('done')")  # it ended by itself
