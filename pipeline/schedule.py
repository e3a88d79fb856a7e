"""Cron schedules: one grammar for both runners' `--schedule`.

The grammar is standard cron's, as crontab(5) and Kubeflow Pipelines' scheduler read it. Each
field is `*`, `N`, `A-B`, any of these with `/STEP`, or a comma list of them. Months may be
written JAN-DEC and days of the week SUN-SAT, in any case. `?` is `*` in the two day fields.
Day of week 0 is Sunday, and so is 7. When both day fields are restricted, a day matches if
either does, as in Vixie cron.

- `parse_cron` reads crontab's five fields for `local_runner.py`, which fires at whole minutes of
  the machine's local time (`CronSchedule.next_after`).
- `kfp_cron` checks an expression for `kubeflow_runner.py` by the same rules and returns the six
  fields (seconds first) that KFP's scheduler wants.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import FrozenSet, Set, Tuple

from pipeline.errors import UserInputError

# No schedule has a gap longer than this (Feb 29 comes back within 8 years).
_MAX_SEARCH = datetime.timedelta(days=366 * 8)
_NUMBER = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also takes '²', which int() refuses


class CronError(UserInputError):
    """A `--schedule` expression that cannot be read or never fires; the message names the field."""


@dataclasses.dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: Tuple[str, ...] = ()  # names[i] stands for low + i
    is_day: bool = False  # the day fields also take '?'


_SECOND = _Field("second", 0, 59)
_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DAY_OF_MONTH = _Field("day of month", 1, 31, is_day=True)
_MONTH = _Field("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"))
_DAY_OF_WEEK = _Field("day of week", 0, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), is_day=True)
_CRONTAB_FIELDS = (_MINUTE, _HOUR, _DAY_OF_MONTH, _MONTH, _DAY_OF_WEEK)
# KFP's scheduler (robfig/cron) takes day of week 0-6 only: Sunday is 0 or SUN there.
_KFP_FIELDS = (_SECOND, _MINUTE, _HOUR, _DAY_OF_MONTH, _MONTH, dataclasses.replace(_DAY_OF_WEEK, high=6))


def _error(expression: str, problem: str) -> CronError:
    return CronError(f"--schedule {expression!r}: {problem}")


def _value(text: str, field: _Field, expression: str) -> int:
    if text.upper() in field.names:
        return field.low + field.names.index(text.upper())
    if _NUMBER.fullmatch(text) and field.low <= int(text) <= field.high:
        return int(text)
    raise _error(
        expression,
        f"{field.name} value {text!r} must be {field.low}-{field.high}"
        + (f" or one of {','.join(field.names)}" if field.names else ""),
    )


def _parse_field(text: str, field: _Field, expression: str) -> FrozenSet[int]:
    """The values one field selects; a CronError names the field and the part it cannot use."""
    values: Set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not _NUMBER.fullmatch(step_text) or int(step_text) == 0:
                raise _error(expression, f"{field.name} step {step_text!r} must be a positive number")
            step = int(step_text)
        if base in ("*", "?"):
            if base == "?" and not field.is_day:
                raise _error(expression, "'?' is only allowed for the day fields")
            start, end = field.low, field.high
        else:
            bounds = base.split("-")
            if len(bounds) > 2 or not all(bounds):
                raise _error(
                    expression,
                    f"cannot read {field.name} {part!r}: use *, N, A-B, any of these with /STEP, or a comma list",
                )
            start = _value(bounds[0], field, expression)
            # N/STEP runs from N to the field's end, as KFP's scheduler reads it.
            end = _value(bounds[1], field, expression) if len(bounds) == 2 else field.high if slash else start
            if start > end:
                raise _error(expression, f"{field.name} range {base!r} runs backwards; write the lower end first")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclasses.dataclass(frozen=True)
class CronSchedule:
    expression: str
    minutes: FrozenSet[int]
    hours: FrozenSet[int]
    days: FrozenSet[int]
    months: FrozenSet[int]
    weekdays: FrozenSet[int]
    days_restricted: bool
    weekdays_restricted: bool

    def date_matches(self, moment: datetime.datetime) -> bool:
        if moment.month not in self.months:
            return False
        day_ok = moment.day in self.days
        weekday_ok = (moment.weekday() + 1) % 7 in self.weekdays  # Python: Monday = 0; cron: Sunday = 0.
        if self.days_restricted and self.weekdays_restricted:
            return day_ok or weekday_ok
        return day_ok and weekday_ok

    def matches(self, moment: datetime.datetime) -> bool:
        return self.date_matches(moment) and moment.hour in self.hours and moment.minute in self.minutes

    def next_after(self, moment: datetime.datetime) -> datetime.datetime:
        """The first whole minute strictly after `moment` that the schedule fires at."""
        candidate = moment.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
        limit = candidate + _MAX_SEARCH
        while candidate < limit:
            if not self.date_matches(candidate):
                candidate = candidate.replace(hour=0, minute=0) + datetime.timedelta(days=1)
            elif candidate.hour not in self.hours:
                candidate = candidate.replace(minute=0) + datetime.timedelta(hours=1)
            elif candidate.minute not in self.minutes:
                candidate += datetime.timedelta(minutes=1)
            else:
                return candidate
        raise CronError(f"--schedule {self.expression!r} never fires; check the day and month fields")


def parse_cron(expression: str) -> CronSchedule:
    """crontab's five fields, `minute hour day-of-month month day-of-week`."""
    fields = expression.split()
    if len(fields) != len(_CRONTAB_FIELDS):
        raise CronError(
            f"--schedule {expression!r} has {len(fields)} fields; use five: minute hour day-of-month month "
            "day-of-week, e.g. '0 3 * * *' for 03:00 every day"
        )
    minutes, hours, days, months, weekdays = (
        _parse_field(text, field, expression) for text, field in zip(fields, _CRONTAB_FIELDS, strict=True)
    )
    return CronSchedule(
        expression=expression,
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=frozenset(day % 7 for day in weekdays),
        days_restricted=fields[2] not in ("*", "?"),
        weekdays_restricted=fields[4] not in ("*", "?"),
    )


def kfp_cron(expression: str) -> str:
    """The 6-field cron (seconds first) that KFP's scheduler wants; 5-field crontab lines get second 0."""
    fields = expression.split()
    if len(fields) == len(_KFP_FIELDS) - 1:
        fields = ["0", *fields]
    if len(fields) != len(_KFP_FIELDS):
        raise CronError(
            f"--schedule {expression!r} has {len(expression.split())} fields; give 5 ('MIN HOUR DOM MON DOW', "
            "e.g. '0 3 * * *') or KFP's 6 with seconds first ('SEC MIN HOUR DOM MON DOW')"
        )
    for text, field in zip(fields, _KFP_FIELDS, strict=True):
        _parse_field(text, field, expression)
    return " ".join(fields)
