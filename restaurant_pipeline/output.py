"""How the CLI prints: consoles that never cut a line when the output is not a terminal, and rows as a table,
one block per record when a table would not fit (psql's `\\x auto`), JSON or CSV."""

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
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

# Output into a pipe or a file is not wrapped: a printed command must stay whole to be pasted (rich would fold it
# at 80 columns). Wide enough for any line; nothing pads to it (our tables and panels fit their content).
UNWRAPPED_WIDTH = 4096

RowFormat = Literal["table", "json", "csv"]
NULL = "NULL"


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
        table.add_row(*[_cell(value) for value in row])
    return table


def _cell(value: Any) -> Text:
    return Text(NULL, style="dim") if value is None else Text(str(value))


def fits(console: Console, table: Table) -> bool:
    """Whether the table's natural width (every value whole, on one line) fits the console's width."""
    natural = Measurement.get(console, console.options.update(max_width=UNWRAPPED_WIDTH * 16), table)
    return natural.maximum <= console.width


def rows_as_records(columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int | None = None) -> list[Text]:
    """One block per row, as psql's expanded display: a `-[ RECORD n ]` rule, then `column | value` lines.

    Values are whole (a long one runs on; a value's own line breaks continue under the bar), so nothing is cut.
    The rule is as long as the longest value, up to `width`.
    """
    label_width = max((len(column) for column in columns), default=0)
    value_width = max((len(line) for row in rows for v in row for line in _lines(v)), default=0)
    blocks = []
    for number, row in enumerate(rows, start=1):
        rule = f"-[ RECORD {number} ]".ljust(label_width + 1, "-")
        dashes = value_width + 1 if width is None else min(value_width + 1, width - len(rule) - 1)
        block = Text(rule + "+" + "-" * dashes if len(rule) <= label_width + 1 else rule, style="dim")
        for column, value in zip(columns, row, strict=True):
            for index, line in enumerate(_lines(value)):
                block.append("\n")
                block.append(f"{column if index == 0 else '':<{label_width}} | ")
                block.append(line, style="dim" if value is None else "")
        blocks.append(block)
    return blocks


def _lines(value: Any) -> list[str]:
    return [NULL] if value is None else str(value).splitlines() or [""]


def print_rows(
    console: Console,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: RowFormat,
    title: str | None = None,
    expanded: bool | None = False,
) -> None:
    """Rows as `fmt`. A table is printed one record per block when `expanded` is True, or when it is None (auto)
    and the table would not fit the console's width."""
    if fmt == "json":
        console.file.write(to_json(records(columns, rows)) + "\n")
    elif fmt == "csv":
        console.file.write(rows_as_csv(columns, rows))
    elif not columns:
        console.print("(the statement returned no result set)")
    else:
        table = rows_as_table(columns, rows, title)
        if rows and (expanded or (expanded is None and not fits(console, table))):
            if title:
                console.print(title, highlight=False, markup=False)
            for block in rows_as_records(columns, rows, console.width):
                # soft wrap: a value longer than the line is folded by the terminal, never cut or re-flowed
                console.print(block, soft_wrap=True, highlight=False)
            return
        console.print(table)
        if not rows:
            console.print("(no rows)")
