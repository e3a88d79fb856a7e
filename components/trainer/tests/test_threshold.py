"""Threshold choice on hand-built score lists whose precision/recall tables are written out below."""

import numpy as np
import pytest

from components.trainer import threshold

# Eight examples, four positives (P = 4), distinct scores. Flagging `score >= t`:
#   t    TP flagged precision recall F1 = 2TP/(flagged + P)
#   0.9  1  1       1        0.25   2/5  = 0.4
#   0.8  2  2       1        0.5    4/6  = 0.667
#   0.7  2  3       2/3      0.5    4/7  = 0.571
#   0.6  3  4       3/4      0.75   6/8  = 0.75   <- max F1
#   0.5  3  5       3/5      0.75   6/9  = 0.667
#   0.4  3  6       1/2      0.75   6/10 = 0.6
#   0.3  4  7       4/7      1      8/11 = 0.727
#   0.2  4  8       1/2      1      8/12 = 0.667
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
LABELS = np.array([1, 1, 0, 1, 0, 0, 1, 0])


def test_max_f1_picks_the_row_with_the_highest_f1():
    choice = threshold.choose_threshold(LABELS, SCORES, "max_f1")
    assert choice.threshold == 0.6
    assert (choice.precision, choice.recall, choice.f1) == pytest.approx((0.75, 0.75, 0.75))
    assert choice.satisfied and choice.rule_applied == "max_f1" and choice.rule_requested == "max_f1"


def test_max_f1_does_not_depend_on_input_order():
    order = np.random.default_rng(7).permutation(SCORES.size)
    assert threshold.choose_threshold(LABELS[order], SCORES[order], "max_f1").threshold == 0.6


def test_max_precision_at_recall():
    # recall >= 0.85 only at t = 0.3 (precision 4/7) and t = 0.2 (precision 1/2): pick 0.3.
    choice = threshold.choose_threshold(LABELS, SCORES, "max_precision_at_recall", min_recall=0.85)
    assert choice.threshold == 0.3
    assert (choice.precision, choice.recall) == pytest.approx((4 / 7, 1.0))
    assert choice.satisfied
    # recall >= 0.5 from t = 0.8 down; the highest precision there is 1 at t = 0.8.
    choice = threshold.choose_threshold(LABELS, SCORES, "max_precision_at_recall", min_recall=0.5)
    assert (choice.threshold, choice.precision, choice.recall) == (0.8, 1.0, 0.5)


def test_max_recall_at_precision():
    # precision >= 0.7 at t = 0.9, 0.8, 0.6; the highest recall there is 0.75 at t = 0.6.
    choice = threshold.choose_threshold(LABELS, SCORES, "max_recall_at_precision", min_precision=0.7)
    assert (choice.threshold, choice.recall, choice.precision) == (0.6, 0.75, 0.75)
    # precision >= 0.95 only at t = 0.9 and 0.8: recall 0.5 at t = 0.8.
    choice = threshold.choose_threshold(LABELS, SCORES, "max_recall_at_precision", min_precision=0.95)
    assert (choice.threshold, choice.recall, choice.precision) == (0.8, 0.5, 1.0)


def test_max_recall_at_precision_breaks_recall_ties_by_precision():
    # precision >= 0.6 at t = 0.9, 0.8, 0.7, 0.6, 0.5. Recall 0.75 at both t = 0.6 (precision 3/4)
    # and t = 0.5 (precision 3/5): the tie goes to the higher precision, t = 0.6.
    choice = threshold.choose_threshold(LABELS, SCORES, "max_recall_at_precision", min_precision=0.6)
    assert (choice.threshold, choice.recall, choice.precision) == (0.6, 0.75, 0.75)


def test_max_f1_breaks_ties_by_recall():
    # P = 2. t = 0.9: TP 1, flagged 1, F1 = 2/3, recall 1/2. t = 0.6: TP 2, flagged 4, F1 = 4/6 = 2/3,
    # recall 1. Equal F1: the higher recall wins.
    choice = threshold.choose_threshold(np.array([1, 0, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.6, 0.5]), "max_f1")
    assert (choice.threshold, choice.recall, choice.f1) == (0.6, 1.0, pytest.approx(2 / 3))


def test_tied_scores_are_flagged_together():
    # P = 3. t = 0.8 flags both 0.8s: TP 1, precision 1/2, recall 1/3, F1 2/5.
    # t = 0.5 flags four: TP 3, precision 3/4, recall 1, F1 6/7. t = 0.2: precision 3/5, F1 6/8.
    labels = np.array([1, 0, 1, 1, 0])
    scores = np.array([0.8, 0.8, 0.5, 0.5, 0.2], dtype=np.float32)
    choice = threshold.choose_threshold(labels, scores, "max_f1")
    assert choice.threshold == 0.5
    assert (choice.precision, choice.recall, choice.f1) == pytest.approx((0.75, 1.0, 6 / 7))
    high = threshold.choose_threshold(labels, scores, "max_recall_at_precision", min_precision=0.0)
    # Every threshold qualifies; the highest recall (1) is at 0.5 and 0.2, and 0.5 has the higher precision.
    assert high.threshold == 0.5


def test_matches_brute_force_on_random_scores_with_ties():
    rng = np.random.default_rng(3)
    labels = (rng.random(300) < 0.2).astype(int)
    scores = np.round(np.clip(labels * 0.3 + rng.random(300) * 0.7, 0, 1), 2)  # Many ties after rounding.

    def metrics_at(t):
        flagged = scores >= t
        tp = int(np.sum(flagged & (labels == 1)))
        return tp / flagged.sum(), tp / labels.sum(), 2 * tp / (flagged.sum() + labels.sum())

    table = {t: metrics_at(t) for t in np.unique(scores)}
    f1_best = max(f1 for _, _, f1 in table.values())
    choice = threshold.choose_threshold(labels, scores, "max_f1")
    assert choice.f1 == pytest.approx(f1_best)
    assert (choice.precision, choice.recall, choice.f1) == pytest.approx(table[choice.threshold])
    prec_best = max(p for p, r, _ in table.values() if r >= 0.9)
    choice = threshold.choose_threshold(labels, scores, "max_precision_at_recall", min_recall=0.9)
    assert choice.precision == pytest.approx(prec_best) and choice.recall >= 0.9
    assert (choice.precision, choice.recall, choice.f1) == pytest.approx(table[choice.threshold])
    rec_best = max(r for p, r, _ in table.values() if p >= 0.6)
    choice = threshold.choose_threshold(labels, scores, "max_recall_at_precision", min_precision=0.6)
    assert choice.recall == pytest.approx(rec_best) and choice.precision >= 0.6


# Precision never reaches 0.6 here (P = 2):
#   t    TP flagged precision recall F1
#   0.9  0  1       0         0      0
#   0.8  1  2       1/2       1/2    2/4 = 0.5
#   0.7  1  3       1/3       1/2    2/5 = 0.4
#   0.6  2  4       1/2       1      4/6 = 0.667
UNMET_SCORES = np.array([0.9, 0.8, 0.7, 0.6])
UNMET_LABELS = np.array([0, 1, 0, 1])


def test_unmet_rule_falls_back_and_says_so():
    choice = threshold.choose_threshold(
        UNMET_LABELS, UNMET_SCORES, "max_recall_at_precision", min_precision=0.6, fallback="max_f1"
    )
    assert choice.threshold == 0.6 and choice.f1 == pytest.approx(2 / 3)
    assert not choice.satisfied
    assert choice.rule_applied == "max_f1" and choice.rule_requested == "max_recall_at_precision"
    assert "max_recall_at_precision" in choice.message
    assert "precision >= 0.6" in choice.message and "best achievable precision is 0.5000" in choice.message
    assert "fell back to max_f1" in choice.message


def test_unmet_rule_falls_back_to_precision_at_recall():
    choice = threshold.choose_threshold(
        UNMET_LABELS,
        UNMET_SCORES,
        "max_recall_at_precision",
        min_precision=0.6,
        min_recall=0.85,
        fallback="max_precision_at_recall",
    )
    # recall >= 0.85 only at t = 0.6 (precision 1/2).
    assert (choice.threshold, choice.precision, choice.recall, choice.satisfied) == (0.6, 0.5, 1.0, False)


def test_unmet_rule_with_error_fallback_raises_naming_the_rule():
    with pytest.raises(threshold.ThresholdError, match=r"max_recall_at_precision.*best achievable precision is 0\.5"):
        threshold.choose_threshold(
            UNMET_LABELS, UNMET_SCORES, "max_recall_at_precision", min_precision=0.6, fallback="error"
        )


def test_unmet_fallback_raises():
    with pytest.raises(threshold.ThresholdError, match="fallback is unmet too"):
        threshold.choose_threshold(
            UNMET_LABELS, UNMET_SCORES, "max_recall_at_precision", min_precision=0.6, fallback="max_recall_at_precision"
        )


def test_labels_without_negatives_are_fine():
    choice = threshold.choose_threshold(np.ones(3), np.array([0.2, 0.5, 0.9]), "max_f1")
    # Every threshold has precision 1; the lowest (0.2) flags all three: recall 1, F1 1.
    assert (choice.threshold, choice.precision, choice.recall, choice.f1) == (0.2, 1.0, 1.0, 1.0)


@pytest.mark.parametrize(
    "labels,scores,kwargs,fragment",
    [
        (np.zeros(4), np.linspace(0, 1, 4), {}, "no positives among 4 rows"),
        (np.array([0, 1, 1]), np.array([0.1, 0.2]), {}, "labels (3) and scores (2) differ in length"),
        (np.array([0, 1, 1]), np.array([0.1, np.nan, 0.3]), {}, "1 NaN"),
        (np.array([0, 1, 1]), np.array([0.1, np.inf, 0.3]), {}, "index 1"),
        (np.array([0, 1, 2]), np.array([0.1, 0.2, 0.3]), {}, "labels must be 0 or 1, found [2]"),
        (np.array(["a", "b"]), np.array([0.1, 0.2]), {}, "numeric"),
        (np.array([]), np.array([]), {}, "empty"),
        (LABELS, SCORES, {"rule": "youden"}, "unknown threshold rule 'youden'; choose one of max_f1, "),
        (LABELS, SCORES, {"fallback": "guess"}, "unknown threshold fallback 'guess'"),
        (LABELS, SCORES, {"min_recall": 1.5}, "min_recall must be in [0, 1]"),
        (LABELS, SCORES, {"min_precision": -0.1}, "min_precision must be in [0, 1]"),
    ],
)
def test_bad_input_raises_clear_error(labels, scores, kwargs, fragment):
    rule = kwargs.pop("rule", "max_f1")
    with pytest.raises(threshold.ThresholdError) as raised:
        threshold.choose_threshold(labels, scores, rule, **kwargs)
    assert isinstance(raised.value, ValueError)
    assert fragment in str(raised.value)


def test_choice_is_frozen():
    choice = threshold.choose_threshold(LABELS, SCORES, "max_f1")
    with pytest.raises(AttributeError):
        choice.threshold = 0.1


def test_the_served_threshold_sits_a_margin_below_the_chosen_score_with_the_same_figures():
    chosen = threshold.choose_threshold(LABELS, SCORES, "max_f1")
    served = threshold.choose_served_threshold(LABELS, SCORES, "max_f1")
    assert chosen.next_lower_score == 0.5
    assert 0.6 * (1 - 2 * threshold.SERVING_MARGIN) < served.threshold < 0.6
    assert (served.precision, served.recall, served.f1) == (chosen.precision, chosen.recall, chosen.f1)


def test_a_positive_scored_a_few_float32_ulps_lower_when_served_is_still_flagged():
    # The Trainer's float64 score of the last caught positive, and the same row as a float32 serving
    # graph may compute it: three ulps lower. Served at the chosen score itself, the row is lost.
    trainer_score = 0.3141592653589793
    serving_score = np.float32(trainer_score)
    for _ in range(3):
        serving_score = np.nextafter(serving_score, np.float32(0))
    labels = np.array([1, 0, 1, 0, 0])
    scores = np.array([0.9, 0.5, trainer_score, 0.2, 0.1])
    chosen = threshold.choose_threshold(labels, scores, "max_recall_at_precision", min_precision=0.6)
    assert chosen.threshold == trainer_score and not serving_score >= np.float32(chosen.threshold)
    served = threshold.choose_served_threshold(labels, scores, "max_recall_at_precision", min_precision=0.6)
    assert serving_score >= np.float32(served.threshold)


def test_the_margin_never_reaches_the_next_lower_score():
    # A negative one float64 hair below the chosen positive: the served threshold must still leave it out.
    below = 0.5 - 1e-7
    labels = np.array([1, 1, 0, 0])
    scores = np.array([0.9, 0.5, below, 0.1])
    served = threshold.choose_served_threshold(labels, scores, "max_recall_at_precision", min_precision=1.0)
    assert np.float32(below) < np.float32(served.threshold) <= np.float32(0.5)
    flagged = np.float32(scores) >= np.float32(served.threshold)
    np.testing.assert_array_equal(flagged, [True, True, False, False])


def test_served_thresholds_flag_the_chosen_rows_in_float32_on_random_scores():
    rng = np.random.default_rng(7)
    labels = (rng.random(5000) < 0.02).astype(int)
    scores = np.clip(rng.normal(0.3, 0.2, 5000) + 0.3 * labels, 0, 1)
    for rule in ("max_f1", "max_precision_at_recall", "max_recall_at_precision"):
        chosen = threshold.choose_threshold(labels, scores, rule)
        served = threshold.choose_served_threshold(labels, scores, rule)
        np.testing.assert_array_equal(
            np.float32(scores) >= np.float32(served.threshold), scores >= chosen.threshold, err_msg=rule
        )


def test_a_threshold_that_flags_every_row_has_no_next_lower_score():
    choice = threshold.choose_threshold(np.ones(3), np.array([0.2, 0.5, 0.9]), "max_f1")
    assert choice.next_lower_score is None
    served = threshold.choose_served_threshold(np.ones(3), np.array([0.2, 0.5, 0.9]), "max_f1")
    assert 0.2 * (1 - 2 * threshold.SERVING_MARGIN) < served.threshold < 0.2
