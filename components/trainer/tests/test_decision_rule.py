"""The multiclass decision rule on hand-made probabilities whose best class weights can be worked out by hand.

Class 0 is common, class 1 middling, class 2 the protected rare class. In `_hand_made`, rows of
classes 0 and 2 give class 1 no probability, so only w_2 matters for them; each such row is
written by its ratio r = p_2 / p_0 and is served class 2 exactly when w_2 * r > 1. On the grid of
powers of two: w_2 = 2^1.5 (2.83) catches r = 0.4; 2^2 also r = 0.3; 2^2.5 (5.66) also r = 0.2;
2^3 also r = 0.15.
"""

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support

from components.trainer import decision_rule
from components.trainer.decision_rule import DecisionRuleError, choose_class_weights

RARE_RATIOS = [0.4, 0.4, 0.2, 0.2]  # class 2
DISTRACTOR_RATIOS = [0.3, 0.3, 0.15, 0.15, 0.15]  # class 0 rows that look a little like class 2
EASY_COMMON_ROWS = 50  # class 0 rows at r = 0.05: losing the two r = 0.3 distractors costs 2/55 < 0.05 of recall
LOSS = 0.05  # the Trainer's default `decision_max_recall_loss`


def _rows(ratio):
    return [1.0 / (1.0 + ratio), 0.0, ratio / (1.0 + ratio)]


def _hand_made(extra_distractors=()):
    rows, labels = [], []
    for ratio in RARE_RATIOS:
        rows.append(_rows(ratio))
        labels.append(2)
    for ratio in [*DISTRACTOR_RATIOS, *extra_distractors, *[0.05] * EASY_COMMON_ROWS]:
        rows.append(_rows(ratio))
        labels.append(0)
    for _ in range(5):
        rows.append([0.1, 0.85, 0.05])
        labels.append(1)
    return np.array(labels), np.array(rows, dtype=np.float32)


def _figures(labels, probabilities, weights):
    served = decision_rule.served_classes(probabilities, weights)
    return precision_recall_fscore_support(labels, served, labels=range(probabilities.shape[1]), zero_division=0)


def test_highest_protected_recall_whose_precision_meets_the_floor():
    labels, probabilities = _hand_made()
    # 2^2.5 catches every rare row and two distractors: recall 1, precision 4/6; 2^3 would fall to 4/9.
    choice = choose_class_weights(labels, probabilities, [2], min_precision=0.5, max_recall_loss=LOSS)
    assert choice.class_weights == (1.0, 1.0, 2**2.5)
    assert choice.satisfied and choice.rule_applied == decision_rule.RULE
    assert choice.recall[2] == 1.0 and choice.precision[2] == pytest.approx(4 / 6)
    # A stricter floor: only 2^1.5 keeps precision 1 (recall 1/2); 2^2 halves the precision.
    strict = choose_class_weights(labels, probabilities, [2], min_precision=0.9, max_recall_loss=LOSS)
    assert strict.class_weights == (1.0, 1.0, 2**1.5)
    assert (strict.recall[2], strict.precision[2]) == (0.5, 1.0)
    # Where the unprotected classes' floors do not bind, they change nothing: no bound at all gives the same.
    for bounded in (choice, strict):
        unbounded = choose_class_weights(
            labels, probabilities, [2], min_precision=bounded.min_precision, max_recall_loss=1
        )
        assert unbounded.class_weights == bounded.class_weights and unbounded.recall == bounded.recall
    assert choice.argmax_recall[0] == 1.0 and choice.recall[0] == pytest.approx(53 / 55)


def test_the_recall_bound_of_an_unprotected_class_caps_what_the_protected_class_may_take():
    labels, probabilities = _hand_made()
    # 2^2.5 costs class 0 two rows of 55 (0.036): more than a 0.02 bound allows, so 2^1.5 is the best left.
    choice = choose_class_weights(labels, probabilities, [2], min_precision=0.5, max_recall_loss=0.02)
    assert choice.satisfied and choice.class_weights == (1.0, 1.0, 2**1.5)
    assert choice.recall[0] == 1.0 and choice.recall[2] == 0.5


def _dumping_ground():
    """Weights that dump majority rows on class 1 meet every protected floor; the honest weights do too.

    Class 0: 10 rows [0.35, 0.25, 0.4] that the argmax serves class 2 (its precision 8/18 < 0.5),
    50 rows [0.45, 0.3, 0.25] it serves class 0, 40 easy rows. Class 2: 8 rows [0.3, 0.1, 0.6].
    w_1 = 2 sends all 60 look-alike rows to class 1 (0.5 > 0.4, 0.6 > 0.45): class 2's precision
    becomes 1, at the cost of 50 majority rows the argmax had right. w_2 = 2^-0.5 sends the 10 back
    to class 0 (0.28 < 0.35) and keeps every class 2 row (0.42 > 0.3).
    """
    rows = [[0.35, 0.25, 0.4]] * 10 + [[0.45, 0.3, 0.25]] * 50 + [[0.9, 0.05, 0.05]] * 40
    rows += [[0.2, 0.7, 0.1]] * 10 + [[0.3, 0.1, 0.6]] * 8
    labels = [0] * 100 + [1] * 10 + [2] * 8
    return np.array(labels), np.array(rows, dtype=np.float32)


def test_the_classes_it_does_not_protect_are_no_dumping_ground():
    labels, probabilities = _dumping_ground()
    # The failure the floors on unprotected classes exist for: these weights meet every protected floor
    # (class 2 recall 1, precision 1), which was all the rule asked, and serve 60% of class 0 as class 1.
    precision, recall, _, _ = _figures(labels, probabilities, [1.0, 2.0, 1.0])
    assert (precision[2], recall[2]) == (1.0, 1.0) and recall[0] == 0.4 and precision[1] == pytest.approx(10 / 70)
    choice = choose_class_weights(labels, probabilities, [2], min_precision=0.5, max_recall_loss=LOSS)
    assert choice.satisfied and choice.class_weights == (1.0, 1.0, 2**-0.5)
    assert choice.argmax_recall[0] == 0.9 and choice.recall[0] == 1.0, "the majority keeps (here regains) its recall"
    assert (choice.recall[2], choice.precision[2]) == (1.0, 1.0) and choice.precision[1] == 1.0


def _no_weights_meet_the_floors():
    """Class 2's rows sit among class 0's, so neither fallback can keep both; they disagree on which to give up.

    Class 0: 30 easy rows (r = 0.05), 40 at r = 0.19, 1 at r = 0.55. Class 2: 2 rows at r = 0.6 and
    10 at r = 0.2. w_2 = 2 catches the r >= 0.55 rows (precision 2/3); 2^2.5 also catches both groups
    near r = 0.2 (precision 12/53): class 2's F1 rises from 4/15 to 24/65, class 0's falls from 140/151 to 60/101.
    """
    ratios = [0.05] * 30 + [0.19] * 40 + [0.55] + [0.6] * 2 + [0.2] * 10
    rows = [_rows(ratio) for ratio in ratios] + [[0.1, 0.85, 0.05]] * 5
    labels = [0] * 71 + [2] * 12 + [1] * 5
    return np.array(labels), np.array(rows, dtype=np.float32)


def test_an_unreachable_floor_falls_back_to_the_best_macro_f1_over_every_class_and_says_so():
    labels, probabilities = _no_weights_meet_the_floors()
    choice = choose_class_weights(labels, probabilities, [2], min_precision=0.9, max_recall_loss=LOSS)
    assert not choice.satisfied and choice.rule_applied == decision_rule.FALLBACK
    assert "the closest the search reached still misses class 0 precision 0.8750 < 0.9; class 2 precision 0.6667" in (
        choice.message
    )
    assert choice.class_weights == (1.0, 1.0, 2.0)
    macro = {
        w: f1_score(labels, decision_rule.served_classes(probabilities, [1, 1, w]), average="macro")
        for w in decision_rule.GRID
    }
    assert choice.macro_f1 == pytest.approx(max(macro.values())) and macro[2.0] == max(macro.values())
    # The protected classes' F1 alone, the old fallback, would have taken 2^2.5 and served 40 of class 0 as class 2.
    protected_f1 = {w: _figures(labels, probabilities, [1, 1, w])[2][2] for w in decision_rule.GRID}
    assert max(protected_f1, key=protected_f1.get) == 2**2.5 and macro[2**2.5] < macro[2.0]


def test_figures_are_those_of_the_served_class_and_match_scikit_learn():
    rng = np.random.default_rng(3)
    labels = rng.choice(4, size=3000, p=[0.8, 0.12, 0.05, 0.03])
    logits = rng.normal(size=(labels.size, 4)) + 2.0 * np.eye(4)[labels] + np.log([0.8, 0.12, 0.05, 0.03])
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    choice = choose_class_weights(labels, probabilities, [2, 3], min_precision=0.3, max_recall_loss=LOSS)
    assert choice.satisfied and choice.class_weights[0] == 1.0
    assert all(float(2 * np.log2(w)).is_integer() for w in choice.class_weights), "served weights are powers of 2"
    precision, recall, f1, _ = _figures(labels, probabilities, choice.class_weights)
    np.testing.assert_allclose(choice.precision, precision)
    np.testing.assert_allclose(choice.recall, recall)
    np.testing.assert_allclose(choice.f1, f1)
    assert min(precision) >= 0.3, "every class served holds the precision floor"
    plain_recall = _figures(labels, probabilities, [1.0] * 4)[1]
    np.testing.assert_allclose(choice.argmax_recall, plain_recall)
    assert all(recall[c] >= plain_recall[c] - LOSS for c in (0, 1)), "the unprotected classes lose at most LOSS"
    assert choice.min_protected_recall > min(plain_recall[2], plain_recall[3]), "the rule must beat the plain argmax"
    # Deterministic: the same inputs give the same weights.
    again = choose_class_weights(labels, probabilities, [2, 3], min_precision=0.3, max_recall_loss=LOSS)
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
    choice = choose_class_weights(labels, probabilities, [2], min_precision=0.5, max_recall_loss=LOSS)
    report = choice.to_report(("none", "wear", "power"))
    assert report["class_weights"] == [1.0, 1.0, 2**2.5] and report["protected_class_names"] == ["power"]
    assert report["rule_requested"] == decision_rule.RULE and report["satisfied"] is True
    assert report["valid_per_class"]["power"]["recall"] == 1.0 and report["valid_min_protected_recall"] == 1.0
    assert report["max_recall_loss"] == LOSS and report["valid_per_class"]["none"]["argmax_recall"] == 1.0


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
        choose_class_weights(labels, probabilities, protected, min_precision=0.5, max_recall_loss=LOSS)


@pytest.mark.parametrize(
    "settings", [{"min_precision": 1.5, "max_recall_loss": LOSS}, {"min_precision": 0.5, "max_recall_loss": -0.1}]
)
def test_floors_outside_zero_one_are_refused(settings):
    labels, probabilities = _hand_made()
    with pytest.raises(DecisionRuleError, match=r"must be in \[0, 1\]"):
        choose_class_weights(labels, probabilities, [2], **settings)
