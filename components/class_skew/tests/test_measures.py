"""The numbers: distances, severity, weights, bias and the positive class, on hand-made counts."""

from __future__ import annotations

import math

import pytest

from components.class_skew import measures
from components.class_skew.errors import ClassSkewInputError


def test_distances_of_identical_and_disjoint_distributions():
    p = {"a": 0.5, "b": 0.5}
    assert measures.linf_distance(p, p) == 0.0 and measures.js_divergence(p, p) == 0.0
    assert measures.linf_distance({"a": 1.0}, {"b": 1.0}) == 1.0
    assert measures.js_divergence({"a": 1.0}, {"b": 1.0}) == pytest.approx(1.0)


def test_severity_thresholds_are_inclusive():
    assert measures.severity([30, 10], 3.0, 100.0) == ("imbalanced", 3.0)
    assert measures.severity([29, 10], 3.0, 100.0) == ("balanced", 2.9)
    assert measures.severity([100, 1], 3.0, 100.0) == ("severe", 100.0)
    assert measures.severity([5, 0], 3.0, 100.0) == ("single-class", None)
    assert measures.severity([0, 0], 3.0, 100.0) == ("empty", None)


def test_balanced_class_weights_match_n_over_k_count():
    weights = measures.balanced_class_weights({"0": 90, "1": 10}, ["0", "1"])
    assert weights == {"0": pytest.approx(100 / 180), "1": pytest.approx(100 / 20)}
    # Weighted counts then sum to n: each class carries n / k.
    assert 90 * weights["0"] == pytest.approx(10 * weights["1"])


def test_initial_bias_is_log_odds_and_needs_both_classes():
    assert measures.initial_bias({"0": 990, "1": 10}, "1") == pytest.approx(math.log(10 / 990))
    assert measures.initial_bias({"0": 25, "1": 0}, "1") is None
    assert measures.initial_bias({"0": 0, "1": 4}, "1") is None


def test_positive_class_choice():
    assert measures.pick_positive_class(["0", "1"], {"0": 1, "1": 9}, None) == "1"
    assert measures.pick_positive_class(["fraud", "ok"], {"fraud": 3, "ok": 97}, None) == "fraud"
    assert measures.pick_positive_class(["fraud", "ok"], {"fraud": 3, "ok": 97}, "ok") == "ok"
    with pytest.raises(ClassSkewInputError, match=r"positive_class 'x' is not a class"):
        measures.pick_positive_class(["0", "1"], {}, "x")


def test_classes_sort_numerically_when_all_ints():
    assert measures.sort_classes(["10", "2", "1", "2"]) == ["1", "2", "10"]
    assert measures.sort_classes(["b", "10", "a"]) == ["10", "a", "b"]


def test_ratio_text():
    assert measures.ratio_text(577.5) == "1:578"
    assert measures.ratio_text(4.0) == "1:4.0"
    assert measures.ratio_text(None) == "-"


def test_js_divergence_does_not_depend_on_the_process_hash_seed():
    """Summed in set order, its last digit changed from process to process (string hashing is salted)."""
    import subprocess
    import sys

    program = (
        "from components.class_skew import measures\n"
        "p = {f'class_{i}': (i + 1) / 210.0 for i in range(20)}\n"
        "q = {f'class_{i}': (20 - i) / 210.0 for i in range(20)}\n"
        "print(repr(measures.js_divergence(p, q)))\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", program],
            env={"PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(8)
    }
    assert len(outputs) == 1, outputs
