"""The multiclass decision rule on hand-made probabilities whose best class weights can be worked out by hand.

Class 0 is common, class 1 middling, class 2 the protected rare class. Rows of classes 0 and 2 give
class 1 no probability, so only w_2 matters for them; each such row is written by its ratio
r = p_2 / p_0 and is served class 2 exactly when w_2 * r > 1. On the grid of powers of two:
w_2 = 2^1.5 (2.83) catches r = 0.4; 2^2 also r = 0.3; 2^2.5 (5.66) also r = 0.2; 2^3 also r = 0.15.
"""

import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support

from components.trainer import decision_rule
from components.trainer.decision_rule import DecisionRuleError, choose_class_weights

RARE_RATIOS = [0.4, 0.4, 0.2, 0.2]  # class 2
DISTRACTOR_RATIOS = [0.3, 0.3, 0.15, 0.15, 0.15]  # class 0 rows that look a little like class 2


def _rows(ratio):
    return [1.0 / (1.0 + ratio), 0.0, ratio / (1.0 + ratio)]


def _hand_made(extra_distractors=()):
    rows, labels = [], []
    for ratio in RARE_RATIOS:
        rows.append(_rows(ratio))
        labels.append(2)
    for ratio in [*DISTRACTOR_RATIOS, *extra_distractors, *[0.05] * 10]:
        rows.append(_rows(ratio))
        labels.append(0)
    for _ in range(5):
        rows.append([0.1, 0.85, 0.05])
        labels.append(1)
    return np.array(labels), np.array(rows, dtype=np.float32)


def test_highest_protected_recall_whose_precision_meets_the_floor():
    labels, probabilities = _hand_made()
    # 2^2.5 catches every rare row and two distractors: recall 1, precision 4/6; 2^3 would fall to 4/9.
    choice = choose_class_weights(labels, probabilities, [2], min_precision=0.5)
    assert choice.class_weights == (1.0, 1.0, 2**2.5)
    assert choice.satisfied and choice.rule_applied == decision_rule.RULE
    assert choice.recall[2] == 1.0 and choice.precision[2] == pytest.approx(4 / 6)
    # A stricter floor: only 2^1.5 keeps precision 1 (recall 1/2); 2^2 halves the precision.
    strict = choose_class_weights(labels, probabilities, [2], min_precision=0.9)
    assert strict.class_weights == (1.0, 1.0, 2**1.5)
    assert (strict.recall[2], strict.precision[2]) == (0.5, 1.0)


def test_an_unreachable_floor_falls_back_to_the_best_protected_f1_and_says_so():
    # A distractor at r = 0.45 is caught before any rare row, so precision 1 is out of reach.
    labels, probabilities = _hand_made(extra_distractors=[0.45])
    choice = choose_class_weights(labels, probabilities, [2], min_precision=1.0)
    assert not choice.satisfied and choice.rule_applied == decision_rule.FALLBACK
    assert "the best worst-class precision the search reached is 0.6667" in choice.message
    # F1 of class 2 by w_2: 2.83 -> 4/7, 4 -> 4/9, 5.66 -> 8/11, 8 -> 8/14: the fallback takes 5.66.
    assert choice.class_weights == (1.0, 1.0, 2**2.5)
    assert choice.f1[2] == pytest.approx(8 / 11)


def test_figures_are_those_of_the_served_class_and_match_scikit_learn():
    rng = np.random.default_rng(3)
    labels = rng.choice(4, size=3000, p=[0.8, 0.12, 0.05, 0.03])
    logits = rng.normal(size=(labels.size, 4)) + 2.0 * np.eye(4)[labels] + np.log([0.8, 0.12, 0.05, 0.03])
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    choice = choose_class_weights(labels, probabilities, [2, 3], min_precision=0.3)
    assert choice.satisfied and choice.class_weights[0] == 1.0
    served = decision_rule.served_classes(probabilities, choice.class_weights)
    precision, recall, f1, _ = precision_recall_fscore_support(labels, served, labels=range(4), zero_division=0)
    np.testing.assert_allclose(choice.precision, precision)
    np.testing.assert_allclose(choice.recall, recall)
    np.testing.assert_allclose(choice.f1, f1)
    assert min(precision[2], precision[3]) >= 0.3
    plain = decision_rule.served_classes(probabilities, [1.0] * 4)
    plain_recall = precision_recall_fscore_support(labels, plain, labels=range(4), zero_division=0)[1]
    assert choice.min_protected_recall > min(plain_recall[2], plain_recall[3]), "the rule must beat the plain argmax"
    # Deterministic: the same inputs give the same weights.
    again = choose_class_weights(labels, probabilities, [2, 3], min_precision=0.3)
    assert again == choice


def test_decision_scores_are_the_weighted_probabilities_renormalised():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.2, 0.2, 0.6]], dtype=np.float32)
    scores = decision_rule.decision_scores(probabilities, [1.0, 2.0, 4.0])
    expected = np.array([[0.7, 0.4, 0.4], [0.2, 0.4, 2.4]]) / np.array([[1.5], [3.0]])
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    # A tie goes to the first class, as tf.argmax does.
    np.testing.assert_array_equal(decision_rule.served_classes(probabilities, [1.0, 2.0, 4.0]), [0, 2])


def test_the_report_names_every_class_and_the_rule():
    labels, probabilities = _hand_made()
    report = choose_class_weights(labels, probabilities, [2], min_precision=0.5).to_report(("none", "wear", "power"))
    assert report["class_weights"] == [1.0, 1.0, 2**2.5] and report["protected_class_names"] == ["power"]
    assert report["rule_requested"] == decision_rule.RULE and report["satisfied"] is True
    assert report["valid_per_class"]["power"]["recall"] == 1.0 and report["valid_min_protected_recall"] == 1.0


@pytest.mark.parametrize(
    "labels,probabilities,protected,fragment",
    [
        ([0, 1], [[0.5, 0.5], [0.5, 0.5]], [1], r"\[rows, k\] with k >= 3"),
        ([0, 3], [[0.2, 0.3, 0.5]] * 2, [1], r"class indices 0..2, found \[3\]"),
        ([0, 1.5], [[0.2, 0.3, 0.5]] * 2, [1], r"found \[1.5\]"),
        ([0, 1], [[0.2, 0.3, 0.5]] * 2, [2], r"no rows of protected classes \[2\]"),
        ([0, 1], [[0.2, 0.3, 0.5]] * 2, [], "protected classes must be one or more"),
        ([0], [[0.2, 0.3, 0.5]] * 2, [0], "1 labels for 2 rows"),
        ([0, 1], [[0.2, np.nan, 0.5]] * 2, [1], "finite"),
    ],
)
def test_bad_inputs_are_one_clear_error(labels, probabilities, protected, fragment):
    with pytest.raises(DecisionRuleError, match=fragment):
        choose_class_weights(labels, probabilities, protected, min_precision=0.5)
