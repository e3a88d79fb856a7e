"""The multiclass decision rule: per-class multiplicative weights on the probabilities, tuned on `valid`.

With k >= 3 classes the argmax of the softmax serves the majority's idea of the world: a rare
class wins a row only when the model is already sure. The served class is instead

    class = argmax_c  p_c * w_c / sum_j p_j * w_j      (the `decision_scores` of the signature)

with one weight per class, w_0 = 1 for the first class (only the ratios matter). A weight above 1
lowers the bar for its class: the multiclass form of moving the binary threshold, and exactly a
prior correction when w_c = prior'_c / prior_c.

`choose_class_weights` picks w on the `valid` split (never `eval`) by rule `RULE`: the highest
minimum recall over the protected classes, subject to floors that hold for every class:

- precision >= `min_precision` for each protected class, and for each unprotected class the
  weights serve at all (a class never served has no precision to hold, only recall to lose);
- recall >= its recall under the plain argmax (w = 1) minus `max_recall_loss` for each
  unprotected class.

Without the last two floors the rule is free to sacrifice the classes it does not protect: on
page-blocks, the class_weights, focal and balanced_batches models got weights that sent most
of the majority class ("text", 90% of the rows) to an unprotected class, a bin that cost nothing
and kept those rows off the protected classes: valid recall of "text" 0.10, 0.35 and 0, eval
accuracy 0.18, 0.40 and 0.09. With them, the unprotected classes pay at most `max_recall_loss`
of recall each and no class becomes a dumping ground below the precision floor. Ties go to the
higher macro-F1 over the protected classes, then the higher mean protected recall, then the
weights found first. When no weights meet every floor the search walks towards them (the least
total shortfall) and then falls back to `FALLBACK`, the highest macro-F1 over ALL classes, so the
fallback does not trade the unprotected classes away either; the choice says so
(`satisfied=False`, `message` names the floors still unmet), as the binary threshold's fallback does.

The search is deterministic: coordinate ascent from w = 1 over a fixed grid of powers of two
(`GRID`, 2^-10 .. 2^10 in half-powers), classes 1..k-1 in index order and then class 0 (moving
w_0 moves every other class at once, the one move that gives rows back to the first class),
until a round changes nothing (at most `MAX_ROUNDS`); the weights are then divided by w_0.
Each candidate costs one argmax and one confusion count over `valid`, so a round is k x 41
passes; `valid` fits in memory. Ratios of powers of two are powers of two, exact in float32, so
the weights served (2^-20 .. 2^20 after the division) are the weights tuned.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Sequence, Tuple, Union

import numpy as np

RULE = "max_min_protected_recall_at_precision"
FALLBACK = "max_macro_f1"
# Weights tried for each class: 2^-10 .. 2^10 in steps of 2^0.5, 1 among them.
GRID = tuple(float(2.0**exponent) for exponent in np.arange(-10.0, 10.25, 0.5))
MAX_ROUNDS = 10
# Figures are ratios of counts; a floor computed as argmax recall - loss may sit one rounding below
# the recall it names, which must count as met.
_TOLERANCE = 1e-9


class DecisionRuleError(ValueError):
    """The labels, probabilities or protected classes cannot tune a rule; the message names the problem."""


@dataclasses.dataclass(frozen=True)
class DecisionRuleChoice:
    """The tuned class weights and every class's precision, recall and F1 on the split they were tuned on."""

    class_weights: Tuple[float, ...]
    protected_classes: Tuple[int, ...]
    min_precision: float
    # Recall each unprotected class may lose against the plain argmax (`argmax_recall`).
    max_recall_loss: float
    rule_applied: str
    # False when no weights met every floor and the fallback was used.
    satisfied: bool
    message: str
    precision: Tuple[float, ...]
    recall: Tuple[float, ...]
    f1: Tuple[float, ...]
    argmax_recall: Tuple[float, ...]

    @property
    def min_protected_recall(self) -> float:
        return min(self.recall[c] for c in self.protected_classes)

    @property
    def protected_macro_f1(self) -> float:
        return float(np.mean([self.f1[c] for c in self.protected_classes]))

    @property
    def macro_f1(self) -> float:
        return float(np.mean(self.f1))

    def to_report(self, class_names: Sequence[str]) -> Dict[str, Any]:
        """The rule as the training report states it (JSON-able), classes by name and by index."""
        return {
            "kind": "per_class_weights",
            "served_class": "argmax_c p_c * w_c / sum_j p_j * w_j",
            "rule_requested": RULE,
            "rule_applied": self.rule_applied,
            "satisfied": self.satisfied,
            "message": self.message,
            "min_precision": self.min_precision,
            "max_recall_loss": self.max_recall_loss,
            "class_weights": list(self.class_weights),
            "protected_classes": list(self.protected_classes),
            "protected_class_names": [class_names[c] for c in self.protected_classes],
            "valid_min_protected_recall": self.min_protected_recall,
            "valid_protected_macro_f1": self.protected_macro_f1,
            "valid_macro_f1": self.macro_f1,
            "valid_per_class": {
                name: {
                    "precision": self.precision[c],
                    "recall": self.recall[c],
                    "f1": self.f1[c],
                    "argmax_recall": self.argmax_recall[c],
                }
                for c, name in enumerate(class_names)
            },
        }


def decision_scores(probabilities: np.ndarray, class_weights: Union[Sequence[float], np.ndarray]) -> np.ndarray:
    """p * w renormalised to sum 1 per row, in float32 as the serving signature computes it."""
    weighted = np.asarray(probabilities, np.float32) * np.asarray(class_weights, np.float32)
    return weighted / weighted.sum(axis=1, keepdims=True, dtype=np.float32)


def served_classes(probabilities: np.ndarray, class_weights: Union[Sequence[float], np.ndarray]) -> np.ndarray:
    """The class each row is served: the argmax of its decision scores (the first class on a tie)."""
    return np.argmax(decision_scores(probabilities, class_weights), axis=1)


@dataclasses.dataclass(frozen=True)
class _Figures:
    """Every class's precision, recall and F1 of one served decision, and how many rows it served each class."""

    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    served: np.ndarray


def _per_class(labels: np.ndarray, predicted: np.ndarray, k: int) -> _Figures:
    """Precision, recall and F1 of every class (0 where undefined: a class never predicted has precision 0)."""
    confusion = np.bincount(labels * k + predicted, minlength=k * k).reshape(k, k)
    true_positives = np.diag(confusion).astype(np.float64)
    predicted_counts, actual_counts = confusion.sum(axis=0), confusion.sum(axis=1)
    precision = np.divide(true_positives, predicted_counts, out=np.zeros(k), where=predicted_counts > 0)
    recall = np.divide(true_positives, actual_counts, out=np.zeros(k), where=actual_counts > 0)
    # F1 = 2TP / (predicted + actual); 0 when TP = 0.
    f1 = np.divide(2 * true_positives, predicted_counts + actual_counts, out=np.zeros(k), where=true_positives > 0)
    return _Figures(precision, recall, f1, predicted_counts)


def _check(labels: Any, probabilities: Any, protected_classes: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if probabilities.ndim != 2 or probabilities.shape[1] < 3:
        raise DecisionRuleError(f"probabilities must be [rows, k] with k >= 3 classes, got shape {probabilities.shape}")
    if not np.all(np.isfinite(probabilities)) or np.any(probabilities < 0):
        raise DecisionRuleError("probabilities must be finite and >= 0; the model produced invalid outputs")
    k = probabilities.shape[1]
    raw = np.asarray(labels).reshape(-1)
    if raw.size != probabilities.shape[0] or raw.size == 0:
        raise DecisionRuleError(
            f"{raw.size} labels for {probabilities.shape[0]} rows of probabilities; need as many, > 0"
        )
    as_int = raw.astype(np.int64)
    bad = (as_int != raw) | (as_int < 0) | (as_int >= k)
    if bad.any():
        raise DecisionRuleError(f"labels must be class indices 0..{k - 1}, found {np.unique(raw[bad])[:5].tolist()}")
    if not protected_classes or any(not 0 <= c < k for c in protected_classes):
        raise DecisionRuleError(f"protected classes must be one or more of 0..{k - 1}, got {list(protected_classes)}")
    absent = [c for c in protected_classes if not np.any(as_int == c)]
    if absent:
        raise DecisionRuleError(
            f"the tuning split has no rows of protected classes {absent}, so their recall is undefined; "
            "tune on a split that holds every protected class"
        )
    return as_int, probabilities


@dataclasses.dataclass(frozen=True)
class _Floors:
    """The rule's constraints: precision for the protected and every served class, recall for the unprotected."""

    protected: np.ndarray  # bool [k]
    min_precision: float
    min_recall: np.ndarray  # [k]: argmax recall - max_recall_loss for an unprotected class, 0 for a protected one

    def shortfalls(self, figures: _Figures) -> Tuple[np.ndarray, np.ndarray]:
        """How far each class's precision and recall sit below their floors (0 where met)."""
        holds_precision = self.protected | (figures.served > 0)
        precision = np.where(holds_precision, self.min_precision - figures.precision - _TOLERANCE, 0.0)
        recall = np.where(self.protected, 0.0, self.min_recall - figures.recall - _TOLERANCE)
        return np.maximum(precision, 0.0), np.maximum(recall, 0.0)

    def unmet(self, figures: _Figures) -> List[str]:
        """The floors `figures` miss, one phrase each, in class order."""
        precision, recall = self.shortfalls(figures)
        phrases = []
        for c in range(len(self.min_recall)):
            if precision[c] > 0:
                phrases.append(f"class {c} precision {figures.precision[c]:.4f} < {self.min_precision:g}")
            if recall[c] > 0:
                phrases.append(f"class {c} recall {figures.recall[c]:.4f} < {self.min_recall[c]:.4f}")
        return phrases


Key = Tuple[float, ...]


def _search(k: int, evaluate: Callable[[np.ndarray], Key]) -> Tuple[np.ndarray, Key]:
    """Coordinate ascent from w = 1 over `GRID`, classes 1..k-1 then 0; a candidate must strictly improve.

    The weights returned are divided by w_0, so the first is 1 and every ratio stays a power of two.
    """
    weights = np.ones(k)
    best = evaluate(weights)
    order = [*range(1, k), 0]
    for _ in range(MAX_ROUNDS):
        changed = False
        for c in order:
            for value in GRID:
                if value == weights[c]:
                    continue
                candidate = weights.copy()
                candidate[c] = value
                key = evaluate(candidate)
                if key > best:
                    best, weights, changed = key, candidate, True
        if not changed:
            break
    return weights / weights[0], best


def choose_class_weights(
    labels: Any,
    probabilities: Any,
    protected_classes: Sequence[int],
    *,
    min_precision: float,
    max_recall_loss: float,
) -> DecisionRuleChoice:
    """Per-class weights on `probabilities` ([rows, k]) for `labels` (0..k-1) by `RULE`; see the module doc."""
    if not 0.0 <= float(min_precision) <= 1.0:
        raise DecisionRuleError(f"min_precision must be in [0, 1], got {min_precision!r}")
    if not 0.0 <= float(max_recall_loss) <= 1.0:
        raise DecisionRuleError(f"max_recall_loss must be in [0, 1], got {max_recall_loss!r}")
    protected = tuple(int(c) for c in protected_classes)
    labels, probabilities = _check(labels, probabilities, protected)
    k = probabilities.shape[1]
    index = list(protected)
    is_protected = np.isin(np.arange(k), index)

    def figures(weights: np.ndarray) -> _Figures:
        return _per_class(labels, served_classes(probabilities, weights), k)

    argmax = figures(np.ones(k))
    floors = _Floors(is_protected, float(min_precision), np.where(is_protected, 0.0, argmax.recall - max_recall_loss))

    def constrained(weights: np.ndarray) -> Key:
        served = figures(weights)
        precision_short, recall_short = floors.shortfalls(served)
        shortfall = float(precision_short.sum() + recall_short.sum())
        if shortfall > 0:
            # Infeasible: rank by the total distance to the floors, so every coordinate can walk towards them.
            return (0.0, -shortfall)
        recall, f1 = served.recall[index], served.f1[index]
        return (1.0, float(np.min(recall)), float(np.mean(f1)), float(np.mean(recall)))

    def macro_f1(weights: np.ndarray) -> Key:
        served = figures(weights)
        recall = served.recall[index]
        return (float(np.mean(served.f1)), float(np.min(recall)), float(np.mean(recall)))

    weights, key = _search(k, constrained)
    if key[0] == 1.0:
        applied, satisfied = RULE, True
        message = (
            f"{RULE} met (precision >= {min_precision:g} for every protected and every served class; "
            f"each unprotected class within {max_recall_loss:g} of its argmax recall)"
        )
    else:
        closest = "; ".join(floors.unmet(figures(weights)))
        weights, _ = _search(k, macro_f1)
        applied, satisfied = FALLBACK, False
        message = (
            f"no class weights meet every floor of {RULE} (precision >= {min_precision:g}, unprotected recall "
            f"within {max_recall_loss:g} of the argmax's); the closest the search reached still misses {closest}; "
            f"fell back to {FALLBACK}"
        )
    chosen = figures(weights)
    return DecisionRuleChoice(
        class_weights=tuple(float(w) for w in weights),
        protected_classes=protected,
        min_precision=float(min_precision),
        max_recall_loss=float(max_recall_loss),
        rule_applied=applied,
        satisfied=satisfied,
        message=message,
        precision=tuple(float(v) for v in chosen.precision),
        recall=tuple(float(v) for v in chosen.recall),
        f1=tuple(float(v) for v in chosen.f1),
        argmax_recall=tuple(float(v) for v in argmax.recall),
    )
