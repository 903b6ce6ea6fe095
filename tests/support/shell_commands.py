"""The shell commands the documentation and the demo print, read the way a person pastes them, and run.

- Documentation: every fenced ```bash block of a Markdown page. A block whose first line is a comment naming
  "AWS only" needs a deployed stack and AWS credentials: it is listed, not run. A fenced block with another tag (or
  none) that starts like a command is a mistake: `untagged_commands` finds those, so no command hides from the test.
- The demo: every line of its output that starts with `$ ` (the prompt is not part of the command).
- A command whose comment says `# until Ctrl-C` keeps running (a server, a follow): it passes when it is still
  running once it has printed something, then stops cleanly on Ctrl-C (SIGINT).
One command is one logical line: a line ending in a backslash continues on the next.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

AWS_ONLY = re.compile(r"^#.*\bAWS only\b", re.IGNORECASE)
UNTIL_INTERRUPTED = "# until Ctrl-C"
# How a command starts, to catch one in a block not tagged bash.
COMMAND_STARTS = (
    "restaurant-pipeline ",
    ".venv/bin/",
    "aws ",
    "make ",
    "cd ",
    "dbt ",
    "eval ",
    "source ",
    "python ",
    "pytest ",
)
FENCE = re.compile(r"^```(.*)$")
FAILED_MARK = "::command-failed::"


@dataclass(frozen=True)
class Command:
    text: str
    source: str  # page:line, or "demo output"

    @property
    def until_interrupted(self) -> bool:
        return UNTIL_INTERRUPTED in self.text


@dataclass(frozen=True)
class Block:
    source: str  # page:line of the opening fence
    commands: tuple[Command, ...]
    aws_only: bool


def _fenced(markdown: str) -> list[tuple[int, str, list[str]]]:
    """(line number of the opening fence, its tag, the block's lines) for every fenced block."""
    blocks: list[tuple[int, str, list[str]]] = []
    current: tuple[int, str, list[str]] | None = None
    for number, line in enumerate(markdown.splitlines(), start=1):
        fence = FENCE.match(line.strip())
        if fence and current is None:
            current = (number, fence.group(1).strip(), [])
        elif fence and current is not None:
            blocks.append(current)
            current = None
        elif current is not None:
            current[2].append(line)
    return blocks


def logical_lines(lines: list[str], source: str, first_line: int) -> tuple[Command, ...]:
    """One Command per logical line; comment-only and blank lines dropped; `\\` continues a line."""
    commands: list[Command] = []
    pending: list[str] = []
    start = first_line
    for offset, line in enumerate(lines):
        if not pending:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            start = first_line + offset
        pending.append(line)
        if line.rstrip().endswith("\\"):
            continue
        commands.append(Command("\n".join(pending).strip(), f"{source}:{start}"))
        pending = []
    if pending:
        commands.append(Command("\n".join(pending).strip(), f"{source}:{start}"))
    return tuple(commands)


def bash_blocks(markdown: str, page: str) -> list[Block]:
    blocks = []
    for number, tag, lines in _fenced(markdown):
        if tag != "bash":
            continue
        first = next((line.strip() for line in lines if line.strip()), "")
        blocks.append(Block(f"{page}:{number}", logical_lines(lines, page, number + 1), bool(AWS_ONLY.match(first))))
    return blocks


def untagged_commands(markdown: str, page: str) -> list[str]:
    """page:line of every fenced block not tagged bash whose first line reads like a command."""
    found = []
    for number, tag, lines in _fenced(markdown):
        first = next((line.strip() for line in lines if line.strip() and not line.strip().startswith("#")), "")
        if tag != "bash" and first.startswith(COMMAND_STARTS):
            found.append(f"{page}:{number} (```{tag}): {first[:80]}")
    return found


def prompt_commands(output: str, source: str = "demo output") -> list[Command]:
    """The `$ ` lines of a program's output, without the prompt."""
    return [
        Command(line.strip()[2:], f"{source}: {line.strip()}")
        for line in output.splitlines()
        if line.strip().startswith("$ ")
    ]


@dataclass
class Outcome:
    command: Command
    code: int | None
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.code == 0

    def describe(self) -> str:
        return f"{self.command.source}: `{self.command.text}` exited {self.code}:\n{self.output[-3000:]}"


def run_commands(commands: tuple[Command, ...], env: dict[str, str], cwd: Path, timeout: float) -> list[Outcome]:
    """The commands in one bash, in order, as pasted: each one's exit status is checked before the next runs (a
    failure stops the rest, as it would stop a person). Commands that run until Ctrl-C are run on their own."""
    outcomes: list[Outcome] = []
    batch: list[Command] = []
    for command in commands:
        if command.until_interrupted:
            outcomes += _run_batch(batch, env, cwd, timeout)
            batch = []
            if outcomes and not outcomes[-1].ok:
                return outcomes
            outcomes.append(run_until_interrupted(command, env, cwd, timeout))
        else:
            batch.append(command)
    return outcomes + _run_batch(batch, env, cwd, timeout)


def _run_batch(commands: list[Command], env: dict[str, str], cwd: Path, timeout: float) -> list[Outcome]:
    if not commands:
        return []
    script = ["set -o pipefail"]
    for index, command in enumerate(commands):
        check = f'[ "$__status" -eq 0 ] || {{ echo "{FAILED_MARK}{index}:$__status"; exit 97; }}'
        script += [command.text, f"__status=$?; {check}"]
    started = time.monotonic()
    try:
        result = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        output = _text(exc.stdout) + _text(exc.stderr)
        return [Outcome(Command("; ".join(c.text for c in commands), commands[0].source), None, output, timeout)]
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    failed = re.search(re.escape(FAILED_MARK) + r"(\d+):(\d+)", result.stdout)
    if failed:
        index, code = int(failed.group(1)), int(failed.group(2))
        return [Outcome(c, 0, "", 0.0) for c in commands[:index]] + [Outcome(commands[index], code, output, seconds)]
    if result.returncode != 0:  # the shell itself failed (a syntax error in a block)
        return [Outcome(commands[0], result.returncode, output, seconds)]
    return [Outcome(command, 0, output, seconds) for command in commands]


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_until_interrupted(command: Command, env: dict[str, str], cwd: Path, timeout: float) -> Outcome:
    """Start it; once it has printed a line, check it still runs, then Ctrl-C: it must stop cleanly."""
    started = time.monotonic()
    process = subprocess.Popen(
        ["bash", "-c", f"exec {command.text}"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
        # as a terminal would: Ctrl-C reaches it even when this test runs as a background job, whose shell started
        # it with SIGINT ignored (inherited, and then Python installs no KeyboardInterrupt handler)
        preexec_fn=_interruptible,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_into, args=(process, lines), daemon=True).start()
    try:
        first = lines.get(timeout=timeout)  # it printed, or ended ("" at the end of its output)
    except queue.Empty:
        first = ""
    running = bool(first) and _still_running(process, seconds=1.0)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return Outcome(command, None, first + _drain(lines) + "\n(did not stop on Ctrl-C)", time.monotonic() - started)
    output = first + _drain(lines) if first else ""
    if not first:
        output += f"\n(printed nothing within {timeout:.0f} s)"
    # a clean stop on SIGINT: exit 0, or 130 / -SIGINT as a shell reports an interrupted program
    stopped_cleanly = process.returncode in (0, 130, -signal.SIGINT) and "Traceback" not in output
    code = 0 if running and stopped_cleanly else (process.returncode if process.returncode else 1)
    if not running:
        output += "\n(it ended by itself: a command marked `# until Ctrl-C` must keep running)"
    return Outcome(command, code, output, time.monotonic() - started)


def _read_into(process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)
    lines.put("")  # the end of the output


def _drain(lines: queue.Queue[str], seconds: float = 5.0) -> str:
    """What the reader collected until the end of the output (or `seconds`)."""
    collected = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line == "":
            break
        collected.append(line)
    return "".join(collected)


def _still_running(process: subprocess.Popen[str], seconds: float) -> bool:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return True
    return False


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value
