"""Exact, seeded, stratified assignment of a stream of rows to train/valid/eval.

Each class's rows are split in the given shares to within one row (largest-remainder rounding of
share x count), and which rows go where is random: sequential selection sampling, where each row
goes to split s with probability (rows still owed to s) / (rows of its class still to come). That
draws every assignment with the exact counts with equal probability, needs the class counts up
front (data prep's first pass) and O(1) memory, and depends only on the seed, the class and the
row's position among its class's rows.
"""

from __future__ import annotations

import math
import random
from typing import Any, Dict, Mapping


def split_targets(count: int, shares: Mapping[str, float]) -> Dict[str, int]:
    """How many of `count` rows each split gets: floor(share x count), the rest by largest remainder."""
    exact = {name: share * count for name, share in shares.items()}
    targets = {name: math.floor(value) for name, value in exact.items()}
    order = sorted(shares, key=lambda name: (-(exact[name] - targets[name]), list(shares).index(name)))
    for name in order[: count - sum(targets.values())]:
        targets[name] += 1
    return targets


def minimum_rows_per_class(shares: Mapping[str, float]) -> int:
    """The fewest rows of a class that give every split at least one."""
    count = len(shares)
    while min(split_targets(count, shares).values()) < 1:
        count += 1
    return count


class SplitCountError(ValueError):
    """More (or fewer) rows of a class arrived than were counted: the input changed between the two passes."""


class StratifiedSplitter:
    """Assigns rows, one at a time and in file order, to splits with exact per-class counts."""

    def __init__(self, class_counts: Mapping[Any, int], shares: Mapping[str, float], seed: int):
        self._owed = {cls: split_targets(count, shares) for cls, count in class_counts.items()}
        self._left = dict(class_counts)
        self._targets = {cls: dict(targets) for cls, targets in self._owed.items()}
        self._random = {cls: random.Random(f"{seed}/{cls}") for cls in class_counts}

    def assign(self, cls: Any) -> str:
        if self._left.get(cls, 0) <= 0:
            raise SplitCountError(f"more rows of class {cls!r} than the {sum(self._targets[cls].values())} counted")
        owed = self._owed[cls]
        draw = self._random[cls].random() * self._left[cls]
        chosen = None
        for name, rows in owed.items():
            if rows and draw < rows:
                chosen = name
                break
            draw -= rows
        if chosen is None:  # floating-point rounding at the very top of the range
            chosen = [name for name, rows in owed.items() if rows][-1]
        owed[chosen] -= 1
        self._left[cls] -= 1
        return chosen

    def check_complete(self) -> None:
        short = {cls: left for cls, left in self._left.items() if left}
        if short:
            raise SplitCountError(f"fewer rows than counted, per class still missing: {short}")

    def counts(self) -> Dict[str, Dict[Any, int]]:
        """Rows assigned so far, per split and class."""
        splits = next(iter(self._targets.values())).keys() if self._targets else ()
        return {
            name: {cls: self._targets[cls][name] - self._owed[cls][name] for cls in self._targets} for name in splits
        }
