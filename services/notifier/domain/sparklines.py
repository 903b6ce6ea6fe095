"""The success email's trend lines for one city: the last 14 days of restaurants seen and weighted rating as
Unicode sparklines (SNS email is plain text, so the picture is made of characters). CitySummary.trend holds the
city's collection days of that window (city_daily_summary, read by the transformer); a day without one is a gap."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from contracts.events import CitySummary
from services.notifier.domain.text import INDENT

BARS = "▁▂▃▄▅▆▇█"
GAP = "·"  # a day without a collection
WINDOW_DAYS = 14


def sparkline(values: Sequence[float | None]) -> str:
    """One character per value, scaled from the lowest (▁) to the highest (█) present; None is a gap (·).
    Values all equal sit mid-height: a flat line, not a full or an empty one."""
    present = [value for value in values if value is not None]
    if not present:
        return GAP * len(values)
    low, high = min(present), max(present)
    top = len(BARS) - 1
    marks = []
    for value in values:
        if value is None:
            marks.append(GAP)
        elif high == low:
            marks.append(BARS[top // 2])
        else:
            marks.append(BARS[round((value - low) / (high - low) * top)])
    return "".join(marks)


def render_trend_lines(summary: CitySummary | None) -> list[str]:
    """From the first collection day on (then one bar after 13 gaps: the history starts there); nothing for an
    event from a transformer older than the trend."""
    if summary is None or not summary.trend:
        return []
    days = [summary.day - timedelta(days=WINDOW_DAYS - 1 - offset) for offset in range(WINDOW_DAYS)]
    by_day = {point.day: point for point in summary.trend}
    seen = [float(by_day[day].restaurants_seen) if day in by_day else None for day in days]
    rating = [by_day[day].weighted_rating if day in by_day else None for day in days]
    gaps = f"; {GAP} no collection" if any(value is None for value in seen) else ""
    lines = [f"{INDENT}Last {WINDOW_DAYS} days ({days[0]:%m-%d} to {days[-1]:%m-%d}{gaps}):"]
    lines.append(f"{INDENT}  Restaurants seen  {sparkline(seen)}  {_span(seen, '{:,.0f}'.format)}")
    if any(value is not None for value in rating):
        lines.append(f"{INDENT}  Weighted rating   {sparkline(rating)}  {_span(rating, '{:.2f}'.format)}")
    return lines


def _span(values: Sequence[float | None], show: Callable[[float], str]) -> str:
    present = [value for value in values if value is not None]
    if not present:
        return ""
    low, high = min(present), max(present)
    return f"now {show(present[-1])} · {show(low)} to {show(high)}"
