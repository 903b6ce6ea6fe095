"""Domain: the emails, as plain text. Pure rendering functions: no AWS, no environment, no clock.

SNS rules (measured): the Subject is ASCII only, at most 100 characters, no line breaks; emoji and detail
go in the body. Every email passes through `redact_secrets` last, whatever its inputs said.
"""

from __future__ import annotations

import textwrap
import unicodedata
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import PurePath
from typing import Any

from contracts.events import CitySummary, CollectionFailed, ErrorCategory, TestFailure, TransformCompleted
from services.notifier.outcomes import (
    SEVERITY,
    CityOutcome,
    OutcomeKind,
    Repeat,
    redact_secrets,
    run_days,
    worst_kind,
)

PROJECT = "restaurant-pipeline"
CLI = "restaurant-pipeline"
SUBJECT_PREFIX = f"[{PROJECT}]"
SUBJECT_MAX = 100
BODY_MAX_BYTES = 200_000  # SNS accepts 256 KB per message; keep room for the envelope
SAMPLE_VALUE_MAX = 80
INDENT = "   "
WRAP_WIDTH = 100

KIND_TAG: dict[OutcomeKind, str] = {
    "passed": "OK",
    "tests_failed": "TESTS FAILED",
    "error": "ERROR",
    "collection_failed": "NOT COLLECTED",
}


@dataclass(frozen=True)
class Email:
    subject: str
    body: str


@dataclass(frozen=True)
class EmailContext:
    """What the rendering needs besides the events (all optional)."""

    log_location: str = ""  # AWS: CloudWatch console URL prefix; locally: the logs folder
    max_receive_count: int = 3
    requested_at: datetime | None = None  # when the run was requested (from the ledger)
    now: datetime | None = None
    repeat_window: timedelta | None = None


@dataclass(frozen=True)
class CategoryHelp:
    short: str  # fits in a subject
    what: str
    fix: str
    commands: tuple[str, ...] = ()  # each on its own line, ready to copy


def category_help(category: ErrorCategory, city: str | None, max_receive_count: int) -> CategoryHelp:
    """A collection failure category in plain words, and the fix."""
    run_again = f"{CLI} run" + (f" --city {_shell_word(city)}" if city else "")
    replay = (f"{CLI} dlq list", f"{CLI} dlq replay collector")
    retried = (
        f"It was retried automatically ({max_receive_count} attempts in all) and failed every time. "
        "Once the API answers again, replay the request from the collector's dead-letter queue "
        "(or, if it is not there, run the city again):"
    )
    if category == "api_auth":
        return CategoryHelp(
            "API key rejected",
            "The Places API rejected the API key: the key is invalid, or it is not allowed to call the API "
            "(permission denied).",
            "Check the key (locally GOOGLE_PLACES_API_KEY; on AWS the secret that `restaurant-pipeline deploy` "
            "stores) and that the Places API (New) is enabled for the key's Google Cloud project "
            "(console: APIs & Services > Library > Places API (New)), and that the key's API restrictions "
            "allow it. This is not retried automatically; once fixed, run again:",
            (run_again,),
        )
    if category == "api_quota_daily":
        return CategoryHelp(
            "daily quota reached",
            "The daily quota of the Places API is used up (HTTP 429, per day).",
            "Collection resumes tomorrow with the next scheduled run. To collect today, raise the quota "
            "(Google Cloud console: Places API (New) > Quotas) and run again:",
            (run_again,),
        )
    if category == "api_quota_minute":
        return CategoryHelp(
            "per-minute quota exceeded",
            "The per-minute quota of the Places API was exceeded (HTTP 429, per minute). If this happens "
            "often, lower [places] requests_per_minute in pipeline.toml.",
            retried,
            (*replay, run_again),
        )
    if category == "api_unavailable":
        return CategoryHelp(
            "Places API unavailable",
            "The Places API did not answer properly (server errors, timeouts or dropped connections).",
            retried,
            (*replay, run_again),
        )
    if category == "api_bad_request":
        return CategoryHelp(
            "request refused",
            "The Places API refused the request as malformed (HTTP 400).",
            "Check [places] in pipeline.toml: the query (it must contain {city}), the language code and the "
            "field mask (valid field names, including places.id and nextPageToken). Then run again:",
            (run_again,),
        )
    return CategoryHelp(
        "internal error",
        "The collector failed inside the pipeline (a bug, or an AWS-side problem such as writing to S3).",
        "Read the collector's logs (below). Once fixed, replay the request from the dead-letter queue, "
        "or run the city again:",
        (*replay, run_again),
    )


# --- subject -----------------------------------------------------------------------------------------


def ascii_subject(text: str) -> str:
    """SNS-safe: ASCII printable only, one line, at most 100 characters, never empty."""
    decomposed = unicodedata.normalize("NFKD", text)
    chars = []
    for char in decomposed:
        if unicodedata.combining(char):
            continue
        if " " <= char <= "~":
            chars.append(char)
        elif char.isspace() or unicodedata.category(char).startswith("C"):
            chars.append(" ")
        else:
            chars.append("?")
    cleaned = " ".join("".join(chars).split())
    if len(cleaned) > SUBJECT_MAX:
        cleaned = cleaned[: SUBJECT_MAX - 3].rstrip() + "..."
    return cleaned or f"{SUBJECT_PREFIX} notification"


def _names(outcomes: Sequence[CityOutcome], limit: int = 3) -> str:
    names = _unique(_label(outcome) for outcome in outcomes)
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" +{len(names) - limit}"


def _label(outcome: CityOutcome) -> str:
    if outcome.city:
        return outcome.city
    event = outcome.event
    if isinstance(event, TransformCompleted) and event.sources:
        return PurePath(event.sources[0].key).name
    return "run"


def _days_label(days: Sequence[date]) -> str:
    if not days:
        return ""
    if len(days) == 1:
        return days[0].isoformat()
    return f"{days[0].isoformat()}..{days[-1].isoformat()}"


def _transform_events(outcomes: Sequence[CityOutcome]) -> list[TransformCompleted]:
    events: dict[str, TransformCompleted] = {}
    for outcome in outcomes:
        if isinstance(outcome.event, TransformCompleted):
            events.setdefault(outcome.event_id, outcome.event)
    return list(events.values())


def _collection_events(outcomes: Sequence[CityOutcome]) -> list[CollectionFailed]:
    events: dict[str, CollectionFailed] = {}
    for outcome in outcomes:
        if isinstance(outcome.event, CollectionFailed):
            events.setdefault(outcome.event_id, outcome.event)
    return list(events.values())


def _tests(events: Sequence[TransformCompleted]) -> tuple[int, int, int]:
    """(passed, failed, total) over distinct transforms."""
    return (
        sum(e.tests.passed for e in events),
        sum(e.tests.failed + e.tests.errored for e in events),
        sum(e.tests.total for e in events),
    )


def _summary_for(event: TransformCompleted, city: str | None) -> CitySummary | None:
    for summary in event.city_summaries:
        if city is not None and summary.city.casefold() == city.casefold():
            return summary
    if city is None and len(event.city_summaries) == 1:
        return event.city_summaries[0]
    return None


def _restaurants(outcomes: Sequence[CityOutcome]) -> int:
    total = 0
    for outcome in outcomes:
        if isinstance(outcome.event, TransformCompleted):
            summary = _summary_for(outcome.event, outcome.city)
            total += summary.restaurants_seen if summary else 0
    return total


def render_subject(outcomes: Sequence[CityOutcome]) -> str:
    kinds = {outcome.kind for outcome in outcomes}
    day = _days_label(run_days(outcomes))
    where = f"{_names(outcomes)} {day}".strip()
    passed, failed, total = _tests(_transform_events(outcomes))
    if kinds == {"passed"}:
        text = f"{SUBJECT_PREFIX} OK {where}: {_restaurants(outcomes)} restaurants, {passed}/{total} tests passed"
    elif kinds == {"tests_failed"}:
        text = f"{SUBJECT_PREFIX} TESTS FAILED {where}: {failed}/{total} tests failed"
    elif kinds == {"error"}:
        errors = [e.error for e in _transform_events(outcomes) if e.error is not None]
        what = f"{errors[0].phase} failed" + (f" in {errors[0].model}" if errors[0].model else "") if errors else ""
        text = f"{SUBJECT_PREFIX} ERROR {where}: {what or 'transform failed'}"
    elif kinds == {"collection_failed"}:
        shorts = _unique(category_help(e.category, e.city, 1).short for e in _collection_events(outcomes))
        text = f"{SUBJECT_PREFIX} FAILED {where}: collection failed" + (f" ({shorts[0]})" if len(shorts) == 1 else "")
    else:
        ok = sum(1 for outcome in outcomes if outcome.kind == "passed")
        failing = sorted({o.kind for o in outcomes if o.kind != "passed"}, key=lambda kind: -SEVERITY[kind])
        parts = "".join(f"; {KIND_TAG[kind]}: {_names([o for o in outcomes if o.kind == kind])}" for kind in failing)
        text = f"{SUBJECT_PREFIX} PARTIAL {day}: {ok}/{len(outcomes)} cities OK{parts}"
    return ascii_subject(redact_secrets(text))


# --- body --------------------------------------------------------------------------------------------


def render_run_email(run_id: str, outcomes: Sequence[CityOutcome], context: EmailContext) -> Email:
    """The one email for a run: every city's outcome, what to do about failures, and where the logs are."""
    if not outcomes:
        raise ValueError("a run email needs at least one city outcome")
    lines = [_headline(outcomes), "", *_run_lines(run_id, outcomes, context), ""]
    for group in _by_event(outcomes):
        lines.extend(_section(group, context))
        lines.append("")
    lines.extend(_what_to_do(outcomes, context))
    lines.extend(_logs(outcomes, context))
    lines.extend(_footer(run_id))
    return _finish(render_subject(outcomes), lines)


def render_repeat_email(run_id: str, outcomes: Sequence[CityOutcome], repeat: Repeat, context: EmailContext) -> Email:
    """A short email for a failure identical to one already mailed in full within the window."""
    tag = KIND_TAG[worst_kind(outcomes)]
    day = _days_label(run_days(outcomes))
    since = _when(repeat.first_sent_at)[5:-4]  # "MM-DD HH:MM"
    subject = ascii_subject(
        redact_secrets(
            f"{SUBJECT_PREFIX} REPEAT {tag} {_names(outcomes)} {day}: {repeat.occurrences}x since {since} UTC"
        )
    )
    window = f" or once {_duration(context.repeat_window)} have passed" if context.repeat_window else ""
    lines = [
        f"🔁 Same failure again. {_headline(outcomes)}",
        "",
        f"This is the same failure as run {repeat.first_run_id}, mailed in full at {_when(repeat.first_sent_at)}.",
        f"It has happened {repeat.occurrences} times since then, this run ({run_id}) included.",
        f"The first email has the details; a full email is sent again when the failure changes{window}.",
        "",
        "In short:",
    ]
    for outcome in outcomes:
        lines.append(f"{INDENT}{_label(outcome)}: {_one_line(outcome, context)}")
    lines.append("")
    lines.extend(_what_to_do(outcomes, context))
    lines.extend(_logs(outcomes, context))
    lines.extend(_footer(run_id))
    return _finish(subject, lines)


def _finish(subject: str, lines: list[str]) -> Email:
    body = redact_secrets("\n".join(lines).rstrip() + "\n")
    encoded = body.encode("utf-8")
    if len(encoded) > BODY_MAX_BYTES:
        cut = encoded[:BODY_MAX_BYTES].decode("utf-8", errors="ignore")
        body = cut.rsplit("\n", 1)[0] + "\n\n[... truncated: the rest is in the logs]\n"
    return Email(subject=ascii_subject(redact_secrets(subject)), body=body)


def _headline(outcomes: Sequence[CityOutcome]) -> str:
    kinds = {outcome.kind for outcome in outcomes}
    where = ", ".join(_unique(_label(o) for o in outcomes))
    day = _days_label(run_days(outcomes))
    at = f"{where}, {day}" if day else where
    if kinds == {"passed"}:
        return f"✅ All good: {at}."
    if kinds == {"tests_failed"}:
        return f"⚠️ Data tests failed: {at}."
    if kinds == {"error"}:
        return f"❌ The transform failed: {at}."
    if kinds == {"collection_failed"}:
        return f"❌ Collection failed: {at}."
    ok = sum(1 for outcome in outcomes if outcome.kind == "passed")
    return f"❌ Partly done: {ok} of {len(outcomes)} cities OK ({at})."


def _run_lines(run_id: str, outcomes: Sequence[CityOutcome], context: EmailContext) -> list[str]:
    lines = [f"Run {run_id}"]
    collection = _collection_events(outcomes)
    if collection:
        lines[0] += f", {_TRIGGER_WORDS.get(collection[0].trigger_source, collection[0].trigger_source)}"
    if context.requested_at and context.now and context.now >= context.requested_at:
        took = _duration(context.now - context.requested_at)
        lines.append(f"Requested at {_when(context.requested_at)}; done {took} later.")
    return lines


_TRIGGER_WORDS = {
    "schedule": "started by the schedule",
    "manual": "started by hand (restaurant-pipeline run)",
    "replay": "a replay",
}


def _by_event(outcomes: Sequence[CityOutcome]) -> list[list[CityOutcome]]:
    groups: dict[str, list[CityOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault(outcome.event_id, []).append(outcome)
    return list(groups.values())


def _section(group: list[CityOutcome], context: EmailContext) -> list[str]:
    event = group[0].event
    if isinstance(event, CollectionFailed):
        return render_collection_failed_section(event, [o.city for o in group], context)
    cities = [o.city for o in group]
    if event.outcome == "passed":
        return render_success_section(event, cities)
    if event.outcome == "tests_failed":
        return render_tests_failed_section(event, cities)
    return render_error_section(event, cities)


def _city_title(event: TransformCompleted, city: str | None) -> str:
    summary = _summary_for(event, city)
    name = city or (PurePath(event.sources[0].key).name if event.sources else "dropped file")
    day = summary.day if summary else (event.collection_dates[0] if event.collection_dates else None)
    return f"{name} · {day.isoformat()}" if day else name


def _summary_lines(event: TransformCompleted, city: str | None, top: bool) -> list[str]:
    summary = _summary_for(event, city)
    if summary is None:
        return [f"{INDENT}(no summary for this city in the transform's output)"]
    lines = [
        f"{INDENT}Restaurants collected: {summary.restaurants_seen:,} "
        f"(new {summary.new_restaurants:,}, closed {summary.closed_restaurants:,})"
    ]
    if summary.average_rating is not None:
        weighted = (
            f" (weighted by number of ratings: {summary.weighted_rating:.2f})"
            if summary.weighted_rating is not None
            else ""
        )
        lines.append(f"{INDENT}Average rating: {summary.average_rating:.2f}{weighted}")
    if top and summary.top_rated:
        lines.append(f"{INDENT}Best rated:")
        for rank, place in enumerate(summary.top_rated[:5], start=1):
            rating = f"{place.rating:.1f}" if place.rating is not None else "no rating"
            count = f", {place.user_rating_count:,} ratings" if place.user_rating_count is not None else ""
            address = f" · {place.address}" if place.address else ""
            lines.append(f"{INDENT}  {rank}. {place.name} ({rating}{count}){address}")
    return lines


def _transform_footer(event: TransformCompleted) -> list[str]:
    lines = []
    tests = event.tests
    if tests.total:
        extra = f", {tests.warned} warning(s)" if tests.warned else ""
        lines.append(f"{INDENT}Data tests: {tests.passed}/{tests.total} passed{extra}")
    for warning in event.warnings:
        lines.append(f"{INDENT}  warning: {warning.name}: {warning.failing_rows:,} row(s)")
    for source in event.sources:
        if source.quarantined_lines:
            where = f" in s3://{source.bucket}/{source.quarantine_key}" if source.quarantine_key else ""
            lines.append(f"{INDENT}⚠ {source.quarantined_lines:,} line(s) of {source.key} set aside{where}")
        if source.problem:
            lines.append(f"{INDENT}⚠ {source.key}: {source.problem}")
    if event.durations_ms:
        phases = {k: v for k, v in event.durations_ms.items() if k != "total"}
        detail = ", ".join(f"{name.replace('_', ' ')} {_duration_ms(ms)}" for name, ms in phases.items())
        if "total" in event.durations_ms:
            total = _duration_ms(event.durations_ms["total"])
            lines.append(f"{INDENT}Transform took {total}" + (f" ({detail})" if detail else ""))
        else:
            lines.append(f"{INDENT}Transform steps: {detail}")
    return lines


def render_success_section(event: TransformCompleted, cities: Sequence[str | None]) -> list[str]:
    lines: list[str] = []
    for city in cities:
        lines.append(f"✅ {_city_title(event, city)}")
        lines.extend(_summary_lines(event, city, top=True))
        lines.extend(_sentiment_lines(_summary_for(event, city)))
    lines.extend(_review_count_lines(event))
    lines.extend(_transform_footer(event))
    return lines


def _signed(value: float) -> str:
    return f"{value:+.2f}"


def _sentiment_lines(summary: CitySummary | None) -> list[str]:
    """The NLP stage's part (docs/nlp.md): only when the transform carried review sentiment."""
    if summary is None or (summary.average_sentiment is None and not summary.sentiment_movers):
        return []
    lines = []
    if summary.average_sentiment is not None:
        shares = ""
        if summary.positive_share is not None and summary.negative_share is not None:
            shares = f" · {summary.positive_share:.0%} positive, {summary.negative_share:.0%} negative"
        scored = f" · {summary.scored_reviews:,} reviews scored" if summary.scored_reviews is not None else ""
        lines.append(f"{INDENT}Review sentiment: {_signed(summary.average_sentiment)} (-1 to +1){shares}{scored}")
    if summary.top_themes:
        lines.append(f"{INDENT}Reviews talk most about: {', '.join(summary.top_themes)}")
    if summary.sentiment_movers:
        lines.append(f"{INDENT}Sentiment moved most since the last run:")
        for rank, move in enumerate(summary.sentiment_movers[:5], start=1):
            before = _signed(move.previous) if move.previous is not None else "none"
            lines.append(f"{INDENT}  {rank}. {move.name}: {before} → {_signed(move.current)} ({_signed(move.change)})")
    return lines


def _review_count_lines(event: TransformCompleted) -> list[str]:
    counts = event.reviews
    if counts is None:
        return []
    unscored = counts.empty_text + counts.unsupported_language
    detail = []
    if unscored:
        detail.append(
            f"{unscored:,} kept without a score ({counts.unsupported_language:,} in an unsupported language, "
            f"{counts.empty_text:,} empty)"
        )
    if counts.failed:
        detail.append(f"{counts.failed:,} to retry next run (the analyzer failed on them)")
    line = (
        f"{INDENT}Reviews: {counts.scored:,} new scored ({counts.analyzer}), {counts.already_scored:,} already scored"
    )
    return [line + (", " + ", ".join(detail) if detail else "")]


def render_tests_failed_section(event: TransformCompleted, cities: Sequence[str | None]) -> list[str]:
    tests = event.tests
    failed = tests.failed + tests.errored
    titles = ", ".join(_city_title(event, city) for city in cities)
    lines = [f"⚠️ Data tests failed · {titles}: {failed} of {tests.total} tests failed"]
    for rank, failure in enumerate(event.failures, start=1):
        lines.extend(_failure_lines(rank, failure))
    lines.append(f"{INDENT}The tables were still built; what the tests flag is in them:")
    for city in cities:
        lines.extend(_summary_lines(event, city, top=False))
    lines.extend(_transform_footer(event))
    return lines


def _failure_lines(rank: int, failure: TestFailure) -> list[str]:
    model = f" (model {failure.model})" if failure.model else ""
    lines = [f"{INDENT}{rank}. {failure.name}{model}: {failure.failing_rows:,} failing row(s)"]
    if failure.message:
        lines.extend(_indented(failure.message, INDENT * 2))
    if failure.samples:
        lines.append(f"{INDENT * 2}Sample rows:")
        for sample in failure.samples[:5]:
            lines.append(f"{INDENT * 2}  {_sample(sample)}")
    lines.extend(_wrap(f"What to look at: {test_hint(failure.name, failure.model)}", INDENT * 2))
    return lines


def test_hint(name: str, model: str | None) -> str:
    """Where to start looking, from the dbt test's name."""
    where = model or "the model"
    lowered = name.casefold()
    if lowered.startswith("unique") or "unique_combination" in lowered:
        return (
            f"the same key appears more than once in {where}: a place collected twice in one day, "
            "or a join that multiplies rows."
        )
    if lowered.startswith("not_null"):
        return (
            f"{where} has rows where a required column is empty: the API left the field out (is it in "
            "[places] field_mask?) or a rename in staging is wrong."
        )
    if lowered.startswith("accepted_values"):
        return (
            f"{where} holds a value outside the accepted list: if the API started sending a new legitimate "
            "value, add it to the test's values in the model's .yml."
        )
    if lowered.startswith("relationships"):
        return f"rows of {where} point to keys missing from the parent model: check the join and its filters."
    return (
        f"the test's SQL (`dbt compile --select {name}` in dbt/) run against {where}; the sample rows above "
        "are what it returned."
    )


def _sample(sample: dict[str, Any]) -> str:
    parts = []
    for key, value in sample.items():
        text = " ".join(str(value).split())
        if len(text) > SAMPLE_VALUE_MAX:
            text = text[: SAMPLE_VALUE_MAX - 1] + "…"
        parts.append(f"{key}={text}")
    return ", ".join(parts) or "(empty row)"


_PHASE_WORDS = {
    "read": "reading the raw object",
    "validate": "validating the raw object",
    "dbt": "dbt",
    "publish": "publishing the outcome",
    "internal": "the transformer itself",
}


def render_error_section(event: TransformCompleted, cities: Sequence[str | None]) -> list[str]:
    titles = ", ".join(_city_title(event, city) for city in cities)
    lines = [f"❌ The transform failed · {titles}"]
    error = event.error
    if error is None:
        lines.append(f"{INDENT}The transformer reported an error without details; see its logs.")
    else:
        model = f", model {error.model}" if error.model else ""
        lines.append(f"{INDENT}Failed in: {_PHASE_WORDS.get(error.phase, error.phase)}{model}")
        lines.append(f"{INDENT}Error:")
        lines.extend(_indented(error.message, INDENT * 2))
    for source in event.sources:
        lines.append(f"{INDENT}Object: s3://{source.bucket}/{source.key}")
    lines.extend(_transform_footer(event))
    return lines


def render_collection_failed_section(
    event: CollectionFailed, cities: Sequence[str | None], context: EmailContext
) -> list[str]:
    names = ", ".join(city for city in cities if city) or "every city of the run"
    help_ = category_help(event.category, event.city, context.max_receive_count)
    status = f" The API answered HTTP {event.http_status}." if event.http_status else ""
    lines = [
        f"❌ Collection failed · {names} · {event.collection_date.isoformat()}",
        *_wrap(f"What happened: {help_.what}{status}", INDENT),
        f"{INDENT}The collector said:",
        *_indented(event.message, INDENT * 2),
        f"{INDENT}Attempt {event.attempt} of {context.max_receive_count}; {event.requests} request(s) made.",
    ]
    return lines


def _one_line(outcome: CityOutcome, context: EmailContext) -> str:
    event = outcome.event
    if isinstance(event, CollectionFailed):
        return "collection failed, " + category_help(event.category, event.city, context.max_receive_count).short
    if event.outcome == "tests_failed":
        names = ", ".join(failure.name for failure in event.failures[:3])
        return f"{event.tests.failed + event.tests.errored} of {event.tests.total} tests failed ({names})"
    if event.outcome == "error" and event.error is not None:
        model = f" in {event.error.model}" if event.error.model else ""
        first = event.error.message.strip().splitlines()[0][:160] if event.error.message.strip() else ""
        return f"{event.error.phase} failed{model}: {first}"
    return KIND_TAG[outcome.kind]


def _what_to_do(outcomes: Sequence[CityOutcome], context: EmailContext) -> list[str]:
    failing = [o for o in outcomes if o.kind != "passed"]
    if not failing:
        return []
    lines = ["What to do"]
    reprocess: list[str] = []
    transform_failed = False
    for event in _transform_events(failing):
        transform_failed = True
        reprocess.extend(f"s3://{source.bucket}/{source.key}" for source in event.sources)
    if transform_failed:
        lines.append(f"{INDENT}Once the data or the model is fixed, reprocess the raw object(s):")
        for uri in _unique(reprocess):
            lines.append(f"{INDENT}  {CLI} reprocess {uri}")
        lines.append(
            f"{INDENT}If the transformer's message went to its dead-letter queue: `{CLI} dlq replay transformer`."
        )
    for failed in _collection_events(failing):
        help_ = category_help(failed.category, failed.city, context.max_receive_count)
        who = failed.city or "the run"
        lines.extend(_wrap(f"{who}: {help_.fix}", INDENT))
        lines.extend(f"{INDENT}  {command}" for command in help_.commands)
    lines.append("")
    return lines


def log_link(log_location: str, service: str) -> str:
    """Where a person reads a service's logs: a CloudWatch console URL, or the local log file."""
    if not log_location:
        return f"`{CLI} logs {service}`"
    if log_location.startswith(("http://", "https://")):
        # The console's fragment escapes "%" as "$25": "/" becomes "$252F". The prefix may end at the log
        # groups page or already include "/aws/lambda/" (what the CDK stack sets).
        function = f"{PROJECT}-{service}"
        if log_location.endswith(_console_escape("/aws/lambda/")):
            return log_location + _console_escape(function)
        return log_location + _console_escape(f"/aws/lambda/{function}")
    return str(PurePath(log_location) / f"{service}.log")


def _console_escape(text: str) -> str:
    return urllib.parse.quote(text, safe="").replace("%", "$25")


def _logs(outcomes: Sequence[CityOutcome], context: EmailContext) -> list[str]:
    services: list[str] = []
    for outcome in outcomes:
        services.append("collector" if isinstance(outcome.event, CollectionFailed) else "transformer")
    ordered = _unique([*services, "collector", "transformer", "notifier"])
    lines = ["Logs"]
    for service in ordered:
        lines.append(f"{INDENT}{service}: {log_link(context.log_location, service)}")
    lines.append(f"{INDENT}or: `{CLI} logs SERVICE`, and `{CLI} runs` for every step of this run.")
    lines.append("")
    return lines


def _footer(run_id: str) -> list[str]:
    return ["--", f"{PROJECT} · one email per run outcome · run {run_id}"]


# --- small helpers -----------------------------------------------------------------------------------


def _wrap(text: str, prefix: str) -> list[str]:
    """Prose wrapped for a mail client, continuation lines indented under the first."""
    return textwrap.wrap(
        text,
        width=WRAP_WIDTH,
        initial_indent=prefix,
        subsequent_indent=prefix + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _indented(text: str, prefix: str) -> list[str]:
    return [f"{prefix}{line.rstrip()}" for line in text.strip().splitlines() if line.strip()] or [
        f"{prefix}(no message)"
    ]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _shell_word(text: str) -> str:
    return text if text.replace("-", "").replace("_", "").isalnum() else '"' + text.replace('"', '\\"') + '"'


def _when(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _duration(delta: timedelta) -> str:
    return _duration_ms(int(delta.total_seconds() * 1000))


def _duration_ms(ms: int) -> str:
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
