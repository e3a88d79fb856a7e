"""Slice-feature derivation: hour of day, hour band and amount bucket."""

import math

import pytest

from pipeline import features


@pytest.mark.parametrize(
    "seconds,hour,band",
    [
        (0, 0, "night"),
        (5 * 3600 + 3599, 5, "night"),
        (6 * 3600, 6, "morning"),
        (13 * 3600, 13, "afternoon"),
        (23 * 3600 + 10, 23, "evening"),
        (24 * 3600 + 7 * 3600, 7, "morning"),
        (172792, 23, "evening"),
    ],
)
def test_hour_of_day_and_band(seconds, hour, band):
    assert features.hour_of_day(seconds) == hour
    assert features.hour_band(hour) == band


@pytest.mark.parametrize(
    "amount,bucket",
    [(0.0, "lt_10"), (9.99, "lt_10"), (10.0, "10_to_100"), (999.0, "100_to_1000"), (25691.16, "ge_1000")],
)
def test_amount_bucket(amount, bucket):
    assert features.amount_bucket(amount) == bucket


@pytest.mark.parametrize("bad", [-1.0, math.nan])
def test_negative_or_nan_values_are_refused(bad):
    with pytest.raises(ValueError, match="Time must be a non-negative"):
        features.hour_of_day(bad)
    with pytest.raises(ValueError, match="Amount must be a non-negative"):
        features.amount_bucket(bad)


def test_clean_columns_hold_every_model_input_once():
    assert len(features.NUMERIC_FEATURE_KEYS) == 30
    assert len(set(features.CLEAN_CSV_COLUMNS)) == len(features.CLEAN_CSV_COLUMNS)
    assert features.LABEL_KEY not in features.NUMERIC_FEATURE_KEYS
