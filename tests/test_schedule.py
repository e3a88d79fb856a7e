"""Cron parsing, next fire times and the one-run-at-a-time lock."""

import datetime
import subprocess
import sys

import pytest

from pipeline.errors import UserInputError
from pipeline.schedule import RunInProgressError, RunLock, parse_cron

T = datetime.datetime


@pytest.mark.parametrize(
    "expression,after,expected",
    [
        ("* * * * *", T(2026, 1, 1, 10, 0, 30), T(2026, 1, 1, 10, 1)),
        ("0 3 * * *", T(2026, 1, 1, 3, 0), T(2026, 1, 2, 3, 0)),
        ("0 3 * * *", T(2026, 1, 1, 2, 59, 59), T(2026, 1, 1, 3, 0)),
        ("*/15 * * * *", T(2026, 1, 1, 10, 16), T(2026, 1, 1, 10, 30)),
        ("30 9 * * 1-5", T(2026, 11, 27, 10, 0), T(2026, 11, 30, 9, 30)),  # Friday -> Monday
        ("0 0 1 */3 *", T(2026, 2, 10), T(2026, 4, 1)),
        ("0 0 29 2 *", T(2026, 3, 1), T(2028, 2, 29)),
        ("0 12 13 * 5", T(2026, 11, 26), T(2026, 11, 27, 12, 0)),  # day 13 OR Friday
        ("5,10 1 * * 7", T(2026, 11, 26), T(2026, 11, 29, 1, 5)),  # 7 = Sunday
    ],
)
def test_next_fire_time(expression, after, expected):
    assert parse_cron(expression).next_after(after) == expected


@pytest.mark.parametrize(
    "expression,message",
    [
        ("* * * *", "has 4 fields; use five"),
        ("61 * * * *", "minute field '61' must stay within 0-59"),
        ("* 5-2 * * *", "hour field '5-2' must stay within 0-23"),
        ("* * * * mon", "day of week field 'mon' is not a number"),
        ("*/0 * * * *", "minute field"),
        ("0 0 31 2 *", "never fires"),
    ],
)
def test_bad_schedules_are_named(expression, message):
    with pytest.raises(UserInputError, match=message):
        parse_cron(expression).next_after(T(2026, 1, 1))


def test_a_second_run_on_the_same_output_is_refused(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunInProgressError, match=f"another run is using {tmp_path}"):
            with RunLock(tmp_path):
                pass
    with RunLock(tmp_path):  # released on exit
        pass


def test_lock_is_refused_across_processes_and_freed_when_the_holder_dies(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from pipeline.schedule import RunLock; import time\nwith RunLock({str(tmp_path)!r}):\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunInProgressError, match=f"pid {holder.pid}"):
            with RunLock(tmp_path):
                pass
    finally:
        holder.kill()
        holder.wait()
    with RunLock(tmp_path):
        pass
