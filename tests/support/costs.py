"""What the default configuration costs a month on AWS: what the synthesized template deploys, at AWS's list prices.

The one source of the cost figures in docs/aws.md ("What it costs") and README.md:
- counted from the template (tests/support/synth.py synthesizes it without Docker or network): customer managed KMS
  keys, secrets, metric and composite alarms, dashboards (and their metrics), the queues the Lambda event source
  mappings poll (standard or FIFO), the functions and their memory, the schedule and how often it fires;
- counted against moto: the Athena queries of a daily build, dbt's and the email's
  (tests/integration/transformer/test_athena_queries.py fails when the constants below are not what a build issues);
- assumed, and named as such: what no template says (how long a function runs, how many S3 requests Athena makes).

tests/infrastructure/test_costs.py renders the table and the README's sentence from here and fails when the docs say
anything else. After a change: `.venv/bin/python -m tests.support.costs` prints both, to paste.

Prices are AWS's public list prices for us-east-1 (Paris, the default region, is the same or up to ~20 % higher for
some items), each with the page it comes from. "Free" means the always-free monthly allowances (not the 12-month
offer), which the account shares with whatever else runs in it: the table gives both, with and without them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# --- what a build issues (counted against moto by tests/integration/transformer/test_athena_queries.py) -----------

# Billed Athena statements of one daily (incremental) `dbt build`: each data test's SELECT (the test itself is kept as a
# view: DDL, not billed), and per incremental mart the CTAS of its temporary table, the MERGE and dbt-athena's
# closing SELECT. The views (staging, tests) and DROPs are DDL.
ATHENA_DBT_QUERIES_PER_BUILD = 49
# The email's queries after a passing build (services/transformer/adapters/marts.py): the marts' row counts, then per
# build the day's summaries, the top rated, the new places and rating movers, the 14-day trend.
ATHENA_EMAIL_QUERIES_PER_RUN = 5
ATHENA_QUERIES_PER_RUN = ATHENA_DBT_QUERIES_PER_BUILD + ATHENA_EMAIL_QUERIES_PER_RUN
# Glue Data Catalog requests of one daily build, at most: dbt-athena's own and those Athena makes for each DDL
# statement (tests/support/athena_ddl.py, from Athena's documentation).
GLUE_REQUESTS_PER_BUILD_AT_MOST = 500  # 376 counted (150 dbt-athena, 226 Athena for its DDL)

# Athena bills DML (SELECT, CTAS, INSERT, MERGE ...) by the data scanned, at least 10 MB a query, and never DDL
# (CREATE/ALTER/DROP of tables and views, partitions): Athena's pricing page and its StatementType (DDL, DML, UTILITY).
_ATHENA_DDL = re.compile(
    r"^(create\s+(or\s+replace\s+)?view|create\s+(schema|database)|create\s+external\s+table|drop|alter|msck)\b"
)
_ATHENA_BILLED = re.compile(
    r"^(select|with|create\s+table\b.*\bas\b|insert|merge|update|delete|optimize|vacuum)\b", re.S
)


def athena_statement_billed(sql: str) -> bool:
    """Whether Athena bills a statement (its text without dbt's leading comment); an unknown kind raises."""
    text = " ".join(sql.split()).lower()
    if _ATHENA_DDL.match(text):
        return False
    if _ATHENA_BILLED.match(text):
        return True
    raise ValueError(f"not known to be DDL or DML, say which in tests/support/costs.py: {text[:120]}")


# --- assumptions (no template says them) ---------------------------------------------------------------------------

DAYS_PER_MONTH = 30
HOURS_PER_MONTH = 730  # how AWS prorates per-hour charges (CloudWatch custom metrics)
# Seconds billed per run, cold start included; not measured on AWS. The transformer's is dominated by its ~90 Athena
# statements, 4 at a time (dbt/profiles.yml threads).
SECONDS_PER_RUN = {"collector": 10, "transformer": 120, "notifier": 2}
INVOCATIONS_PER_RUN = {"collector": 1, "transformer": 1, "notifier": 1}
# S3 requests per run: the functions' own and Athena's reads and writes of table data, Iceberg metadata and query
# results (Athena's are not recorded here: an estimate from ~55 billed queries and 4 Iceberg commits).
S3_WRITES_PER_RUN = 150  # PUT, COPY, POST, LIST
S3_READS_PER_RUN = 400  # GET
S3_STORED_GB = 0.1
EMAILS_PER_RUN = 1
KMS_REQUESTS_PER_RUN = 10  # SNS asks the topic's key for each publish (the email, an alarm's now and then)
CUSTOM_EVENTS_PER_RUN = 3  # Collection Requested, Collection Completed, Transform Completed (S3's events are free)
DYNAMODB_WRITES_PER_RUN = 30  # ledger steps, idempotency records
LOG_GB_PER_RUN = 0.0002  # ~200 KB of JSON log lines
# Lambda's SQS event source mapping long-polls each queue with five concurrent pollers when idle; the optimization
# down to two is "not available when you enable the maximum concurrency setting", which every mapping here sets.
# Each empty long poll lasts at most 20 s (SQS's maximum wait time). AWS documents the five for standard queues; the
# transformer's FIFO queue is assumed polled the same way.
SQS_POLLERS_PER_MAPPING = 5
SQS_LONG_POLL_SECONDS = 20

# --- list prices, us-east-1 ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    name: str
    url: str


KMS = Source("KMS pricing", "https://aws.amazon.com/kms/pricing/")
SECRETS = Source("Secrets Manager pricing", "https://aws.amazon.com/secrets-manager/pricing/")
CLOUDWATCH = Source("CloudWatch pricing", "https://aws.amazon.com/cloudwatch/pricing/")
SQS = Source("SQS pricing", "https://aws.amazon.com/sqs/pricing/")
LAMBDA_SQS_SCALING = Source(
    "Lambda: scaling of SQS event source mappings",
    "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
)
SQS_LONG_POLLING = Source(
    "SQS long polling",
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/best-practices-setting-up-long-polling.html",
)
LAMBDA = Source("Lambda pricing", "https://aws.amazon.com/lambda/pricing/")
ATHENA = Source("Athena pricing", "https://aws.amazon.com/athena/pricing/")
ATHENA_STATEMENT_TYPES = Source(
    "Athena statement types", "https://docs.aws.amazon.com/athena/latest/APIReference/API_QueryExecution.html"
)
GLUE = Source("Glue pricing", "https://aws.amazon.com/glue/pricing/")
S3 = Source("S3 pricing", "https://aws.amazon.com/s3/pricing/")
DYNAMODB = Source("DynamoDB on-demand pricing", "https://aws.amazon.com/dynamodb/pricing/on-demand/")
EVENTBRIDGE = Source("EventBridge pricing", "https://aws.amazon.com/eventbridge/pricing/")
SNS = Source("SNS pricing", "https://aws.amazon.com/sns/pricing/")
XRAY = Source("X-Ray pricing", "https://aws.amazon.com/xray/pricing/")

KMS_KEY_MONTH = 1.00  # each newly generated backing key (a yearly rotation) adds $1/month: the first year's figure
KMS_PER_10K_REQUESTS, KMS_FREE_REQUESTS = 0.03, 20_000
SECRET_MONTH, SECRETS_PER_10K_CALLS = 0.40, 0.05
ALARM_METRIC_MONTH, FREE_ALARM_METRICS = 0.10, 10  # standard resolution, per metric an alarm evaluates
COMPOSITE_ALARM_MONTH = 0.50
DASHBOARD_MONTH, FREE_DASHBOARDS, FREE_DASHBOARD_METRICS = 3.00, 3, 50
CUSTOM_METRIC_MONTH, FREE_CUSTOM_METRICS = 0.30, 10  # prorated by the hour the metric is sent
LOGS_PER_GB, FREE_LOG_GB = 0.50, 5
SQS_STANDARD_PER_M, SQS_FIFO_PER_M, SQS_FREE_REQUESTS = 0.40, 0.50, 1_000_000
LAMBDA_ARM_PER_GB_S, LAMBDA_PER_M_REQUESTS = 0.0000133334, 0.20
LAMBDA_FREE_GB_S, LAMBDA_FREE_REQUESTS = 400_000, 1_000_000
ATHENA_PER_TB, ATHENA_MINIMUM_MB = 5.00, 10
MB_PER_TB = 1_000_000  # decimal: the higher of the two readings of "TB"
GLUE_PER_M_REQUESTS, GLUE_FREE_REQUESTS = 1.00, 1_000_000
S3_GB_MONTH, S3_PER_1K_WRITES, S3_PER_1K_READS = 0.023, 0.005, 0.0004
DYNAMODB_PER_M_WRITES = 0.625
EVENTBRIDGE_PER_M_EVENTS = 1.00
SCHEDULER_PER_M, SCHEDULER_FREE = 1.00, 14_000_000
SNS_EMAIL_PER_100K, SNS_FREE_EMAILS = 2.00, 1_000
XRAY_PER_M_TRACES, XRAY_FREE_TRACES = 5.00, 100_000


# --- what the template deploys ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateCounts:
    kms_keys: int
    kms_keys_rotated: int
    secrets: int
    metric_alarms: int
    alarm_metrics: int  # what alarms are billed by: one per metric an alarm evaluates
    composite_alarms: int
    dashboards: int
    dashboard_metrics: tuple[int, ...]  # per dashboard
    polled_standard_queues: int  # queues a Lambda event source mapping polls
    polled_fifo_queues: int
    function_memory_mb: Mapping[str, int]  # service -> MemorySize
    dynamodb_tables: int
    tracing: bool
    runs_per_month: int


def template_counts(template: Mapping[str, Any]) -> TemplateCounts:
    resources: Mapping[str, Mapping[str, Any]] = template["Resources"]

    def of_type(kind: str) -> list[Mapping[str, Any]]:
        return [resource.get("Properties", {}) for resource in resources.values() if resource["Type"] == kind]

    alarms = of_type("AWS::CloudWatch::Alarm")
    standard = fifo = 0
    for mapping in of_type("AWS::Lambda::EventSourceMapping"):
        queue = resources[mapping["EventSourceArn"]["Fn::GetAtt"][0]]
        if queue["Type"] != "AWS::SQS::Queue":
            continue
        if queue["Properties"].get("FifoQueue"):
            fifo += 1
        else:
            standard += 1
    functions = of_type("AWS::Lambda::Function")
    (schedule,) = of_type("AWS::Scheduler::Schedule")
    return TemplateCounts(
        kms_keys=len(of_type("AWS::KMS::Key")),
        kms_keys_rotated=sum(1 for key in of_type("AWS::KMS::Key") if key.get("EnableKeyRotation")),
        secrets=len(of_type("AWS::SecretsManager::Secret")),
        metric_alarms=len(alarms),
        alarm_metrics=sum(_alarm_metrics(alarm) for alarm in alarms),
        composite_alarms=len(of_type("AWS::CloudWatch::CompositeAlarm")),
        dashboards=len(of_type("AWS::CloudWatch::Dashboard")),
        dashboard_metrics=tuple(_dashboard_metrics(p["DashboardBody"]) for p in of_type("AWS::CloudWatch::Dashboard")),
        polled_standard_queues=standard,
        polled_fifo_queues=fifo,
        function_memory_mb={
            str(function["FunctionName"]).rsplit("-", 1)[-1]: int(function["MemorySize"]) for function in functions
        },
        dynamodb_tables=len(of_type("AWS::DynamoDB::Table")),
        tracing=all(function.get("TracingConfig", {}).get("Mode") == "Active" for function in functions),
        runs_per_month=runs_per_month(str(schedule["ScheduleExpression"])),
    )


def _alarm_metrics(alarm: Mapping[str, Any]) -> int:
    """A metric alarm is billed per metric it evaluates: one, or each metric of its math expression."""
    if "Metrics" not in alarm:
        return 1
    return sum(1 for query in alarm["Metrics"] if "MetricStat" in query)


def _dashboard_metrics(body: Any) -> int:
    """Metrics on a dashboard's graphs (the free dashboards hold up to 50 each); the body's references are names."""
    if isinstance(body, Mapping) and "Fn::Join" in body:
        body = "".join(part if isinstance(part, str) else "reference" for part in body["Fn::Join"][1])
    widgets = json.loads(str(body))["widgets"]
    return sum(len(widget.get("properties", {}).get("metrics", [])) for widget in widgets)


def runs_per_month(expression: str) -> int:
    """How often the schedule fires in a month of DAYS_PER_MONTH days (from a fixed start: the same every time)."""
    from restaurant_pipeline.model.schedule import parse_schedule

    schedule = parse_schedule(expression)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    end = start + timedelta(days=DAYS_PER_MONTH)
    count, moment = 0, schedule.next_after(start - timedelta(microseconds=1))
    while moment < end:
        count += 1
        moment = schedule.next_after(moment)
    return count


# --- the month --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    item: str
    usage: str  # what is counted, and where it comes from
    price: str  # the list price and the always-free allowance, with the page it comes from
    billed: float  # USD a month, the always-free allowances applied (nothing else in the account uses them)
    list_price: float  # USD a month without them


def _link(text: str, source: Source) -> str:
    return f"[{text}]({source.url})"


def monthly_lines(counts: TemplateCounts, metric_names: int) -> list[Line]:
    """The month of the default configuration, item by item. `metric_names`: the custom metrics the services may
    emit (services.common.names.Metric, plus Powertools' ColdStart per function), each sent about once a day."""
    runs = counts.runs_per_month
    lines: list[Line] = []

    lines.append(
        Line(
            "KMS",
            f"{counts.kms_keys} customer managed key (the topic's), {counts.kms_keys_rotated} rotated yearly; "
            "a few requests per email",
            _link("$1.00/key-month", KMS) + "; $0.03/10,000 requests, 20,000 free; each yearly rotation adds $1/month",
            counts.kms_keys * KMS_KEY_MONTH,
            counts.kms_keys * KMS_KEY_MONTH + runs * KMS_REQUESTS_PER_RUN * KMS_PER_10K_REQUESTS / 10_000,
        )
    )
    secret_calls = runs  # the collector reads the key once per run
    secrets = counts.secrets * SECRET_MONTH + secret_calls * SECRETS_PER_10K_CALLS / 10_000
    lines.append(
        Line(
            "Secrets Manager",
            f"{counts.secrets} secret (the Places key), ~{secret_calls} reads",
            _link("$0.40/secret-month", SECRETS) + ", $0.05/10,000 calls",
            secrets,
            secrets,
        )
    )
    lines.append(
        Line(
            "CloudWatch alarms",
            f"{counts.metric_alarms} metric alarms ({counts.alarm_metrics} metrics), standard resolution",
            _link("$0.10/alarm metric-month", CLOUDWATCH) + f", {FREE_ALARM_METRICS} free",
            max(0, counts.alarm_metrics - FREE_ALARM_METRICS) * ALARM_METRIC_MONTH,
            counts.alarm_metrics * ALARM_METRIC_MONTH,
        )
    )
    lines.append(
        Line(
            "CloudWatch composite alarm",
            f"{counts.composite_alarms} (no successful run in 26 h)",
            _link("$0.50/alarm-month", CLOUDWATCH),
            counts.composite_alarms * COMPOSITE_ALARM_MONTH,
            counts.composite_alarms * COMPOSITE_ALARM_MONTH,
        )
    )
    free_dashboards = sum(1 for n in counts.dashboard_metrics if n <= FREE_DASHBOARD_METRICS)
    metrics = ", ".join(str(n) for n in counts.dashboard_metrics)
    lines.append(
        Line(
            "CloudWatch dashboard",
            f"{counts.dashboards} dashboard ({metrics} metrics)",
            _link("$3.00/dashboard-month", CLOUDWATCH)
            + f", {FREE_DASHBOARDS} free of up to {FREE_DASHBOARD_METRICS} metrics",
            (counts.dashboards - min(free_dashboards, FREE_DASHBOARDS)) * DASHBOARD_MONTH,
            counts.dashboards * DASHBOARD_MONTH,
        )
    )
    metric_months = metric_names * DAYS_PER_MONTH / HOURS_PER_MONTH  # each sent in one hour a day
    lines.append(
        Line(
            "CloudWatch custom metrics",
            f"at most {metric_names} metrics, each sent about once a day",
            _link("$0.30/metric-month", CLOUDWATCH) + f", prorated by the hour; {FREE_CUSTOM_METRICS} free",
            max(0.0, metric_months - FREE_CUSTOM_METRICS) * CUSTOM_METRIC_MONTH,
            metric_months * CUSTOM_METRIC_MONTH,
        )
    )
    log_gb = runs * LOG_GB_PER_RUN
    lines.append(
        Line(
            "CloudWatch Logs",
            f"~{log_gb * 1000:.0f} MB ingested, 30-day retention",
            _link("$0.50/GB ingested", CLOUDWATCH) + f", {FREE_LOG_GB} GB free",
            max(0.0, log_gb - FREE_LOG_GB) * LOGS_PER_GB,
            log_gb * LOGS_PER_GB,
        )
    )
    polls = DAYS_PER_MONTH * 86_400 // SQS_LONG_POLL_SECONDS * SQS_POLLERS_PER_MAPPING  # per polled queue
    standard, fifo = counts.polled_standard_queues * polls, counts.polled_fifo_queues * polls
    free_left = max(0, SQS_FREE_REQUESTS - standard)  # the free requests taken off the cheaper ones first: the higher
    sqs_billed = max(0, standard - SQS_FREE_REQUESTS) * SQS_STANDARD_PER_M + max(0, fifo - free_left) * SQS_FIFO_PER_M
    lines.append(
        Line(
            "SQS",
            f"{counts.polled_standard_queues + counts.polled_fifo_queues} queues polled by Lambda "
            f"({counts.polled_fifo_queues} FIFO), {SQS_POLLERS_PER_MAPPING} long polls of {SQS_LONG_POLL_SECONDS} s "
            f"at a time: {standard + fifo:,} requests ("
            + _link("scaling", LAMBDA_SQS_SCALING)
            + ", "
            + _link("long polling", SQS_LONG_POLLING)
            + "); messages: a few hundred",
            _link("$0.40/M requests, FIFO $0.50/M", SQS) + ", 1M free",
            sqs_billed / 1e6,
            (standard * SQS_STANDARD_PER_M + fifo * SQS_FIFO_PER_M) / 1e6,
        )
    )
    gb_seconds = runs * sum(
        counts.function_memory_mb[service] / 1024 * seconds for service, seconds in SECONDS_PER_RUN.items()
    )
    invocations = runs * sum(INVOCATIONS_PER_RUN.values())
    memory = ", ".join(f"{service} {counts.function_memory_mb[service]} MB" for service in SECONDS_PER_RUN)
    lambda_cost = gb_seconds * LAMBDA_ARM_PER_GB_S + invocations * LAMBDA_PER_M_REQUESTS / 1e6
    lines.append(
        Line(
            "Lambda (arm64)",
            f"{memory}; ~{gb_seconds:,.0f} GB-s (transformer ~{SECONDS_PER_RUN['transformer'] // 60} min a run), "
            f"{invocations} invocations",
            _link("$0.0000133334/GB-s, $0.20/M requests", LAMBDA) + "; 400,000 GB-s and 1M requests free",
            max(0.0, gb_seconds - LAMBDA_FREE_GB_S) * LAMBDA_ARM_PER_GB_S
            + max(0, invocations - LAMBDA_FREE_REQUESTS) * LAMBDA_PER_M_REQUESTS / 1e6,
            lambda_cost,
        )
    )
    scanned_mb = runs * ATHENA_QUERIES_PER_RUN * ATHENA_MINIMUM_MB
    athena = scanned_mb / MB_PER_TB * ATHENA_PER_TB
    lines.append(
        Line(
            "Athena",
            f"{ATHENA_QUERIES_PER_RUN} billed queries a run ({ATHENA_DBT_QUERIES_PER_BUILD} dbt, "
            f"{ATHENA_EMAIL_QUERIES_PER_RUN} email), each under the 10 MB minimum: {scanned_mb / 1000:.1f} GB; "
            + _link("DDL", ATHENA_STATEMENT_TYPES)
            + " (views, drops) free",
            _link("$5/TB scanned, 10 MB minimum per query", ATHENA),
            athena,
            athena,
        )
    )
    glue_requests = runs * GLUE_REQUESTS_PER_BUILD_AT_MOST
    lines.append(
        Line(
            "Glue Data Catalog",
            f"< {GLUE_REQUESTS_PER_BUILD_AT_MOST} requests a build (< {glue_requests:,}), < 100 objects",
            _link("$1/M requests", GLUE) + "; 1M requests and 1M objects free",
            max(0, glue_requests - GLUE_FREE_REQUESTS) * GLUE_PER_M_REQUESTS / 1e6,
            glue_requests * GLUE_PER_M_REQUESTS / 1e6,
        )
    )
    s3 = (
        S3_STORED_GB * S3_GB_MONTH
        + runs * S3_WRITES_PER_RUN * S3_PER_1K_WRITES / 1000
        + runs * S3_READS_PER_RUN * S3_PER_1K_READS / 1000
    )
    lines.append(
        Line(
            "S3",
            f"< {S3_STORED_GB * 1000:.0f} MB; ~{S3_WRITES_PER_RUN} writes and ~{S3_READS_PER_RUN} reads a run "
            "(estimate: Athena's are not counted here)",
            _link("$0.023/GB-month, $0.005/1,000 writes, $0.0004/1,000 reads", S3),
            s3,
            s3,
        )
    )
    dynamodb = runs * DYNAMODB_WRITES_PER_RUN * DYNAMODB_PER_M_WRITES / 1e6
    lines.append(
        Line(
            "DynamoDB",
            f"{counts.dynamodb_tables} on-demand tables, ~{runs * DYNAMODB_WRITES_PER_RUN:,} writes, KBs stored; "
            "point-in-time recovery",
            _link("$0.625/M writes", DYNAMODB) + ", 25 GB free; recovery $0.20/GB-month",
            dynamodb,
            dynamodb,
        )
    )
    events = runs * CUSTOM_EVENTS_PER_RUN
    lines.append(
        Line(
            "EventBridge and Scheduler",
            f"~{events} custom events (S3's are free), archived (KBs); {runs} schedule invocations",
            _link("$1.00/M events", EVENTBRIDGE) + "; Scheduler $1.00/M, 14M free",
            events * EVENTBRIDGE_PER_M_EVENTS / 1e6,
            (events * EVENTBRIDGE_PER_M_EVENTS + runs * SCHEDULER_PER_M) / 1e6,
        )
    )
    emails = runs * EMAILS_PER_RUN
    lines.append(
        Line(
            "SNS",
            f"~{emails} emails",
            _link("$2/100,000 emails", SNS) + ", 1,000 free",
            max(0, emails - SNS_FREE_EMAILS) * SNS_EMAIL_PER_100K / 100_000,
            emails * SNS_EMAIL_PER_100K / 100_000,
        )
    )
    if counts.tracing:
        traces = invocations
        lines.append(
            Line(
                "X-Ray",
                f"~{traces} traces",
                _link("$5/M traces", XRAY) + ", 100,000 free",
                max(0, traces - XRAY_FREE_TRACES) * XRAY_PER_M_TRACES / 1e6,
                traces * XRAY_PER_M_TRACES / 1e6,
            )
        )
    return lines


# --- the words of the docs -------------------------------------------------------------------------------------------


def cents(amount: float) -> float:
    """To the cent, half up (what the table shows)."""
    return math.floor(amount * 100 + 0.5 + 1e-9) / 100


def dollars(amount: float) -> str:
    if amount == 0:
        return "$0"
    if cents(amount) == 0:
        return "< $0.01"
    return f"${cents(amount):.2f}"


def totals(lines: Sequence[Line]) -> tuple[float, float]:
    """(with the always-free allowances, without): the sums of the figures the table shows, so they add up."""
    return cents(sum(cents(line.billed) for line in lines)), cents(sum(cents(line.list_price) for line in lines))


def cost_table(lines: Sequence[Line]) -> str:
    billed, list_price = totals(lines)
    rows = [
        "| Item | In the default stack, a month | List price (us-east-1) | Per month | Without free allowances |",
        "|---|---|---|---|---|",
    ]
    rows += [
        f"| {line.item} | {line.usage} | {line.price} | {dollars(line.billed)} | {dollars(line.list_price)} |"
        for line in lines
    ]
    rows.append(f"| **AWS total** | | | **{dollars(billed)}** | **{dollars(list_price)}** |")
    return "\n".join(rows)


def readme_sentence(lines: Sequence[Line]) -> str:
    """README's summary: the same total, and the items that make most of it."""
    billed, list_price = totals(lines)
    biggest = sorted((line for line in lines if cents(line.billed) > 0), key=lambda line: -line.billed)
    parts = ", ".join(f"{line.item} {dollars(line.billed)}" for line in biggest)
    return (
        f"about **{dollars(billed)} a month on AWS** ({parts}), **{dollars(list_price)}** in an account whose "
        "always-free allowances other workloads already use"
    )


def metric_names() -> int:
    """Every metric name the services emit (services/common/names.py), plus Powertools' ColdStart per function."""
    from services.common.names import Metric

    return len(Metric) + 3


def default_lines(template: Mapping[str, Any]) -> list[Line]:
    return monthly_lines(template_counts(template), metric_names())


if __name__ == "__main__":
    import tempfile
    from pathlib import Path

    from restaurant_pipeline.model.config import load_config
    from tests.support.synth import synthesize

    repo = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="cost-synth-") as outdir:
        templates = synthesize(Path(outdir), {"default": load_config(repo / "pipeline.toml", environ={})})
    found = default_lines(templates["default"])
    print(cost_table(found))
    print()
    print(readme_sentence(found))
