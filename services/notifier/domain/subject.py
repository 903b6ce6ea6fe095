"""The email's subject: what happened, where, in one SNS-safe line (ASCII, at most 100 characters, no break)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from services.common.redaction import redact_secrets
from services.notifier.domain.facts import (
    collection_events,
    days_label,
    names,
    quarantined,
    restaurants_collected,
    test_totals,
    transform_events,
)
from services.notifier.domain.outcomes import (
    SEVERITY,
    CityOutcome,
    OutcomeKind,
    Repeat,
    run_days,
    worst_kind,
)
from services.notifier.domain.runbook import category_help, given_up_words
from services.notifier.domain.text import safe_text, unique, when
from services.notifier.domain.wording import MIXED, QUARANTINED, REPEAT_TAG, SUBJECT_PREFIX, WORDING

SUBJECT_MAX = 100


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


def render_subject(outcomes: Sequence[CityOutcome], max_receive_count: int = 3) -> str:
    """'[restaurant-pipeline] <TAG> <cities> <day>: <what>', the tag from wording.py; a mixed run is PARTIAL."""
    kinds = {outcome.kind for outcome in outcomes}
    day = days_label(run_days(outcomes))
    set_aside, read = quarantined(outcomes)
    if len(kinds) == 1:
        kind = next(iter(kinds))
        where = f"{names(outcomes)} {day}".strip()
        if kind == "passed" and set_aside:
            # the count first: a long subject is cut at its end
            what = f"{set_aside:,}/{read:,} lines quarantined; {_what(kind, outcomes, max_receive_count)}"
            text = f"{SUBJECT_PREFIX} {QUARANTINED.tag} {where}: {what}"
        else:
            what = _what(kind, outcomes, max_receive_count)
            text = f"{SUBJECT_PREFIX} {WORDING[kind].tag} {where}: {what}{_set_aside(outcomes)}"
    else:
        ok = sum(1 for outcome in outcomes if outcome.kind == "passed")
        failing = sorted(kinds - {"passed"}, key=lambda kind: -SEVERITY[kind])
        parts = "".join(f"; {WORDING[k].tag}: {names([o for o in outcomes if o.kind == k])}" for k in failing)
        text = f"{SUBJECT_PREFIX} {MIXED.tag} {day}: {ok}/{len(outcomes)} cities OK{parts}{_set_aside(outcomes)}"
    return ascii_subject(redact_secrets(text))


def _set_aside(outcomes: Sequence[CityOutcome]) -> str:
    set_aside, read = quarantined(outcomes)
    return f"; {set_aside:,}/{read:,} lines quarantined" if set_aside else ""


def _what(kind: OutcomeKind, outcomes: Sequence[CityOutcome], max_receive_count: int) -> str:
    passed, failed, total = test_totals(transform_events(outcomes))
    if kind == "passed":
        return f"{restaurants_collected(outcomes)} restaurants, {passed}/{total} tests passed"
    if kind == "tests_failed":
        return f"{failed}/{total} tests failed"
    if kind == "error":
        events = transform_events(outcomes)
        given_up = [e for e in events if e.dead_lettered]
        if given_up:
            return f"transform {given_up_words(given_up[0], max_receive_count, short=True)}"
        errors = [e.error for e in events if e.error is not None]
        if not errors:
            return "transform failed"
        return f"{safe_text(errors[0].phase)} failed" + (f" in {safe_text(errors[0].model)}" if errors[0].model else "")
    shorts = unique(category_help(e.category, [], 1).short for e in collection_events(outcomes))
    return shorts[0] if len(shorts) == 1 else "collection failed"


def render_repeat_subject(outcomes: Sequence[CityOutcome], repeat: Repeat) -> str:
    """A failure identical to one mailed in full within the window: REPEAT, the tag, how often since when."""
    day = days_label(run_days(outcomes))
    since = when(repeat.first_sent_at)[5:-4]  # "MM-DD HH:MM"
    tag = WORDING[worst_kind(outcomes)].tag
    return ascii_subject(
        redact_secrets(
            f"{SUBJECT_PREFIX} {REPEAT_TAG} {tag} {names(outcomes)} {day}: {repeat.occurrences}x since {since} UTC"
        )
    )
