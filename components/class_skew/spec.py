"""What ClassSkew is from outside: its channels, its parameters (every default and check, once), its artifact type."""

from __future__ import annotations

import dataclasses
from typing import Optional

from tfx import types
from tfx.types import standard_artifacts
from tfx.types.artifact import Artifact
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.class_skew.errors import ClassSkewParameterError
from components.common.component import LABEL_KEY  # the label: a data-set name, not a ClassSkew setting
from components.common.parameters import ComponentParameters

# Inputs. The Examples are read for their span only (never their records): in TFX 1.16 ExampleGen
# records the span as a custom property of its Examples, and StatisticsGen does not pass it on.
STATISTICS_KEY = "statistics"
SCHEMA_KEY = "schema"
PREVIOUS_STATISTICS_KEY = "previous_statistics"
EXAMPLES_KEY = "examples"
PREVIOUS_EXAMPLES_KEY = "previous_examples"

# Outputs.
REPORT_KEY = "class_skew"
HYPERPARAMETERS_KEY = "hyperparameters"

# What a finding does: `warn` records it and goes on, `fail` stops the pipeline before anything is written.
WARN = "warn"
FAIL = "fail"
FINDING_ACTIONS = (WARN, FAIL)

_RATIOS = ("imbalanced_ratio", "severe_ratio")
_THRESHOLDS = ("skew_linf_threshold", "skew_js_threshold", "drift_linf_threshold", "drift_js_threshold")
ACTION_SETTINGS = ("on_single_class", "on_empty_split", "on_severe_imbalance", "on_skew", "on_drift")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ClassSkewParameterError(message)


@dataclasses.dataclass(frozen=True)
class ClassSkewParameters(ComponentParameters):
    """When ClassSkew calls a label distribution imbalanced, skewed or drifted, and what it does then.

    Bad values raise ClassSkewParameterError naming the setting (`class_skew.on_skew must be ...`).
    """

    SECTION = "class_skew"

    # Majority/minority count ratio at or above which a split is `imbalanced` / `severe`.
    imbalanced_ratio: float = 3.0
    severe_ratio: float = 100.0
    # Train-vs-eval (skew) and previous-vs-current span (drift) label distribution limits:
    # L-infinity distance of the class shares, Jensen-Shannon divergence in bits.
    skew_linf_threshold: float = 0.01
    skew_js_threshold: float = 0.01
    drift_linf_threshold: float = 0.01
    drift_js_threshold: float = 0.01
    # on_single_class applies to the train split (other splits warn).
    on_single_class: str = FAIL
    on_empty_split: str = FAIL
    on_severe_imbalance: str = WARN
    on_skew: str = WARN
    on_drift: str = WARN
    # The split whose counts feed the Trainer, and the headline split of the skew.
    train_split: str = "train"
    eval_split: str = "eval"
    # Binary labels: the class of interest; None means "1" (or "true") if present, else train's minority class.
    positive_class: Optional[str] = None

    def __post_init__(self) -> None:
        for name in (*_RATIOS, *_THRESHOLDS):
            value = getattr(self, name)
            _require(
                isinstance(value, (int, float)) and not isinstance(value, bool),
                f"{self.setting(name)} must be a number, got {value!r}",
            )
            # TFX type-checks float parameters: an int such as 2 travels as 2.0.
            object.__setattr__(self, name, float(value))
        _require(
            self.imbalanced_ratio >= 1.0, f"class_skew.imbalanced_ratio must be >= 1, got {self.imbalanced_ratio!r}"
        )
        _require(
            self.severe_ratio >= self.imbalanced_ratio,
            f"class_skew.severe_ratio ({self.severe_ratio!r}) must be >= imbalanced_ratio ({self.imbalanced_ratio!r})",
        )
        for name in _THRESHOLDS:
            value = getattr(self, name)
            _require(0.0 <= value <= 1.0, f"{self.setting(name)} must be in [0, 1], got {value!r}")
        for name in ACTION_SETTINGS:
            value = getattr(self, name)
            _require(
                value in FINDING_ACTIONS,
                f"{self.setting(name)} must be one of {', '.join(FINDING_ACTIONS)}; got {value!r}",
            )
        _require(
            bool(self.train_split) and bool(self.eval_split),
            "class_skew.train_split and class_skew.eval_split must not be empty",
        )
        _require(
            self.train_split != self.eval_split,
            f"class_skew.train_split and class_skew.eval_split must differ, both are {self.train_split!r}",
        )
        _require(
            self.positive_class is None or bool(self.positive_class),
            "class_skew.positive_class must be None or a non-empty class name",
        )


class ClassSkewReport(Artifact):
    """The label's class distribution per split, skew, drift and findings (class_skew.json, summary.txt)."""

    TYPE_NAME = "imbalanced.ClassSkewReport"


class ClassSkewSpec(types.ComponentSpec):
    """Inputs, outputs and parameters of ClassSkew."""

    PARAMETERS = {
        LABEL_KEY: ExecutionParameter(type=str),
        **ClassSkewParameters.execution_parameters(),
    }
    INPUTS = {
        STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
        SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
        PREVIOUS_STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics, optional=True),
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples, optional=True),
        PREVIOUS_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples, optional=True),
    }
    OUTPUTS = {
        REPORT_KEY: ChannelParameter(type=ClassSkewReport),
        HYPERPARAMETERS_KEY: ChannelParameter(type=standard_artifacts.HyperParameters),
    }
