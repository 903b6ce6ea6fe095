"""How the CLI prints: consoles that never cut a line when the output is not a terminal, and rows as a table,
JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

# Output into a pipe or a file is not wrapped: a printed command must stay whole to be pasted (rich would fold it
# at 80 columns). Wide enough for any line; nothing pads to it (our tables and panels fit their content).
UNWRAPPED_WIDTH = 4096

RowFormat = Literal["table", "json", "csv"]


def console_for(stream: TextIO | None = None, *, stderr: bool = False) -> Console:
    """A rich Console on stdout (or stderr): the terminal's width on a terminal; COLUMNS when set; else no wrapping."""
    target = stream or (sys.stderr if stderr else sys.stdout)
    width = None
    if not _is_terminal(target) and not os.environ.get("COLUMNS"):
        width = UNWRAPPED_WIDTH
    return Console(file=stream, stderr=stderr, width=width)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def to_json(value: Any) -> str:
    """JSON for people and programs: indented; decimals as numbers; dates, times and paths as strings."""
    return json.dumps(value, indent=2, default=_plain, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    return str(value)


def records(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def rows_as_csv(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if value is None else value for value in row] for row in rows])
    return buffer.getvalue()


def rows_as_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*[Text("NULL", style="dim") if value is None else Text(str(value)) for value in row])
    return table


def print_rows(
    console: Console, columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: RowFormat, title: str | None = None
) -> None:
    if fmt == "json":
        console.file.write(to_json(records(columns, rows)) + "\n")
    elif fmt == "csv":
        console.file.write(rows_as_csv(columns, rows))
    elif not columns:
        console.print("(the statement returned no result set)")
    else:
        console.print(rows_as_table(columns, rows, title))
        if not rows:
            console.print("(no rows)")
