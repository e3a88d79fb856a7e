"""The numbers ClassSkew computes from class counts: shares, distances, severity, weights and bias.

Pure functions of counts, so each is tested on hand-made numbers.
"""

from __future__ import annotations

import math
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from components.class_skew.errors import ClassSkewInputError

# Severities of one split's label distribution.
BALANCED = "balanced"
IMBALANCED = "imbalanced"
SEVERE = "severe"
SINGLE_CLASS = "single-class"
EMPTY = "empty"

# Names that mean "the positive class" of a binary label, in order of preference.
_POSITIVE_NAMES = ("1", "true", "True")


def sort_classes(classes: Iterable[str]) -> List[str]:
    """Numeric order when every class is an int ("2" before "10"), else string order."""
    unique = set(classes)
    try:
        return sorted(unique, key=int)
    except ValueError:
        return sorted(unique)


def shares(counts: Mapping[str, int], classes: Sequence[str]) -> Dict[str, float]:
    total = sum(counts.get(c, 0) for c in classes)
    if total == 0:
        return {c: 0.0 for c in classes}
    return {c: counts.get(c, 0) / total for c in classes}


def linf_distance(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Largest absolute difference of class shares (TFDV's categorical skew measure)."""
    keys = set(p) | set(q)
    return max((abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in keys), default=0.0)


def js_divergence(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Jensen-Shannon divergence in bits (log base 2), so it lies in [0, 1] like the thresholds."""
    divergence = 0.0
    # In a fixed order: summed in set order, the last digit changed with the process's hash seed.
    for k in sorted(set(p) | set(q)):
        pk, qk = p.get(k, 0.0), q.get(k, 0.0)
        mk = (pk + qk) / 2.0
        if pk > 0:
            divergence += 0.5 * pk * math.log2(pk / mk)
        if qk > 0:
            divergence += 0.5 * qk * math.log2(qk / mk)
    return max(0.0, min(1.0, divergence))


def severity(
    present_counts: Sequence[int], imbalanced_ratio: float, severe_ratio: float
) -> Tuple[str, Optional[float]]:
    """Severity and majority/minority ratio over the classes that occur (ratio None below two classes)."""
    present = [count for count in present_counts if count > 0]
    if not present:
        return EMPTY, None
    if len(present) == 1:
        return SINGLE_CLASS, None
    ratio = max(present) / min(present)
    if ratio >= severe_ratio:
        return SEVERE, ratio
    if ratio >= imbalanced_ratio:
        return IMBALANCED, ratio
    return BALANCED, ratio


def balanced_class_weights(counts: Mapping[str, int], classes: Sequence[str]) -> Dict[str, Optional[float]]:
    """`n / (k * count_c)` over the k classes that occur (sklearn's 'balanced'); None for absent classes."""
    present = [c for c in classes if counts.get(c, 0) > 0]
    total = sum(counts.get(c, 0) for c in present)
    return {c: (total / (len(present) * counts[c]) if c in present else None) for c in classes}


def pick_positive_class(classes: Sequence[str], train_counts: Mapping[str, int], requested: Optional[str]) -> str:
    """The requested class, else "1" (or "true") when it is a class, else the rarer class in training."""
    if requested is not None:
        if requested not in classes:
            raise ClassSkewInputError(f"positive_class {requested!r} is not a class of the label (classes: {classes})")
        return requested
    for candidate in _POSITIVE_NAMES:
        if candidate in classes:
            return candidate
    # The rarer class is the one of interest; ties go to the later class name.
    return min(reversed(list(classes)), key=lambda c: train_counts.get(c, 0))


def initial_bias(counts: Mapping[str, int], positive_class: str) -> Optional[float]:
    """log(pos / neg): the output bias that makes an untrained model predict the base rate; None without both."""
    positives = counts.get(positive_class, 0)
    negatives = sum(n for c, n in counts.items() if c != positive_class)
    if positives > 0 and negatives > 0:
        return math.log(positives / negatives)
    return None


def ratio_text(ratio: Optional[float]) -> str:
    """A majority/minority ratio as `1:578`, `1:4.0`, or `-` below two classes."""
    if ratio is None:
        return "-"
    return f"1:{ratio:.0f}" if ratio >= 10 else f"1:{ratio:.1f}"
