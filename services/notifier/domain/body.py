"""The email's text, section by section: plain text (SNS email), every secret redacted last.

The subject is subject.py's, the words for each outcome wording.py's, the fixes and commands runbook.py's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath

from contracts.events import CitySummary, CollectionFailed, TestFailure, TransformCompleted
from services.common.redaction import redact_secrets
from services.notifier.domain.dropped_city import render_unknown_city_lines
from services.notifier.domain.facts import (
    collected_by_run,
    collection_events,
    days_label,
    label,
    quarantined,
    summary_for,
    tests_failed_words,
    tests_passed_words,
)
from services.notifier.domain.highlights import render_highlight_lines
from services.notifier.domain.message import Email, EmailContext
from services.notifier.domain.outcomes import CityOutcome, Repeat, run_days
from services.notifier.domain.quarantine import render_quarantine_lines
from services.notifier.domain.runbook import (
    category_help,
    failed_test_commands,
    footer,
    given_up_words,
    logs_section,
    rerun_cities,
    test_hint,
    what_to_do,
)
from services.notifier.domain.sparklines import render_trend_lines
from services.notifier.domain.subject import ascii_subject, render_repeat_subject, render_subject
from services.notifier.domain.text import (
    DATA_MAX,
    INDENT,
    duration,
    duration_ms,
    indented,
    safe_path,
    safe_text,
    sample_row,
    unique,
    when,
    wrap,
    wrap_paths,
)
from services.notifier.domain.wording import MIXED, PHASE_WORDS, QUARANTINED, TRIGGER_WORDS, WORDING

BODY_MAX_BYTES = 200_000  # SNS accepts 256 KB per message; keep room for the envelope


def render_run_email(run_id: str, outcomes: Sequence[CityOutcome], context: EmailContext) -> Email:
    """The one email for a run: every city's outcome, what to do about failures, and where the logs are."""
    if not outcomes:
        raise ValueError("a run email needs at least one city outcome")
    lines = [_headline(outcomes), "", *_run_lines(run_id, outcomes, context), ""]
    for group in _by_event(outcomes):
        lines.extend(_section(group, context))
        lines.append("")
    lines.extend(what_to_do(outcomes, context))
    lines.extend(logs_section(outcomes, context))
    lines.extend(footer(run_id))
    return _finish(render_subject(outcomes, context.max_receive_count), lines)


def render_repeat_email(run_id: str, outcomes: Sequence[CityOutcome], repeat: Repeat, context: EmailContext) -> Email:
    """A short email for a failure identical to one already mailed in full within the window."""
    subject = render_repeat_subject(outcomes, repeat)
    window = f" or once {duration(context.repeat_window)} have passed" if context.repeat_window else ""
    lines = [
        f"🔁 Same failure again. {_headline(outcomes)}",
        "",
        f"This is the same failure as run {safe_text(repeat.first_run_id)}, mailed in full at "
        f"{when(repeat.first_sent_at)}.",
        f"It has happened {repeat.occurrences} times since then, this run ({safe_text(run_id)}) included.",
        f"The first email has the details; a full email is sent again when the failure changes{window}.",
        "",
        "In short:",
    ]
    for outcome in outcomes:
        lines.append(f"{INDENT}{label(outcome)}: {_one_line(outcome, context)}")
    lines.append("")
    lines.extend(what_to_do(outcomes, context))
    lines.extend(logs_section(outcomes, context))
    lines.extend(footer(run_id))
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
    where = ", ".join(unique(label(o) for o in outcomes))
    day = days_label(run_days(outcomes))
    at = f"{where}, {day}" if day else where
    set_aside, read = quarantined(outcomes)
    aside = f" {set_aside:,} of {read:,} lines were quarantined (set aside, not in the tables)." if set_aside else ""
    if len(kinds) == 1:
        kind = next(iter(kinds))
        wording = QUARANTINED if kind == "passed" and set_aside else WORDING[kind]
        return f"{wording.headline}: {at}.{aside}"
    ok = sum(1 for outcome in outcomes if outcome.kind == "passed")
    return f"{MIXED.headline}: {ok} of {len(outcomes)} cities OK ({at}).{aside}"


def _run_lines(run_id: str, outcomes: Sequence[CityOutcome], context: EmailContext) -> list[str]:
    lines = [f"Run {safe_text(run_id)}"]
    collection = collection_events(outcomes)
    if collection:
        trigger = collection[0].trigger_source
        lines[0] += f", {TRIGGER_WORDS.get(trigger) or safe_text(trigger)}"
    if context.requested_at and context.now and context.now >= context.requested_at:
        took = duration(context.now - context.requested_at)
        lines.append(f"Requested at {when(context.requested_at)}; done {took} later.")
    return lines


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
        return render_success_section(event, cities, context)
    if event.outcome == "tests_failed":
        return render_tests_failed_section(event, cities, context)
    return render_error_section(event, cities, context)


def _city_title(event: TransformCompleted, city: str | None) -> str:
    summary = summary_for(event, city)
    file = PurePath(event.sources[0].key).name if event.sources else "dropped file"
    name = safe_text(city) if city else safe_path(file)
    day = summary.day if summary else (event.collection_dates[0] if event.collection_dates else None)
    return f"{name} · {day.isoformat()}" if day else name


def _summary_lines(event: TransformCompleted, city: str | None, top: bool) -> list[str]:
    summary = summary_for(event, city)
    if summary is None:
        return [f"{INDENT}(no summary for this city in the transform's output)"]
    collected = collected_by_run(event, city)
    day_total = f"; {summary.restaurants_seen:,} seen that day in all" if summary.restaurants_seen != collected else ""
    lines = [
        f"{INDENT}Restaurants collected: {collected:,} by this run{day_total} "
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
            address = f" · {safe_text(place.address)}" if place.address else ""
            lines.append(f"{INDENT}  {rank}. {safe_text(place.name)} ({rating}{count}){address}")
    return lines


def _transform_footer(event: TransformCompleted, context: EmailContext | None) -> list[str]:
    lines = []
    tests = event.tests
    if tests.total:
        lines.append(f"{INDENT}Data tests: {tests_passed_words(tests)}")
    for warning in event.warnings:
        lines.append(f"{INDENT}  warning: {safe_text(warning.name)}: {warning.failing_rows:,} row(s)")
    for source in event.sources:
        lines.extend(render_quarantine_lines(source, context or EmailContext()))
        if source.problem:
            key = safe_path(source.key)
            lines.extend(wrap_paths(f"⚠ {key}: {safe_text(source.problem, DATA_MAX)}", INDENT, key))
        elif source.superseded_by:
            key = safe_path(source.key)
            newer = safe_text(source.superseded_by)
            line = f"↻ {key}: not built; a newer version ({newer}) replaced it first and the marts hold that one"
            lines.extend(wrap_paths(line, INDENT, key))
    if event.durations_ms:
        phases = {k: v for k, v in event.durations_ms.items() if k != "total"}
        detail = ", ".join(f"{safe_text(name.replace('_', ' '))} {duration_ms(ms)}" for name, ms in phases.items())
        if "total" in event.durations_ms:
            total = duration_ms(event.durations_ms["total"])
            lines.append(f"{INDENT}Transform took {total}" + (f" ({detail})" if detail else ""))
        else:
            lines.append(f"{INDENT}Transform steps: {detail}")
    return lines


def render_success_section(
    event: TransformCompleted, cities: Sequence[str | None], context: EmailContext | None = None
) -> list[str]:
    lines: list[str] = []
    for city in cities:
        lines.append(f"{WORDING['passed'].section} {_city_title(event, city)}")
        lines.extend(_summary_lines(event, city, top=True))
        lines.extend(render_trend_lines(summary_for(event, city)))
        lines.extend(render_highlight_lines(summary_for(event, city)))
        lines.extend(_sentiment_lines(summary_for(event, city)))
    lines.extend(_review_count_lines(event))
    lines.extend(_transform_footer(event, context))
    lines.extend(render_unknown_city_lines(event))
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
        lines.append(f"{INDENT}Reviews talk most about: {', '.join(safe_text(theme) for theme in summary.top_themes)}")
    if summary.sentiment_movers:
        lines.append(f"{INDENT}Sentiment moved most since the last run:")
        for rank, move in enumerate(summary.sentiment_movers[:5], start=1):
            before = _signed(move.previous) if move.previous is not None else "none"
            lines.append(
                f"{INDENT}  {rank}. {safe_text(move.name)}: {before} → {_signed(move.current)} ({_signed(move.change)})"
            )
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
        f"{INDENT}Reviews: {counts.scored:,} new scored ({safe_text(counts.analyzer)}), "
        f"{counts.already_scored:,} already scored"
    )
    return [line + (", " + ", ".join(detail) if detail else "")]


def render_tests_failed_section(
    event: TransformCompleted, cities: Sequence[str | None], context: EmailContext | None = None
) -> list[str]:
    titles = ", ".join(_city_title(event, city) for city in cities)
    lines = [f"{WORDING['tests_failed'].section} · {titles}: {tests_failed_words(event.tests)}"]
    for rank, failure in enumerate(event.failures, start=1):
        lines.extend(_failure_lines(rank, failure, context or EmailContext()))
    lines.extend(_tables_lines(event, cities))
    lines.extend(_transform_footer(event, context))
    lines.extend(render_unknown_city_lines(event))
    return lines


def _tables_lines(event: TransformCompleted, cities: Sequence[str | None]) -> list[str]:
    """What the failed tests left built: said only from the models dbt reported (it skips what depends on a failed
    test, so the marts often keep their previous content)."""
    if not event.models:
        return []
    not_built = [safe_text(model.name) for model in event.models if model.status != "success"]
    if not_built:
        return wrap(
            f"Not built: {', '.join(not_built)} (dbt skips what depends on a failed test); "
            "they keep what the last successful build wrote.",
            INDENT,
        )
    lines = [f"{INDENT}The tables were still built; what the tests flag is in them:"]
    for city in cities:
        lines.extend(_summary_lines(event, city, top=False))
    return lines


def _failure_lines(rank: int, failure: TestFailure, context: EmailContext) -> list[str]:
    model = f" (model {safe_text(failure.model)})" if failure.model else ""
    lines = [f"{INDENT}{rank}. {safe_text(failure.name)}{model}: {failure.failing_rows:,} failing row(s)"]
    if failure.message:
        lines.extend(indented(safe_text(failure.message, DATA_MAX, keep_lines=True), INDENT * 2))
    if failure.samples:
        lines.append(f"{INDENT * 2}Sample rows:")
        for sample in failure.samples[:5]:
            lines.append(f"{INDENT * 2}  {sample_row(sample)}")
    lines.extend(wrap(f"What to look at: {test_hint(failure.name, failure.model)}", INDENT * 2))
    for what, command in failed_test_commands(failure.name, failure.model, context):
        lines.append(f"{INDENT * 2}  {what}: {command}")
    return lines


def render_error_section(
    event: TransformCompleted, cities: Sequence[str | None], context: EmailContext | None = None
) -> list[str]:
    titles = ", ".join(_city_title(event, city) for city in cities)
    lines = [f"{WORDING['error'].section} · {titles}"]
    error = event.error
    if error is None:
        lines.append(f"{INDENT}The transformer reported an error without details; see its logs.")
    else:
        model = f", model {safe_text(error.model)}" if error.model else ""
        lines.append(f"{INDENT}Failed in: {PHASE_WORDS.get(error.phase) or safe_text(error.phase)}{model}")
        lines.append(f"{INDENT}Error:")
        lines.extend(indented(safe_text(error.message, DATA_MAX, keep_lines=True), INDENT * 2))
    for source in event.sources:
        lines.append(f"{INDENT}Object: {safe_path(f's3://{source.bucket}/{source.key}')}")  # whole, however long
    lines.extend(_transform_footer(event, context))
    return lines


def render_collection_failed_section(
    event: CollectionFailed, cities: Sequence[str | None], context: EmailContext
) -> list[str]:
    names = ", ".join(safe_text(city) for city in cities if city) or "every city of the run"
    help_ = category_help(event.category, rerun_cities(event), context.max_receive_count)
    status = f" The API answered HTTP {event.http_status}." if event.http_status else ""
    lines = [
        f"{WORDING['collection_failed'].section} · {names} · {event.collection_date.isoformat()}",
        *wrap(f"What happened: {help_.what}{status}", INDENT),
        f"{INDENT}The collector said:",
        *indented(safe_text(event.message, DATA_MAX, keep_lines=True), INDENT * 2),
        f"{INDENT}Attempt {event.attempt} of {context.max_receive_count}; {event.requests} request(s) made.",
    ]
    return lines


def _one_line(outcome: CityOutcome, context: EmailContext) -> str:
    event = outcome.event
    if isinstance(event, CollectionFailed):
        return (
            "collection failed, " + category_help(event.category, rerun_cities(event), context.max_receive_count).short
        )
    if event.outcome == "tests_failed":
        names = ", ".join(safe_text(failure.name) for failure in event.failures[:3])
        return f"{tests_failed_words(event.tests)} ({names})"
    if event.dead_lettered:
        words = given_up_words(event, context.max_receive_count)
        return f"the transformer {words}; messages in its dead-letter queue"
    if event.outcome == "error" and event.error is not None:
        model = f" in {safe_text(event.error.model)}" if event.error.model else ""
        message = safe_text(event.error.message, 160, keep_lines=True)
        first = message.strip().splitlines()[0] if message.strip() else ""
        return f"{safe_text(event.error.phase)} failed{model}: {first}"
    return WORDING[outcome.kind].tag
