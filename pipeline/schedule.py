"""Scheduled local runs: a small cron parser and a lock so two runs never overlap.

Cron syntax is the classic five fields, `minute hour day-of-month month day-of-week`,
each `*`, `N`, `A-B`, a comma list of those, or any of them with `/STEP`
(day-of-week 0-6, Sunday = 0, 7 also Sunday). When both day fields are restricted,
a day matches if either does, as in Vixie cron. Times are the machine's local time.
"""

from __future__ import annotations

import dataclasses
import datetime
import errno
import fcntl
import os
import pathlib
from typing import FrozenSet, Tuple

from pipeline.errors import UserInputError

_FIELDS: Tuple[Tuple[str, int, int], ...] = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
LOCK_FILENAME = ".run.lock"
# No schedule has a gap longer than this (Feb 29 comes back within 8 years).
_MAX_SEARCH = datetime.timedelta(days=366 * 8)


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
        raise UserInputError(f"schedule {self.expression!r} never fires; check the day and month fields")


def _parse_field(text: str, name: str, low: int, high: int, expression: str) -> FrozenSet[int]:
    values = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                start, end = low, high
            elif "-" in base:
                start_text, end_text = base.split("-", 1)
                start, end = int(start_text), int(end_text)
            else:
                start = end = int(base)
                if step_text:
                    end = high
        except ValueError:
            raise UserInputError(
                f"schedule {expression!r}: {name} field {text!r} is not a number, range, list or step"
            ) from None
        if step < 1 or not (low <= start <= high and low <= end <= high) or start > end:
            raise UserInputError(f"schedule {expression!r}: {name} field {text!r} must stay within {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def parse_cron(expression: str) -> CronSchedule:
    fields = expression.split()
    if len(fields) != len(_FIELDS):
        raise UserInputError(
            f"schedule {expression!r} has {len(fields)} fields; use five: minute hour day-of-month month day-of-week, "
            "e.g. '0 3 * * *' for 03:00 every day"
        )
    parsed = [
        _parse_field(text, name, low, high, expression) for text, (name, low, high) in zip(fields, _FIELDS, strict=True)
    ]
    weekdays = frozenset(day % 7 for day in parsed[4])
    return CronSchedule(
        expression=expression,
        minutes=parsed[0],
        hours=parsed[1],
        days=parsed[2],
        months=parsed[3],
        weekdays=weekdays,
        days_restricted=fields[2] != "*",
        weekdays_restricted=fields[4] != "*",
    )


class RunLock:
    """An exclusive, non-blocking lock on `<output>/.run.lock` for the length of one run.

    The OS drops the lock when the process dies, so a crashed run never blocks the next one.
    """

    def __init__(self, output: pathlib.Path):
        self.path = pathlib.Path(output) / LOCK_FILENAME
        self._handle = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise RunInProgressError(
                    f"another run is using {self.path.parent} (pid {holder}); wait for it to finish, "
                    "or use another --output"
                ) from None
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc_info) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


class RunInProgressError(UserInputError):
    """Another run holds the output folder's lock."""
