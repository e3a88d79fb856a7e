"""ClassSkew's parameters: every default and check, written once."""

from __future__ import annotations

import dataclasses
from typing import Optional

from components.common.parameters import ComponentParameters, require, require_choice, require_fraction

FINDING_ACTIONS = ("warn", "fail")


@dataclasses.dataclass(frozen=True)
class ClassSkewParameters(ComponentParameters):
    """When ClassSkew calls a label distribution imbalanced, skewed or drifted, and what it does then."""

    SECTION = "class_skew"

    # Majority/minority count ratio at or above which a split is `imbalanced` / `severe`.
    imbalanced_ratio: float = 3.0
    severe_ratio: float = 100.0
    # Train-vs-eval (skew) and previous-vs-current span (drift) label distribution limits.
    skew_linf_threshold: float = 0.01
    skew_js_threshold: float = 0.01
    drift_linf_threshold: float = 0.01
    drift_js_threshold: float = 0.01
    on_single_class: str = "fail"
    on_empty_split: str = "fail"
    on_severe_imbalance: str = "warn"
    on_skew: str = "warn"
    on_drift: str = "warn"
    # Binary labels: the class of interest; None means "1" if present, else train's minority class.
    positive_class: Optional[str] = None

    def __post_init__(self) -> None:
        require(
            self.imbalanced_ratio >= 1.0, f"class_skew.imbalanced_ratio must be >= 1, got {self.imbalanced_ratio!r}"
        )
        require(
            self.severe_ratio >= self.imbalanced_ratio,
            f"class_skew.severe_ratio ({self.severe_ratio!r}) must be >= imbalanced_ratio ({self.imbalanced_ratio!r})",
        )
        for name in ("skew_linf_threshold", "skew_js_threshold", "drift_linf_threshold", "drift_js_threshold"):
            require_fraction(f"class_skew.{name}", getattr(self, name))
        for name in ("on_single_class", "on_empty_split", "on_severe_imbalance", "on_skew", "on_drift"):
            require_choice(f"class_skew.{name}", getattr(self, name), FINDING_ACTIONS)
