"""The success email's "what changed" lines for one city's day: the places first seen that day and the places
whose rating moved most over the last 7 days (CitySummary.new_places / rating_movers, read by the transformer from
the restaurants mart: docs/marts.md). Plain text; nothing when the transform carried none (an older transformer)."""

from __future__ import annotations

from contracts.events import CitySummary, RatedRestaurant, RatingMove
from services.notifier.domain.text import INDENT, safe_text


def render_highlight_lines(summary: CitySummary | None) -> list[str]:
    if summary is None:
        return []
    return [*_new_place_lines(summary), *_mover_lines(summary)]


def _new_place_lines(summary: CitySummary) -> list[str]:
    if not summary.new_places:
        return []
    shown = len(summary.new_places)
    if _first_collection_day(summary):
        every = summary.new_restaurants
        heading = f"New today: the city's first collection, so all {every:,} places are new; the best rated:"
    elif summary.new_restaurants > shown:
        heading = f"New today ({shown} of {summary.new_restaurants:,}, best rated first):"
    else:
        heading = "New today:"
    lines = [f"{INDENT}{heading}"]
    for place in summary.new_places:
        lines.append(f"{INDENT}  • {_new_place(place)}")
    return lines


def _first_collection_day(summary: CitySummary) -> bool:
    """Every place seen that day is new, and the city has no earlier collection day: its trend (the collection days
    among the 14 ending on this one) holds none before. All places new alone is not enough: a later day can see only
    new places (another area, a second run of that day after a first that failed)."""
    every_place_new = summary.new_restaurants > 0 and summary.new_restaurants == summary.restaurants_seen
    return every_place_new and not any(point.day < summary.day for point in summary.trend)


def _new_place(place: RatedRestaurant) -> str:
    kind = f" · {safe_text(place.cuisine)}" if place.cuisine else ""
    rating = f"{place.rating:.1f}" if place.rating is not None else "no rating yet"
    count = f", {place.user_rating_count:,} ratings" if place.user_rating_count is not None else ""
    return f"{safe_text(place.name)}{kind} ({rating}{count})"


def _mover_lines(summary: CitySummary) -> list[str]:
    if not summary.rating_movers:
        return []
    lines = [f"{INDENT}Rating moved most over 7 days:"]
    for move in summary.rating_movers:
        lines.append(f"{INDENT}  {_arrow(move)} {_move(move)}")
    return lines


def _arrow(move: RatingMove) -> str:
    return "▲" if move.change > 0 else "▼"


def _move(move: RatingMove) -> str:
    kind = f" · {safe_text(move.cuisine)}" if move.cuisine else ""
    gained = ""
    if move.user_rating_count_change:
        gained = f", {move.user_rating_count_change:+,} ratings"
    return f"{safe_text(move.name)}{kind}: {move.previous:.1f} → {move.current:.1f} ({move.change:+.2f}{gained})"
