"""EventBridge Scheduler expressions: validated like AWS does, and fired locally at the same UTC times."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_RATE = re.compile(r"^rate\((\d+)\s+([a-z]+)\)$")
_CRON = re.compile(r"^cron\(([^)]*)\)$")
_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?/,#L\-W]+$")
_EXAMPLES = "e.g. cron(0 8 * * ? *) for 08:00 UTC daily, or rate(12 hours)"


@dataclass(frozen=True)
class ScheduleExpression:
    expression: str
    kind: str  # "cron" | "rate"
    rate_seconds: int | None = None
    cron_fields: tuple[str, ...] = ()

    def next_after(self, moment: datetime) -> datetime:
        """The first fire time strictly after `moment` (UTC)."""
        moment = moment.astimezone(UTC)
        if self.rate_seconds is not None:
            return moment + timedelta(seconds=self.rate_seconds)
        return _next_cron(self.cron_fields, moment)


def parse_schedule(expression: str) -> ScheduleExpression:
    expression = expression.strip()
    rate = _RATE.match(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        singular = unit.removesuffix("s")
        if singular not in _RATE_UNITS or value < 1:
            raise ValueError(f"rate() takes a positive number and minute(s), hour(s) or day(s); {_EXAMPLES}")
        if (value == 1) != (unit == singular):
            expected = singular if value == 1 else singular + "s"
            raise ValueError(f"AWS wants rate({value} {expected}): singular unit for 1, plural otherwise")
        return ScheduleExpression(expression, "rate", rate_seconds=value * _RATE_UNITS[singular])
    cron = _CRON.match(expression)
    if not cron:
        raise ValueError(f"a schedule is cron(...) or rate(...); {_EXAMPLES}")
    fields = tuple(cron.group(1).split())
    if len(fields) != 6:
        raise ValueError("cron() takes six fields: minutes hours day-of-month month day-of-week year; " + _EXAMPLES)
    for field in fields:
        if not _CRON_FIELD.match(field):
            raise ValueError(f"cron field {field!r} has characters AWS does not accept")
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ValueError("exactly one of day-of-month and day-of-week must be '?' (AWS rule); " + _EXAMPLES)
    return ScheduleExpression(expression, "cron", cron_fields=fields)


def _aws_day_of_week_to_cron(field: str) -> str:
    """AWS counts days of the week 1-7 from Sunday; classic cron 0-6."""

    def shift(match: re.Match[str]) -> str:
        return str((int(match.group(0)) - 1) % 7)

    if field in ("?", "*"):
        return "*"
    head, _, nth = field.partition("#")
    head = re.sub(r"\d+", shift, head)
    return f"{head}#{nth}" if nth else head


def _next_cron(fields: tuple[str, ...], moment: datetime) -> datetime:
    from croniter import croniter  # type: ignore[import-untyped]  # the local scheduler is the only user; keep Lambda imports lean

    minutes, hours, day_of_month, month, day_of_week, year = fields
    day = "*" if day_of_month == "?" else day_of_month
    spec = " ".join([minutes, hours, day, month, _aws_day_of_week_to_cron(day_of_week)])
    if not croniter.is_valid(spec):
        raise ValueError(f"cron({' '.join(fields)}) cannot be evaluated locally ({spec!r})")
    iterator = croniter(spec, moment)
    for _ in range(10_000):
        candidate: datetime = iterator.get_next(datetime)
        if year in ("*", "?") or str(candidate.year) in year.split(","):
            return candidate.astimezone(UTC)
    raise ValueError(f"cron({' '.join(fields)}) never fires in the years it allows")
