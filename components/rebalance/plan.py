"""What Rebalance does to each class of a split: the per-class plan.

Pure Python (no Beam): the executor computes a `SplitPlan` from class counts before it
starts the Beam job that writes anything, so every bad-input case fails before a byte is written.

Every class gets a target count `n` from its count `N`. Each record of the class is written
`n // N` times, plus once more if it is among the `n % N` records with the smallest per-record
hash (see `record_keys.record_hash`). That one rule covers all strategies:
- undersample (n < N): `n // N == 0`, so exactly the `n` smallest-hash records are kept;
- oversample (n > N): every record is kept `n // N` times, `n % N` of them once more;
- keep (n == N): every record once.
SMOTE, augment_noise and mixup (the synthesis strategies) keep every original record once and add
`n - N` synthetic records, spread over the base records by the same rule.

The hybrid meeting point: for a minority count m, majority count M and target ratio t, hybrid
oversamples the minority and undersamples the majority by the same factor g = sqrt(t * M / m),
so m' = sqrt(t * m * M) and M' = m' / t = sqrt(m * M / t): the geometric mean of the two pure strategies'
results, halving (in log scale) both the duplication and the data thrown away.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Dict, Iterable, Mapping, Tuple, Type

from components.rebalance.errors import RebalanceInputError

if TYPE_CHECKING:  # only a type here: the plan stays free of TFX imports
    from components.rebalance.spec import RebalanceParameters

# How the k records of a class with the smallest hashes are found (k = `ClassRule.extra`):
# - k <= SINGLE_PASS_MAX_ROWS: in the same pass that writes the data. Records whose hash is below
#   an inflated threshold (expected k + 8 sqrt(k) + 8 of them) are gathered per class in one
#   worker and the k smallest kept: memory <= ~1.1 k records (at most ~110 MB of 1 KB records).
#   Fewer than k candidates (an 8-sigma event) makes the executor redo the split in two passes,
#   which selects the very same records.
# - k <= EXACT_CUT_MAX_ROWS: two passes; the first keeps only the k smallest hashes (Python ints in
#   one combiner accumulator, ~50 bytes each), the second writes records below that cut.
# - larger k: a Bernoulli threshold on the hash, one pass, O(1) memory. At k >= 1e6 the relative
#   standard deviation of the count is <= 0.1%, so the 1% tolerance is 10 standard deviations away.
# Every other count is exact.
SINGLE_PASS_MAX_ROWS = 100_000
EXACT_CUT_MAX_ROWS = 1_000_000
CUT_NONE, CUT_SINGLE_PASS, CUT_TWO_PASS, CUT_BERNOULLI = "none", "single_pass", "two_pass", "bernoulli"

# The strategies that keep every row and add synthetic rows made from real ones of the same class
# (modules `smote` and `augment`); here rather than in `spec`, so the plan stays free of TFX imports.
SYNTHESIS_STRATEGIES = ("smote", "augment_noise", "mixup")


@dataclasses.dataclass(frozen=True)
class CutLimits:
    """Which cut (see above) a class gets; tests lower the limits to run every path on tiny data."""

    single_pass_max_rows: int = SINGLE_PASS_MAX_ROWS
    exact_cut_max_rows: int = EXACT_CUT_MAX_ROWS


DEFAULT_CUT_LIMITS = CutLimits()


@dataclasses.dataclass(frozen=True)
class ClassRule:
    """How the records of one class are written: `copies` each, +1 for the `extra` smallest hashes.

    `synthetic` records are added on top by a synthesis strategy (then `copies` is 1 and `extra` 0).
    """

    count_before: int
    count_after: int

    @property
    def synthetic(self) -> int:
        return 0

    @property
    def copies(self) -> int:
        return self.count_after // self.count_before if self.count_before else 0

    @property
    def extra(self) -> int:
        return self.count_after % self.count_before if self.count_before else 0

    @property
    def action(self) -> str:
        if self.count_after == self.count_before:
            return "keep"
        return "undersample" if self.count_after < self.count_before else "oversample"

    def cut_mode(self, limits: CutLimits = DEFAULT_CUT_LIMITS) -> str:
        """How the `extra` smallest-hash records are found (see SINGLE_PASS_MAX_ROWS)."""
        if not self.extra:
            return CUT_NONE
        if self.extra <= limits.single_pass_max_rows:
            return CUT_SINGLE_PASS
        if self.extra <= limits.exact_cut_max_rows:
            return CUT_TWO_PASS
        return CUT_BERNOULLI


@dataclasses.dataclass(frozen=True)
class SmoteRule(ClassRule):
    """Every original record once, plus `count_after - count_before` synthetic records (any synthesis strategy)."""

    @property
    def synthetic(self) -> int:
        return self.count_after - self.count_before

    @property
    def copies(self) -> int:
        return 1

    @property
    def extra(self) -> int:
        return 0

    @property
    def action(self) -> str:
        return "synthesize" if self.synthetic else "keep"


@dataclasses.dataclass(frozen=True)
class SplitPlan:
    """The rules of every class of one split, and why (`note`)."""

    split: str
    rules: Mapping[str, ClassRule]
    note: str

    @property
    def counts_before(self) -> Dict[str, int]:
        return {name: rule.count_before for name, rule in sorted(self.rules.items())}

    @property
    def counts_after(self) -> Dict[str, int]:
        return {name: rule.count_after for name, rule in sorted(self.rules.items())}

    @property
    def changes_data(self) -> bool:
        return any(rule.action != "keep" for rule in self.rules.values())

    def needs_second_read(self, limits: CutLimits = DEFAULT_CUT_LIMITS) -> bool:
        return any(rule.cut_mode(limits) == CUT_TWO_PASS for rule in self.rules.values())

    @property
    def smote_classes(self) -> Dict[str, SmoteRule]:
        return {n: r for n, r in sorted(self.rules.items()) if isinstance(r, SmoteRule) and r.synthetic}


def unchanged_plan(split: str, counts: Mapping[str, int], note: str) -> SplitPlan:
    return SplitPlan(split, {name: ClassRule(n, n) for name, n in counts.items() if n > 0}, note)


def _check_factor(split: str, name: str, before: int, after: int, limit: float) -> None:
    if after > before and after / before > limit:
        raise RebalanceInputError(
            f"split {split!r}: class {name!r} would grow from {before} to {after} rows, a factor of "
            f"{after / before:.1f} > max_oversampling_factor={limit:g}. Lower the target (target_ratio / "
            f"target_counts), use strategy 'hybrid' or 'undersample', or raise max_oversampling_factor."
        )


def _binary_targets(m: int, big_m: int, strategy: str, ratio: float) -> Tuple[int, int]:
    """(minority_after, majority_after) for minority count m, majority count big_m and target ratio."""
    if strategy == "undersample":
        return m, max(m, min(big_m, round(m / ratio)))
    if strategy == "oversample" or strategy in SYNTHESIS_STRATEGIES:
        return max(m, min(big_m, round(ratio * big_m))), big_m
    # hybrid: the geometric-mean meeting point (module docstring).
    # The majority count follows from the minority's so the ratio is as exact as integers allow.
    minority_after = max(m, min(big_m, round(math.sqrt(ratio * m * big_m))))
    majority_after = max(minority_after, min(big_m, round(minority_after / ratio)))
    return minority_after, majority_after


def plan_split(split: str, counts: Mapping[str, int], params: RebalanceParameters, label_key: str) -> SplitPlan:
    """The per-class plan of one split to rebalance; raises RebalanceInputError on every bad case.

    `label_key` only names the label in the messages.
    """
    present = {name: int(n) for name, n in counts.items() if int(n) > 0}
    total = sum(present.values())
    if total == 0:
        raise RebalanceInputError(
            f"split {split!r} has no examples: nothing to rebalance. Check ExampleGen's output and the "
            f"split configuration, or remove {split!r} from rebalance splits."
        )
    if params.strategy == "none":
        return unchanged_plan(split, present, "strategy 'none': copied unchanged")
    synthesis = params.strategy in SYNTHESIS_STRATEGIES
    rule_type: Type[ClassRule] = SmoteRule if synthesis else ClassRule

    if params.target_counts is not None:
        targets = dict(params.target_counts)
        missing = sorted(name for name in targets if name not in present)
        if missing:
            raise RebalanceInputError(
                f"split {split!r}: target_counts names class(es) {missing} with no rows in this split; classes "
                f"found (label {label_key!r}): {dict(sorted(present.items()))}. Fix target_counts."
            )
        rules = {}
        for name, before in sorted(present.items()):
            after = targets.get(name, before)
            if after < before and (params.strategy == "oversample" or synthesis):
                raise RebalanceInputError(
                    f"split {split!r}: target_counts[{name!r}]={after} < {before} rows, but strategy "
                    f"{params.strategy!r} never removes rows; use 'undersample' or 'hybrid'."
                )
            if after > before and params.strategy == "undersample":
                raise RebalanceInputError(
                    f"split {split!r}: target_counts[{name!r}]={after} > {before} rows, but strategy "
                    f"'undersample' never adds rows; use 'oversample', 'hybrid' or a synthesis strategy "
                    f"({', '.join(SYNTHESIS_STRATEGIES)})."
                )
            if after == 0:
                raise RebalanceInputError(
                    f"split {split!r}: target_counts[{name!r}]=0 would drop the class entirely; give it at least 1 row."
                )
            _check_factor(split, name, before, after, params.max_oversampling_factor)
            rules[name] = rule_type(before, after)
        plan = SplitPlan(split, rules, f"target_counts {dict(params.target_counts)}")
    else:
        if len(present) == 1:
            (only,) = present
            message = (
                f"split {split!r} has only one class ({only!r}: {present[only]} rows) in label "
                f"{label_key!r}; {params.strategy} needs a minority and a majority class."
            )
            if params.on_single_class == "fail":
                raise RebalanceInputError(message + " Set on_single_class='skip' to copy such a split unchanged.")
            return unchanged_plan(split, present, message + " Skipped (on_single_class='skip'): copied unchanged.")
        if len(present) > 2:
            raise RebalanceInputError(
                f"split {split!r} has {len(present)} classes {dict(sorted(present.items()))} in label "
                f"{label_key!r}; target_ratio is for binary labels. Set target_counts per class."
            )
        # Minority = fewer rows; on a tie the data are balanced already and the order does not matter.
        minority, majority = sorted(present, key=lambda name: (present[name], name))
        m, big_m = present[minority], present[majority]
        if m / big_m >= params.target_ratio:
            return unchanged_plan(
                split,
                present,
                f"minority/majority = {m}/{big_m} = {m / big_m:.4g} >= target_ratio {params.target_ratio:g} "
                "already: copied unchanged",
            )
        minority_after, majority_after = _binary_targets(m, big_m, params.strategy, params.target_ratio)
        _check_factor(split, minority, m, minority_after, params.max_oversampling_factor)
        plan = SplitPlan(
            split,
            {minority: rule_type(m, minority_after), majority: rule_type(big_m, majority_after)},
            f"{params.strategy} to minority/majority = {minority_after}/{majority_after} "
            f"(target_ratio {params.target_ratio:g}); minority {minority!r}, majority {majority!r}",
        )

    for name, rule in plan.smote_classes.items():
        if rule.count_before > params.smote_max_minority_rows:
            raise RebalanceInputError(
                f"split {split!r}: {params.strategy} would hold class {name!r} ({rule.count_before} rows) in "
                f"memory, more than smote_max_minority_rows={params.smote_max_minority_rows}. Raise the limit if "
                "the workers have the memory, or use 'oversample' / 'hybrid'."
            )
        if params.strategy != "smote":
            # Noise needs a spread to scale by, mixup a second row to mix with.
            if rule.count_before < 2:
                raise RebalanceInputError(
                    f"split {split!r}: {params.strategy} needs at least 2 rows of class {name!r}, which has "
                    f"{rule.count_before}; use 'oversample' to repeat it."
                )
        elif params.k_neighbors >= rule.count_before:
            raise RebalanceInputError(
                f"split {split!r}: SMOTE k_neighbors={params.k_neighbors} needs more than {params.k_neighbors} rows "
                f"of class {name!r}, which has {rule.count_before}. Lower k_neighbors below {rule.count_before}."
            )
    return plan


def describe(plans: Iterable[SplitPlan]) -> str:
    return "; ".join(f"{p.split}: {p.counts_before} -> {p.counts_after} ({p.note})" for p in plans)
