"""Text that came with an event is data in every email: a place name a business edited on Google Maps, an address,
a city, a cuisine, an object key, a run's words, a dbt test name or an error from dbt or AWS cannot break a line,
reorder the text around it (bidi controls), hide in it (zero-width, control characters) or become a link, in the body
or in the subject, whatever the kind of email (issue 24, item 6)."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

import pytest

from contracts.events import (
    UNKNOWN_CITY,
    CitySummary,
    ModelRun,
    RatedRestaurant,
    RatingMove,
    ReviewCounts,
    SentimentMove,
    TestCounts,
    TestFailure,
    TransformCompleted,
    TransformError,
)
from services.notifier.domain.body import render_repeat_email, render_run_email
from services.notifier.domain.delivery import Undelivered, with_undelivered_note
from services.notifier.domain.message import Email, EmailContext
from services.notifier.domain.outcomes import Repeat, settled_outcomes
from services.notifier.domain.subject import SUBJECT_MAX
from services.notifier.domain.text import safe_text
from tests.unit.notifier.builders import collection_failed, transform

# Everything a hostile name can hold: a line break followed by words that would pose as the email's own line,
# links of each kind a mail client opens, bidi controls, zero-width characters, C0 and C1 controls.
BIDI = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
CONTROLS = "\x00\x07\x1b[2J\x7f\x85\x9b\r\t\u2028\u2029"
LINKS = "https://evil.example/a HTTP://evil.example www.evil.example mailto:x@evil.example javascript:alert(1)"
HOSTILE = f"Chez Jo {BIDI}{INVISIBLE}{CONTROLS}\nSPOOFED ✅ All good {LINKS}"
# An error message keeps its lines (each indented under "Error:"), nothing else.
MESSAGE = f"dbt said:\nMSGLINE {LINKS} {BIDI}{INVISIBLE}{CONTROLS}\nend"
CITY = f"Lyon https://evil.example {BIDI[-4:]}{INVISIBLE[:2]}\x1b\nSPOOFED"  # a CityName: at most 100 characters

CONTEXT = EmailContext(
    log_location=".pipeline/logs",
    now=datetime(2026, 11, 25, 8, 3, tzinfo=UTC),
    requested_at=datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
)
LINK = re.compile(r"(?i)(?:https?|ftp|file)://|\bwww\.|\b(?:mailto|javascript|data|vbscript):|[\w.+-]@[\w-]+\.\w")


def _summary(event: TransformCompleted, name: str) -> CitySummary:
    place = RatedRestaurant(place_id="p1", name=name, rating=4.5, user_rating_count=12, address=name, cuisine=name)
    return event.city_summaries[0].model_copy(
        update={
            "top_rated": [place],
            "new_places": [place],
            "rating_movers": [
                RatingMove(place_id="m1", name=name, cuisine=name, previous=4.0, current=4.5, change=0.5)
            ],
            "sentiment_movers": [SentimentMove(place_id="s1", name=name, previous=0.1, current=0.5, change=0.4)],
            "average_sentiment": 0.3,
            "top_themes": [name],
        }
    )


def _hostile_sources(event: TransformCompleted, name: str, **updates: object) -> TransformCompleted:
    source = event.sources[0]
    key = f"raw/places/dt=2026-11-25/{name}.jsonl"
    return event.model_copy(update={"sources": [source.model_copy(update={"key": key, **updates})]})


def passed(name: str = HOSTILE, city: str = CITY) -> TransformCompleted:
    event = transform("passed", city=city, run_cities=[city])
    event = event.model_copy(
        update={
            "city_summaries": [_summary(event, name)],
            "warnings": [TestFailure(name=name, model=name, severity="warn", failing_rows=1)],
            "durations_ms": {name: 5, "total": 10},
            "reviews": ReviewCounts(
                analyzer=name,
                staged=1,
                already_scored=0,
                scored=1,
                empty_text=0,
                unsupported_language=0,
                failed=0,
            ),
        }
    )
    return _hostile_sources(event, name)


def quarantined(name: str = HOSTILE, city: str = CITY) -> TransformCompleted:
    event = transform("passed", city=city, run_cities=[city])
    return _hostile_sources(
        event, name, lines=3, valid_lines=1, quarantined_lines=2, quarantine_key=f"quarantine/{name}", problem=MESSAGE
    )


def failed_tests(name: str = HOSTILE, city: str = CITY) -> TransformCompleted:
    failure = TestFailure(name=name, model=name, failing_rows=2, message=MESSAGE, samples=[{name: name, "n": 2}])
    event = transform("tests_failed", city=city, run_cities=[city])
    event = event.model_copy(
        update={
            "failures": [failure],
            "tests": TestCounts(total=3, passed=2, failed=1),
            "models": [ModelRun(name=name, status="skipped")],
        }
    )
    return _hostile_sources(event, name)


def error(name: str = HOSTILE, city: str = CITY) -> TransformCompleted:
    event = transform("error", city=city, run_cities=[city])
    update = {"error": TransformError(phase="dbt", message=MESSAGE, model=name)}
    return _hostile_sources(event.model_copy(update=update), name)


def dead_lettered(name: str = HOSTILE, city: str = CITY) -> TransformCompleted:
    event = transform("error", city=city, run_cities=[city])
    update = {"error": TransformError(phase="internal", message=MESSAGE), "dead_lettered": True, "attempts": 1}
    return _hostile_sources(event.model_copy(update=update), name)


def dropped_file_of_unknown_city(name: str = HOSTILE, city: str = CITY) -> TransformCompleted:
    event = transform("passed", city=UNKNOWN_CITY, run_cities=[])
    update = {"cities": [], "city_summaries": []}
    return _hostile_sources(event.model_copy(update=update), name, city=UNKNOWN_CITY)


KINDS = {
    "passed": passed,
    "quarantined": quarantined,
    "tests_failed": failed_tests,
    "error": error,
    "dead_lettered": dead_lettered,
    "dropped_file": dropped_file_of_unknown_city,
    "collection_failed": lambda name=HOSTILE, city=CITY: collection_failed(
        "api_unavailable", city=city, message=MESSAGE
    ),
    "collection_failed_run": lambda name=HOSTILE, city=CITY: collection_failed(
        "internal", city=None, run_cities=[city], message=MESSAGE
    ),
}


def assert_data_is_inert(email: Email) -> None:
    for text in (email.subject, email.body):
        assert not LINK.search(text), LINK.search(text)
        hidden = [char for char in text if char != "\n" and unicodedata.category(char)[0] == "C"]
        assert not hidden, [f"U+{ord(char):04X}" for char in hidden]
        assert "\u2028" not in text and "\u2029" not in text
    for line in email.body.splitlines():
        if line.lstrip().startswith("MSGLINE"):  # an error message's own lines stay indented under it
            assert line.startswith("      MSGLINE"), line
    subject = email.subject
    assert subject.isascii() and len(subject) <= SUBJECT_MAX and "\n" not in subject and "\r" not in subject


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_hostile_text_in_every_email_kind_is_shown_as_inert_data(kind: str) -> None:
    event = KINDS[kind]()

    email = render_run_email(event.run_id, settled_outcomes(event), CONTEXT)
    # the same names with their line breaks already spaces: a break inside a name never starts a line of its own
    flat = KINDS[kind](HOSTILE.replace("\n", " "), CITY.replace("\n", " "))
    flat_email = render_run_email(flat.run_id, settled_outcomes(flat), CONTEXT)

    assert_data_is_inert(email)
    assert email == flat_email
    assert "\\u200e" in email.body  # shown, not silently dropped: the reader sees something was there


def test_new_today_and_rating_moved_lines_keep_each_place_on_one_visible_line() -> None:
    names = {
        "break": "Chez Jo\nSPOOFED ✅ All good",
        "link": "Pizza https://evil.example/a",
        "www": "Sushi www.evil.example",
        "mailto": "Tacos mailto:x@evil.example",
        "script": "Ramen javascript:alert(1)",
        "bidi": "Kebab \u202egnp.exe",
    }
    event = transform("passed")
    summary = event.city_summaries[0].model_copy(
        update={
            "new_places": [RatedRestaurant(place_id=key, name=name, rating=4.0) for key, name in names.items()][:5],
            "rating_movers": [
                RatingMove(place_id=key, name=name, cuisine=name, previous=4.0, current=4.5, change=0.5)
                for key, name in list(names.items())[1:]
            ],
        }
    )
    event = event.model_copy(update={"city_summaries": [summary]})

    body = render_run_email(event.run_id, settled_outcomes(event), CONTEXT).body

    lines = body.splitlines()
    assert "     • Chez Jo SPOOFED ✅ All good (4.0)" in lines
    assert not any(line.lstrip().startswith("SPOOFED") for line in lines)
    for shown in ("Pizza https[:]//evil.example/a", "Sushi www[.]evil.example", "Tacos mailto[:]x[@]evil.example"):
        assert f"     • {shown} (4.0)" in lines
        assert f"     ▲ {shown} · {shown}: 4.0 → 4.5 (+0.50)" in lines
    assert "     • Ramen javascript[:]alert(1) (4.0)" in lines
    assert "     ▲ Kebab \\u202egnp.exe · Kebab \\u202egnp.exe: 4.0 → 4.5 (+0.50)" in lines
    assert_data_is_inert(render_run_email(event.run_id, settled_outcomes(event), CONTEXT))


def test_the_repeat_summary_and_the_undelivered_note_treat_text_as_data() -> None:
    event = error()
    repeat = Repeat(first_run_id=event.run_id, first_sent_at=datetime(2026, 11, 24, 8, 0, tzinfo=UTC), occurrences=2)
    email = render_repeat_email(event.run_id, settled_outcomes(event), repeat, CONTEXT)
    moment = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    noted = with_undelivered_note(email, Undelivered(moment, moment, 2, ("other-run",), HOSTILE), event.run_id)

    assert_data_is_inert(email)
    assert_data_is_inert(noted)


def test_safe_text_disarms_web_hosts_keeps_s3_locations_readable_and_bounds_the_length() -> None:
    assert (
        safe_text("see www.evil.example, s3://bucket/raw/x.jsonl") == "see www[.]evil.example, s3://bucket/raw/x.jsonl"
    )
    assert safe_text("xhttps://evil.example") == "xhttps[:]//evil.example"
    assert safe_text("write to chef@evil.example") == "write to chef[@]evil.example"
    shown = safe_text("x" * 500, 100)
    assert shown.startswith("x" * 100 + "…") and "400 more characters" in shown
