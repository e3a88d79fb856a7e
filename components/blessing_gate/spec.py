"""The gate's parameters (the Evaluator's thresholds too): every default and check, written once."""

from __future__ import annotations

import dataclasses

from components.common.parameters import ComponentParameters, require, require_fraction


@dataclasses.dataclass(frozen=True)
class BlessingGateParameters(ComponentParameters):
    """The blessing gate: absolute thresholds per slice and allowed regression against the baseline."""

    SECTION = "evaluator"

    min_auc: float = 0.90
    min_pr_auc: float = 0.50
    min_recall: float = 0.70
    # Slices with fewer positives are reported as too small to judge. Recall measured on n
    # positives has a standard error of sqrt(r(1-r)/n): about 0.085 at r=0.8 with n=22, as
    # wide as the margins the gate judges, so below 30 positives a verdict is mostly noise.
    min_slice_positives: int = 30
    max_pr_auc_drop: float = 0.02
    max_recall_drop: float = 0.05
    # Recall at this false-positive rate is reported (not judged): how many frauds a fixed alert budget catches.
    recall_at_fpr: float = 0.001

    def __post_init__(self) -> None:
        for name in ("min_auc", "min_pr_auc", "min_recall", "max_pr_auc_drop", "max_recall_drop"):
            require_fraction(f"evaluator.{name}", getattr(self, name))
        require(
            0.0 < self.recall_at_fpr < 1.0, f"evaluator.recall_at_fpr must be in (0, 1), got {self.recall_at_fpr!r}"
        )
        require(self.min_slice_positives >= 1, "evaluator.min_slice_positives must be >= 1")
