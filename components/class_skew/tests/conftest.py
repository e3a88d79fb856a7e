"""Statistics shared by the executor's tests: TFDV runs once per session, not once per test."""

from __future__ import annotations

import pytest

from components.class_skew.tests import fixtures
from components.class_skew.tests.fixtures import BINARY, binary_stats


@pytest.fixture(scope="session")
def stats():
    """TFDV statistics of label columns with known counts."""
    project = fixtures.project_schema()
    return {
        "balanced_train": binary_stats({0: 30, 1: 30}, project),
        "balanced_eval": binary_stats({0: 10, 1: 10}, project),
        "imbalanced_train": binary_stats({0: 80, 1: 20}),
        "imbalanced_eval": binary_stats({0: 40, 1: 10}),
        "severe_train": binary_stats({0: 1155, 1: 2}),
        "severe_eval": binary_stats({0: 577, 1: 1}),
        "single_train": binary_stats({0: 25}),
        "empty": binary_stats({}),
        "skewed_eval": binary_stats({0: 16, 1: 4}),
        "drift_previous_train": binary_stats({0: 90, 1: 10}),
        "no_counts": fixtures.statistics(fixtures.label_column({0: 8, 1: 2}), None),
        "no_label": fixtures.statistics(fixtures.label_column({0: 8, 1: 2}), BINARY, label_key="other"),
    }
