"""Every shell command the README, the docs and the demo print works when pasted, against a running local stack.

What is run (tests/support/shell_commands.py says how commands are read):
- each ```bash block of README.md and of the docs/ pages below, in order, in a fresh bash per block, from the
  repository root, with the virtual environment's bin/ first on PATH (the README's `source .venv/bin/activate`);
  blocks whose first line says "AWS only" are not run (they need a deployed stack);
- every `$ ` line the demo prints, pasted as printed (here the demo runs without the environment on PATH, so it
  prints `.venv/bin/...` paths, the harder case), `local down` last.
The shell is a newcomer's: HOME is an empty folder (no ~/.aws: no credentials, no region), nothing from this
test's environment but PATH and the stack's state folder. Two differences from a person's terminal, both forced
by sharing the machine: the stack runs on a free port with its state in a temporary folder (PIPELINE_STATE_DIR,
where a person has the default .pipeline/), and AWS_ENDPOINT_URL names that port, so that nothing pasted here can
ever start a second stack on the default port 4566. That variable alone gives the aws CLI neither credentials nor
a region: the commands that use it still need `restaurant-pipeline local env`, as a person's do.

Pages not covered: docs/reliability.md and docs/performance.md, whose commands are the test tiers and the
benchmarks themselves (minutes each; `make test` and `make bench` run them). Not run: `make test` (it runs this
test).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from restaurant_pipeline.local import control
from tests.e2e.conftest import REPO_ROOT, RunningStack
from tests.support.shell_commands import Block, Command, Outcome, bash_blocks, prompt_commands, run_commands

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

EXCLUDED_PAGES = ("docs/reliability.md", "docs/performance.md")
PAGES = ["README.md", *sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "docs").glob("*.md"))]
PAGES = [page for page in PAGES if page not in EXCLUDED_PAGES]
NOT_RUN = {"make test": "it runs this very test"}
STOPS_THE_STACK = ("local down", "make down")
BLOCK_TIMEOUT = 300
VENV_BIN = str(Path(sys.executable).parent)


@pytest.fixture(scope="module")
def stack(local_stack: RunningStack) -> RunningStack:
    return local_stack


def newcomer_shell(stack: RunningStack, home: Path, activated: bool) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    path = "/usr/local/bin:/usr/bin:/bin"
    return {
        "PATH": f"{VENV_BIN}:{path}" if activated else path,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        "PIPELINE_STATE_DIR": str(stack.state_dir),
        "AWS_ENDPOINT_URL": stack.info.endpoint_url,
    }


def check(outcomes: list[Outcome]) -> None:
    failed = [outcome for outcome in outcomes if not outcome.ok]
    assert not failed, "\n\n".join(outcome.describe() for outcome in failed)


def runnable(block: Block) -> tuple[Command, ...]:
    return tuple(c for c in block.commands if c.text.split("#")[0].strip() not in NOT_RUN)


@pytest.mark.parametrize("page", PAGES)
def test_every_bash_block_of_the_page_works_when_pasted(stack: RunningStack, page: str, tmp_path: Path):
    blocks = bash_blocks((REPO_ROOT / page).read_text(encoding="utf-8"), page)
    local = [block for block in blocks if not block.aws_only]
    if not local:
        pytest.skip(f"{page}: no bash block for the local stack ({len(blocks)} marked AWS only)")
    env = newcomer_shell(stack, tmp_path / "home", activated=True)
    ordered = sorted(local, key=lambda block: any(s in c.text for c in block.commands for s in STOPS_THE_STACK))
    for block in ordered:
        assert control.read_stack(stack.state_dir), "the stack must be up before each block"
        check(run_commands(runnable(block), env, REPO_ROOT, BLOCK_TIMEOUT))


def test_every_command_the_demo_prints_works_when_pasted(stack: RunningStack, tmp_path: Path):
    env = newcomer_shell(stack, tmp_path / "home", activated=False)
    demo = run_commands((Command(f"{VENV_BIN}/restaurant-pipeline demo", "the demo"),), env, REPO_ROOT, 300)
    check(demo)
    commands = prompt_commands(demo[0].output)
    assert len(commands) >= 8, demo[0].output
    # printed for a shell without the environment on PATH: no bare command name
    assert not [c.text for c in commands if c.text.startswith(("restaurant-pipeline ", "aws "))]
    last = sorted(commands, key=lambda command: any(s in command.text for s in STOPS_THE_STACK))
    for command in last:
        check(run_commands((command,), env, REPO_ROOT, BLOCK_TIMEOUT))
    assert "local down" in last[-1].text
    with pytest.raises(control.StackNotRunning):  # the printed `local down` did stop it
        control.read_stack(stack.state_dir)
