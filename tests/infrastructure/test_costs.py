"""One cost figure everywhere: docs/aws.md's table and README's sentence are what tests/support/costs.py derives from
the synthesized template, so neither can drift from the stack (nor from each other)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infrastructure.conftest import Synthesized
from tests.support import costs

REPO_ROOT = Path(__file__).resolve().parents[2]
PASTE = "paste the output of `.venv/bin/python -m tests.support.costs` there"


def section(path: Path, heading: str) -> str:
    """The text under `heading` up to the next heading of the same or a higher level."""
    text = path.read_text(encoding="utf-8")
    level = heading.split(" ", 1)[0]
    start = text.index(heading + "\n")
    following = re.compile(rf"^#{{1,{len(level)}}} ", re.MULTILINE)
    found = following.search(text, start + len(heading) + 1)
    return text[start : found.start() if found else len(text)]


def test_docs_aws_md_states_the_cost_table_the_template_gives(default_stack: Synthesized):
    table = costs.cost_table(costs.default_lines(default_stack.template))
    text = section(REPO_ROOT / "docs" / "aws.md", "## What it costs (default configuration)")
    assert table in text, f"docs/aws.md's cost table is not what the template gives: {PASTE}:\n{table}"


def test_the_readme_states_the_same_total_and_breakdown(default_stack: Synthesized):
    lines = costs.default_lines(default_stack.template)
    sentence = costs.readme_sentence(lines)
    text = " ".join(section(REPO_ROOT / "README.md", "### What it costs").split())
    assert sentence in text, f"README's cost sentence is not the table's: {PASTE}:\n{sentence}"
    billed, list_price = costs.totals(lines)
    aws_md = " ".join(section(REPO_ROOT / "docs" / "aws.md", "## What it costs (default configuration)").split())
    assert f"**About {costs.dollars(billed)} a month on AWS**" in aws_md
    assert f"**{costs.dollars(list_price)}** where other workloads already use them" in aws_md


def test_the_athena_queries_the_prose_counts_are_the_counted_ones():
    """Both pages spell out the queries of a run; the counts are tests/support/costs.py's (counted against moto)."""
    from services.transformer.domain.model import MARTS

    dbt, email = costs.ATHENA_DBT_QUERIES_PER_BUILD, costs.ATHENA_EMAIL_QUERIES_PER_RUN
    readme = " ".join(section(REPO_ROOT / "README.md", "### What it costs").split())
    assert f"Athena bills {dbt + email} queries a run ({dbt} in the dbt build, {email} for the email)" in readme
    aws_md = " ".join(section(REPO_ROOT / "docs" / "aws.md", "## What it costs (default configuration)").split())
    assert f"Athena bills {dbt + email} queries a run" in aws_md
    assert f"{dbt} in the dbt build (the SELECT of each of the {dbt - 3 * len(MARTS)} data tests" in aws_md
    assert f"and {email} for the email" in aws_md


def test_the_counts_are_read_from_the_template(default_stack: Synthesized, changed_stack: Synthesized):
    """The changed stack (tests/infrastructure/conftest.py: rate(12 hours), no dashboard, no tracing) counts
    differently, and each count is the template's own."""
    default = costs.template_counts(default_stack.template)
    changed = costs.template_counts(changed_stack.template)

    resources = default_stack.template["Resources"].values()
    mappings = [r for r in resources if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert default.polled_standard_queues + default.polled_fifo_queues == len(mappings) > 0
    assert (
        default.polled_fifo_queues == 1
    )  # the transformer's (restaurant_pipeline/model/topology.py); no mapping polls a DLQ
    assert default.metric_alarms == len(default_stack.resources("AWS::CloudWatch::Alarm")) > costs.FREE_ALARM_METRICS
    assert default.kms_keys == default.secrets == default.dashboards == default.composite_alarms == 1
    assert default.runs_per_month == costs.DAYS_PER_MONTH  # cron(0 8 * * ? *): daily

    assert changed.runs_per_month == 2 * costs.DAYS_PER_MONTH
    assert (changed.dashboards, changed.tracing, default.tracing) == (0, False, True)
    changed_lines = {line.item: line for line in costs.monthly_lines(changed, costs.metric_names())}
    default_lines = {line.item: line for line in costs.default_lines(default_stack.template)}
    assert changed_lines["Athena"].billed == pytest.approx(2 * default_lines["Athena"].billed)
    assert "X-Ray" in default_lines and "X-Ray" not in changed_lines


def test_the_idle_polling_of_the_event_source_mappings_is_most_of_the_sqs_line(default_stack: Synthesized):
    counts = costs.template_counts(default_stack.template)
    polls_per_queue = 30 * 86_400 // 20 * 5  # five long polls of 20 s at a time, all month
    assert polls_per_queue == 648_000
    (sqs,) = [line for line in costs.default_lines(default_stack.template) if line.item == "SQS"]
    standard, fifo = counts.polled_standard_queues * polls_per_queue, counts.polled_fifo_queues * polls_per_queue
    assert sqs.list_price == pytest.approx((standard * 0.40 + fifo * 0.50) / 1e6)
    assert sqs.billed == pytest.approx(((standard - 1_000_000) * 0.40 + fifo * 0.50) / 1e6)


def test_every_price_cites_an_aws_page(default_stack: Synthesized):
    for line in costs.default_lines(default_stack.template):
        links = re.findall(r"\]\((https://[^)]+)\)", line.price)
        assert links and all(link.startswith("https://aws.amazon.com/") for link in links), line.item


@pytest.mark.parametrize(
    ("sql", "billed"),
    [
        ('create or replace view "db"."v" as select 1', False),
        ("drop table if exists db.t", False),
        ("alter table db.t rename to db.u", False),
        ("select count(*) from db.t", True),
        ("with x as (select 1) select * from x", True),
        ("create table db.t with (table_type='iceberg') as select 1", True),
        ('merge into "db"."t" as target using "db"."s" as src on 1 = 1', True),
    ],
)
def test_athena_bills_dml_not_ddl(sql: str, billed: bool):
    assert costs.athena_statement_billed(sql) is billed


def test_a_statement_of_unknown_kind_is_not_guessed():
    with pytest.raises(ValueError, match="not known to be DDL or DML"):
        costs.athena_statement_billed("call system.rewrite_data_files('t')")
