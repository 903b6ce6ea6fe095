"""`restaurant-pipeline sql` fits the terminal: a table when it fits, else one block per record (psql's `\\x auto`),
values never cut; a missing statement is a usage error; a bad statement is one line naming the tables."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from restaurant_pipeline import cli
from restaurant_pipeline.local.stack import StatePaths
from restaurant_pipeline.warehouse import ATHENA_READ_ONLY_STATEMENTS, SqlError, check_read_only, first_keyword

ADDRESS = "12 rue de la République, 69002 Lyon, France (entrée par la cour, deuxième porte à gauche)"
COLUMNS = ["name", "formatted_address", *(f"attribute_{i:02d}" for i in range(31))]  # 33, as the restaurants mart


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A state folder with a warehouse and no running stack: `sql` reads the marts all the same."""
    warehouse = StatePaths(tmp_path).warehouse
    warehouse.parent.mkdir(parents=True)
    connection = duckdb.connect(str(warehouse))
    columns = ", ".join(f"{name} varchar" for name in COLUMNS)
    connection.execute(f"create table restaurants ({columns})")
    connection.execute("create table city_daily_summary (city varchar, restaurants_seen integer)")
    values = ["Chez Nous", ADDRESS, *(f"value {i}" for i in range(31))]
    connection.execute(f"insert into restaurants values ({', '.join('?' for _ in COLUMNS)})", values)
    connection.execute("insert into city_daily_summary values ('Lyon', 20)")
    connection.close()
    return tmp_path


def sql(state_dir: Path, *args: str, width: int = 80):
    return CliRunner().invoke(cli.app, ["sql", "--state-dir", str(state_dir), *args], env={"COLUMNS": str(width)})


def single_error_line(result) -> str:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize("width", [80, 200])
def test_a_table_too_wide_for_the_terminal_prints_one_block_per_record_with_every_value_whole(state_dir, width):
    result = sql(state_dir, "select * from restaurants limit 2", width=width)

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("-[ RECORD 1 ]-")
    assert f"formatted_address | {ADDRESS}" in lines
    assert "name              | Chez Nous" in lines
    assert [line.split(" | ")[0].strip() for line in lines[1:]] == COLUMNS
    assert "…" not in result.output


def test_a_table_that_fits_stays_a_table_either_layout_can_be_forced_and_json_csv_ignore_layout(state_dir):
    narrow = "select city, restaurants_seen from city_daily_summary"

    assert "┃ city ┃" in sql(state_dir, narrow).output  # auto: it fits
    assert sql(state_dir, narrow, "--expanded").output.splitlines()[1:] == [
        "city             | Lyon",
        "restaurants_seen | 20",
    ]
    forced = sql(state_dir, "select * from restaurants", "--no-expanded", width=400)
    assert "RECORD" not in forced.output and "┃ name" in forced.output
    as_json = sql(state_dir, "select name, formatted_address from restaurants", "--json", "--expanded", width=20)
    assert json.loads(as_json.output) == [{"name": "Chez Nous", "formatted_address": ADDRESS}]
    assert sql(state_dir, "select name from restaurants", "--csv", width=20).output == "name\nChez Nous\n"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ([], 'pass a statement: restaurant-pipeline sql "select'),
        (["   "], 'the statement is empty; pass a statement: restaurant-pipeline sql "select'),
        (["select 1", "--file", "query.sql"], "pass a statement or --file query.sql, not both"),
    ],
    ids=["nothing", "blank", "both"],
)
def test_a_missing_statement_is_a_usage_error_naming_what_to_pass(state_dir, args, says):
    result = sql(state_dir, *args)

    assert result.exit_code == 2
    line = single_error_line(result)
    assert line.startswith(f"error: {says}") and "--file query.sql" in line


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("select * from restaurantz", 'Catalog Error: Table with name restaurantz does not exist! Did you mean "'),
        ("selec * form restaurants", 'Parser Error: syntax error at or near "selec"'),
        ("select rating from restaurants", 'Binder Error: Referenced column "rating" not found'),
    ],
)
def test_a_bad_statement_is_one_line_with_duckdbs_message_and_the_tables_there_are(state_dir, statement, message):
    result = sql(state_dir, statement)

    assert result.exit_code == 1
    line = single_error_line(result)
    assert line.startswith(f"error: {message}")
    assert line.endswith(
        '(tables: city_daily_summary, restaurants; their columns: restaurant-pipeline sql "describe restaurants")'
    )


@pytest.mark.parametrize(
    ("statement", "keyword"),
    [
        ("/* a note */ -- another\n  (SELECT 1)", "select"),
        ("with x as (select 1) select * from x", "with"),
        ("-- only a comment", ""),
        ("/* tidy up */ drop table restaurants", "drop"),
    ],
)
def test_athena_is_sent_only_statements_whose_first_word_reads(statement, keyword):
    assert first_keyword(statement) == keyword
    if keyword in ATHENA_READ_ONLY_STATEMENTS:
        check_read_only(statement)
    else:
        with pytest.raises(SqlError, match=f"this one starts with {keyword or 'nothing'!r}"):
            check_read_only(statement)
