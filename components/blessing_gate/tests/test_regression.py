"""The paired regression rule on two prediction sets that differ by a known number of caught positives."""

import dataclasses

import numpy as np
import pytest
from scipy import stats

from components.blessing_gate import spec
from components.blessing_gate.errors import GateInputError
from components.blessing_gate.judge import OVERALL_SLICE, judge
from components.blessing_gate.regression import (
    average_precision,
    check_matches_evaluation,
    compare,
    mcnemar_drop,
    paired_average_precision_drop,
)
from components.blessing_gate.rules import FAIL, PASS, UNCERTAIN
from components.blessing_gate.spec import BlessingGateParameters

POSITIVES, NEGATIVES = 100, 900
PARAMETERS = BlessingGateParameters(min_recall=0.5, min_auc=0.5, min_pr_auc=0.1, bootstrap_samples=200, seed=3)


def baseline_set():
    """The baseline catches 82 of 100 positives (probability 0.6-0.99) and flags 30 of 900 negatives."""
    rng = np.random.default_rng(11)
    labels = np.concatenate([np.ones(POSITIVES, dtype=int), np.zeros(NEGATIVES, dtype=int)])
    probability = np.concatenate(
        [rng.uniform(0.6, 0.99, 82), rng.uniform(0.05, 0.45, 18), rng.uniform(0.5, 0.7, 30), rng.uniform(0, 0.4, 870)]
    )
    return labels, probability


def served(probability):
    return {"probability": probability, "decision": (probability >= 0.5).astype(np.float32)}


def candidate_set(probability, lose, gain):
    """The baseline's scores with `lose` caught positives pushed under the threshold and `gain` missed ones over it."""
    changed = probability.copy()
    changed[:lose] = 0.3  # positives 0..81 are caught by the baseline
    changed[82 : 82 + gain] = 0.8  # positives 82..99 are missed by it
    return changed


def paired_run(lose, gain, parameters=PARAMETERS):
    labels, probability = baseline_set()
    return compare(
        labels,
        served(candidate_set(probability, lose, gain)),
        served(probability),
        samples=parameters.bootstrap_samples,
        seed=parameters.seed,
        confidence=parameters.confidence,
    )


def slice_metrics(caught):
    """TFMA-like overall metrics of a model catching `caught` of 100 positives (what the Evaluator would write)."""
    return {
        spec.AUC: 0.95,
        spec.PR_AUC: 0.7,
        spec.RECALL: caught / POSITIVES,
        spec.TRUE_POSITIVES: float(caught),
        spec.FALSE_NEGATIVES: float(POSITIVES - caught),
        spec.FALSE_POSITIVES: 30.0,
        spec.TRUE_NEGATIVES: 870.0,
    }


def recall_drop_check(paired, max_recall_drop):
    parameters = dataclasses.replace(PARAMETERS, max_recall_drop=max_recall_drop)
    caught = paired.caught_by_both + paired.candidate_only
    report = judge(
        {OVERALL_SLICE: slice_metrics(caught)}, parameters, baseline={OVERALL_SLICE: slice_metrics(82)}, paired=paired
    )
    row = next(row for row in report["slices"][0]["metrics"] if row["metric"] == spec.RECALL)
    return next(check for check in row["checks"] if check["kind"] == "max_drop"), report


def test_losing_two_of_a_hundred_caught_positives_is_a_small_real_drop_not_noise():
    paired = paired_run(lose=2, gain=0)
    assert (paired.caught_by_both, paired.candidate_only, paired.baseline_only, paired.missed_by_both) == (80, 0, 2, 18)
    assert paired.recall_drop == pytest.approx(0.02)
    # Given 2 disagreements, both lost: the drop is at most 0.02 and at least -0.014.
    assert paired.recall_drop_interval == pytest.approx((-0.0136754, 0.02), abs=1e-7)
    assert paired.mcnemar_p_value == pytest.approx(0.5)
    check, report = recall_drop_check(paired, max_recall_drop=0.05)
    assert check["verdict"] == PASS and report["blessed"] is True
    assert "2 caught by the baseline only, 0 by the candidate only" in check["message"]
    # No drop allowed at all: two lost frauds cannot be told from chance (McNemar p = 0.5), so
    # UNCERTAIN, which blocks on the overall slice.
    check, report = recall_drop_check(paired, max_recall_drop=0.0)
    assert check["verdict"] == UNCERTAIN and check["blocks"] is True and report["blessed"] is False


def test_the_same_net_drop_from_churn_has_a_much_wider_interval():
    churn = paired_run(lose=12, gain=10)
    assert (churn.candidate_only, churn.baseline_only) == (10, 12)
    assert churn.recall_drop == pytest.approx(0.02)
    assert churn.recall_drop_interval == pytest.approx((-0.0782739, 0.1127008), abs=1e-7)
    clean = paired_run(lose=2, gain=0)
    width = churn.recall_drop_interval[1] - churn.recall_drop_interval[0]
    assert width > 5 * (clean.recall_drop_interval[1] - clean.recall_drop_interval[0])


@pytest.mark.parametrize(
    "lose, gain, max_drop, verdict",
    [
        (8, 0, 0.0, FAIL),  # 8 of 8 disagreements lost: McNemar p = 0.0078
        (8, 0, 0.05, UNCERTAIN),  # drop 0.08 > 0.05, but the interval reaches 0.05
        (20, 0, 0.05, FAIL),  # drop 0.20, the whole interval above 0.05
        (5, 4, 0.0, UNCERTAIN),  # net 1 lost of 9 disagreements: noise
        (0, 3, 0.0, PASS),  # the candidate catches 3 more
    ],
)
def test_the_paired_rule_on_known_numbers_of_caught_positives(lose, gain, max_drop, verdict):
    paired = paired_run(lose, gain)
    assert (paired.baseline_only, paired.candidate_only) == (lose, gain)
    check, _ = recall_drop_check(paired, max_recall_drop=max_drop)
    assert check["verdict"] == verdict, check["message"]


@pytest.mark.parametrize("candidate_only, baseline_only", [(0, 6), (3, 9), (10, 12), (7, 2), (0, 1)])
def test_mcnemar_drop_is_scipys_exact_binomial_test_on_the_disagreements(candidate_only, baseline_only):
    drop, (lower, upper), p_value = mcnemar_drop(candidate_only, baseline_only, 100, 0.95)
    disagreements = candidate_only + baseline_only
    test = stats.binomtest(baseline_only, disagreements, 0.5)
    share = test.proportion_ci(confidence_level=0.95, method="exact")
    assert drop == pytest.approx((baseline_only - candidate_only) / 100)
    assert p_value == pytest.approx(test.pvalue)
    assert (lower, upper) == pytest.approx(
        (disagreements * (2 * share.low - 1) / 100, disagreements * (2 * share.high - 1) / 100)
    )
    # At a zero allowed drop the interval excludes 0 exactly when the exact McNemar test rejects at 5%.
    assert (lower > 0 or upper < 0) == (p_value < 0.05)


def test_identical_models_have_no_drop_and_zero_width_intervals():
    paired = paired_run(lose=0, gain=0)
    assert paired.recall_drop == 0.0 and paired.recall_drop_interval == (0.0, 0.0)
    assert paired.average_precision_drop == 0.0 and paired.average_precision_drop_interval == (0.0, 0.0)


def test_paired_bootstrap_of_average_precision_is_reproducible_and_tighter_than_unpaired():
    labels, probability = baseline_set()
    candidate = candidate_set(probability, lose=6, gain=0)
    first = paired_average_precision_drop(labels, candidate, probability, 400, 5, 0.95)
    assert paired_average_precision_drop(labels, candidate, probability, 400, 5, 0.95) == first
    candidate_ap, baseline_ap, (lower, upper) = first
    assert (candidate_ap, baseline_ap) == (average_precision(labels, candidate), average_precision(labels, probability))
    assert 0.0 < lower < baseline_ap - candidate_ap < upper
    # The paired interval of the drop is narrower than one model's own interval (a constant score has
    # none), let alone the difference of two independent ones (about 1.4 times wider still).
    alone = paired_average_precision_drop(labels, probability, np.zeros_like(probability), 400, 5, 0.95)
    assert upper - lower < 0.6 * (alone[2][1] - alone[2][0])


def test_counts_that_differ_from_the_evaluators_are_an_error():
    paired = paired_run(lose=2, gain=0)
    check_matches_evaluation(paired, slice_metrics(80), slice_metrics(82))
    with pytest.raises(GateInputError, match="does not reproduce the Evaluator's counts"):
        check_matches_evaluation(paired, slice_metrics(81), slice_metrics(82))


def test_an_eval_split_of_positives_only_still_compares():
    labels = np.ones(10, dtype=int)
    scores = np.linspace(0.1, 1.0, 10)
    paired = compare(labels, served(scores), served(scores[::-1]), samples=100, seed=0, confidence=0.95)
    assert paired.candidate_average_precision == paired.baseline_average_precision == 1.0


def test_labels_must_be_binary():
    labels, probability = baseline_set()
    with pytest.raises(GateInputError, match="0/1 label"):
        compare(labels * 2, served(probability), served(probability), samples=100, seed=0, confidence=0.95)
