"""The one cron grammar of both runners: next fire times locally, KFP's six fields, and the refusals."""

import datetime

import pytest

from pipeline.errors import UserInputError
from pipeline.schedule import CronError, kfp_cron, parse_cron

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
        ("45 23 10/10 * *", T(2026, 1, 10, 23, 45), T(2026, 1, 20, 23, 45)),  # N/STEP runs to the field's end
        # Names, in any case, as in standard cron.
        ("30 9 * * mon-fri", T(2026, 11, 27, 10, 0), T(2026, 11, 30, 9, 30)),  # Friday -> Monday
        ("0 3 * * SUN", T(2026, 11, 26), T(2026, 11, 29, 3, 0)),
        ("0 0 1 Jan,jul *", T(2026, 2, 10), T(2026, 7, 1)),
        ("0 0 29 FEB ?", T(2026, 3, 1), T(2028, 2, 29)),  # '?' is '*' in a day field
    ],
)
def test_next_fire_time(expression, after, expected):
    assert parse_cron(expression).next_after(after) == expected


def test_names_select_the_same_days_as_numbers():
    named, numbered = parse_cron("0 3 * JAN-MAR MON,wed,Fri"), parse_cron("0 3 * 1-3 1,3,5")
    assert named.months == numbered.months == frozenset({1, 2, 3})
    assert named.weekdays == numbered.weekdays == frozenset({1, 3, 5})
    assert parse_cron("0 3 * * SUN").weekdays == parse_cron("0 3 * * 7").weekdays == frozenset({0})


@pytest.mark.parametrize(
    "expression,message",
    [
        ("* * * *", "has 4 fields; use five"),
        ("0 3 * * * *", "has 6 fields; use five"),
        ("61 * * * *", "minute value '61' must be 0-59"),
        ("* 5-2 * * *", "hour range '5-2' runs backwards"),
        ("* * * * funday", "day of week value 'funday' must be 0-7 or one of SUN,MON,TUE,WED,THU,FRI,SAT"),
        ("* * * MON *", "month value 'MON' must be 1-12 or one of JAN,"),
        ("*/0 * * * *", "minute step '0' must be a positive number"),
        ("*/² * * * *", "minute step '²' must be a positive number"),
        ("² * * * *", "minute value '²' must be 0-59"),
        ("? * * * *", "'?' is only allowed for the day fields"),
        ("0 3-- * * *", "cannot read hour '3--'"),
        ("0 0 31 2 *", "never fires"),
    ],
)
def test_bad_schedules_are_named(expression, message):
    with pytest.raises(CronError, match="^--schedule ") as raised:
        parse_cron(expression).next_after(T(2026, 1, 1))
    assert message in str(raised.value)
    assert isinstance(raised.value, UserInputError)  # the runners print it as one line


# ----------------------------------------------------------------------------- KFP's six fields


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 3 * * *", "0 0 3 * * *"),
        ("*/15 * * * MON-FRI", "0 */15 * * * MON-FRI"),
        ("30 0 3 * * ?", "30 0 3 * * ?"),
        ("0 0 0 1,15 JAN-JUN 0", "0 0 0 1,15 JAN-JUN 0"),
        ("0 3 * * mon", "0 0 3 * * mon"),
    ],
)
def test_cron_becomes_kfp_six_field_cron(expression, expected):
    assert kfp_cron(expression) == expected


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("", "has 0 fields"),
        ("0 3 * *", "has 4 fields"),
        ("0 0 3 * * * 2030", "has 7 fields"),
        ("60 * * * *", "minute value '60' must be 0-59"),
        ("60 0 3 * * *", "second value '60' must be 0-59"),
        ("0 24 * * *", "hour value '24' must be 0-23"),
        ("0 0 0 * *", "day of month value '0' must be 1-31"),
        ("*/0 * * * *", "minute step '0' must be a positive number"),
        ("? * * * *", "'?' is only allowed for the day fields"),
        ("0 3 * * FUNDAY", "day of week value 'FUNDAY'"),
        ("0 3 * * 7", "day of week value '7' must be 0-6"),  # KFP's scheduler: Sunday is 0 or SUN only
        ("0 3-- * * *", "cannot read hour '3--'"),
    ],
)
def test_bad_cron_is_refused_before_any_network_call(expression, fragment):
    with pytest.raises(CronError, match="^--schedule ") as raised:
        kfp_cron(expression)
    assert fragment in str(raised.value)


@pytest.mark.parametrize("expression", ["0 3 * * *", "*/15 * * * MON-FRI", "0 0 1,15 jan-jun 0", "5,10 1 ? * SUN"])
def test_both_runners_accept_the_same_five_field_expressions(expression):
    parse_cron(expression)
    assert kfp_cron(expression) == f"0 {expression}"
