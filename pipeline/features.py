"""Feature and label names of the credit-card fraud data, and the derived slice features.

Every other module takes names from here, so a data set with other columns needs
changes in this file (and the schema) only.
"""

from __future__ import annotations

import math
from typing import Mapping

LABEL_KEY = "Class"
LABEL_VALUES = (0, 1)
POSITIVE_LABEL = 1

TIME_KEY = "Time"
AMOUNT_KEY = "Amount"
PCA_FEATURE_KEYS = tuple(f"V{i}" for i in range(1, 29))
# The 30 numeric model inputs, in the CSV's order.
NUMERIC_FEATURE_KEYS = (TIME_KEY, *PCA_FEATURE_KEYS, AMOUNT_KEY)

# Derived from Time and Amount by data prep; used to slice evaluation, not as model inputs.
HOUR_OF_DAY_KEY = "hour_of_day"
HOUR_BAND_KEY = "hour_band"
AMOUNT_BUCKET_KEY = "amount_bucket"
DERIVED_FEATURE_KEYS = (HOUR_OF_DAY_KEY, HOUR_BAND_KEY, AMOUNT_BUCKET_KEY)
SLICE_FEATURE_KEYS = (HOUR_BAND_KEY, AMOUNT_BUCKET_KEY)

# Column order of the clean CSV that data prep writes and ExampleGen reads.
CLEAN_CSV_COLUMNS = (*NUMERIC_FEATURE_KEYS, *DERIVED_FEATURE_KEYS, LABEL_KEY)

SECONDS_PER_HOUR = 3600
# Hour bands: [start_hour, end_hour) -> name. Night is when card fraud rates peak in this data.
HOUR_BANDS = (
    (0, 6, "night"),
    (6, 12, "morning"),
    (12, 18, "afternoon"),
    (18, 24, "evening"),
)
# Amount buckets: [lower, upper) in the data's currency unit -> name.
AMOUNT_BUCKETS = (
    (0.0, 10.0, "lt_10"),
    (10.0, 100.0, "10_to_100"),
    (100.0, 1000.0, "100_to_1000"),
    (1000.0, math.inf, "ge_1000"),
)
HOUR_BAND_NAMES = tuple(name for _, _, name in HOUR_BANDS)
AMOUNT_BUCKET_NAMES = tuple(name for _, _, name in AMOUNT_BUCKETS)


def hour_of_day(seconds_since_first: float) -> int:
    """Hour of day (0-23) of a transaction; `Time` counts seconds from the first one.

    The data starts at midnight of day one (the transaction volume dips every 24 h
    at the same offset), so the offset modulo a day is the clock time.
    """
    if seconds_since_first < 0 or math.isnan(seconds_since_first):
        raise ValueError(f"{TIME_KEY} must be a non-negative number of seconds, got {seconds_since_first!r}")
    return int(seconds_since_first // SECONDS_PER_HOUR) % 24


def hour_band(hour: int) -> str:
    for start, end, name in HOUR_BANDS:
        if start <= hour < end:
            return name
    raise ValueError(f"hour of day must be in [0, 24), got {hour!r}")


def amount_bucket(amount: float) -> str:
    if amount < 0 or math.isnan(amount):
        raise ValueError(f"{AMOUNT_KEY} must be a non-negative number, got {amount!r}")
    for lower, upper, name in AMOUNT_BUCKETS:
        if lower <= amount < upper:
            return name
    raise AssertionError("AMOUNT_BUCKETS covers [0, inf)")


def derive_slice_features(time_seconds: float, amount: float) -> Mapping[str, object]:
    """The derived columns of one transaction, keyed by their feature names."""
    hour = hour_of_day(time_seconds)
    return {
        HOUR_OF_DAY_KEY: hour,
        HOUR_BAND_KEY: hour_band(hour),
        AMOUNT_BUCKET_KEY: amount_bucket(amount),
    }
