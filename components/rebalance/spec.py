"""What Rebalance is from outside: its channels, its parameters (every default and check, once), its Spec.

`RebalanceParameters` is also the pipeline's `rebalance` section. The data set's names (the label
and the numeric model inputs) are not settings of Rebalance: they describe the data, so they are
passed as parameters of their own, `label_key` and `feature_keys`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Mapping, Optional, Sequence, Tuple, Union

from tfx import types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.class_skew.spec import ClassSkewReport
from components.common.component import LABEL_KEY
from components.common.parameters import ComponentParameters
from components.rebalance.errors import RebalanceParameterError
from components.rebalance.plan import SYNTHESIS_STRATEGIES

# Channels.
EXAMPLES_KEY = "examples"
CLASS_SKEW_KEY = "class_skew"
REBALANCED_EXAMPLES_KEY = "rebalanced_examples"

# Data-set names besides `LABEL_KEY`, passed as their own parameters (they describe the data, not the rebalancing).
FEATURE_KEYS = "feature_keys"

STRATEGIES = ("none", "undersample", "oversample", "hybrid", *SYNTHESIS_STRATEGIES)
SINGLE_CLASS_ACTIONS = ("fail", "skip")
DEFAULT_SEED = 42

TargetCountsLike = Union[None, Mapping[str, int], Iterable[Tuple[str, int]]]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise RebalanceParameterError(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _names(value: Union[str, Iterable[str]]) -> Tuple[str, ...]:
    """A tuple of names; one name given as a str is a tuple of one (not of its characters)."""
    return (value,) if isinstance(value, str) else tuple(value)


def normalize_target_counts(target_counts: TargetCountsLike) -> Optional[Tuple[Tuple[str, int], ...]]:
    """((class, count), ...) with class names as str; accepts a mapping or pairs; None stays None."""
    if target_counts is None:
        return None
    pairs = list(target_counts.items()) if isinstance(target_counts, Mapping) else list(target_counts)
    normalized = []
    for pair in pairs:
        _require(
            isinstance(pair, (tuple, list)) and len(pair) == 2,
            f"rebalance.target_counts entries must be (class, count) pairs, got {pair!r}",
        )
        name, count = pair
        _require(_is_int(count), f"rebalance.target_counts[{name!r}] must be an int, got {count!r}")
        _require(count >= 0, f"rebalance.target_counts[{name!r}] must be >= 0, got {count!r}")
        normalized.append((str(name), int(count)))
    names = [name for name, _ in normalized]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    _require(not duplicates, f"rebalance.target_counts names classes more than once: {duplicates}")
    _require(bool(normalized), "rebalance.target_counts must name at least one class (or be none to use target_ratio)")
    return tuple(normalized)


@dataclasses.dataclass(frozen=True)
class RebalanceParameters(ComponentParameters):
    """What the Rebalance component does to the training split.

    Bad values raise RebalanceParameterError naming the setting (`rebalance.target_ratio must be ...`).
    Sequences may be given as any iterable (`target_counts` also as a mapping); they are stored as tuples.
    """

    SECTION = "rebalance"

    # "none" by default: on the credit-card data the strategy report (benchmarks/RESULTS.md) found
    # plain BCE with the initial bias on all the data best by PR-AUC; resampling threw away signal.
    strategy: str = "none"
    # Binary target: minority/majority count ratio after rebalancing (1.0 = balanced).
    target_ratio: float = 0.1
    # Multiclass target: ((class, count), ...); overrides target_ratio when set. Classes not named keep their rows.
    target_counts: Optional[Tuple[Tuple[str, int], ...]] = None
    # Splits to rebalance; every other split is copied unchanged.
    splits: Tuple[str, ...] = ("train",)
    # The seed of every random choice (a different seed gives a different sample).
    seed: int = DEFAULT_SEED
    # SMOTE neighbours (exact kNN, Euclidean on the SMOTE features).
    k_neighbors: int = 5
    # The numeric features SMOTE interpolates, augment_noise perturbs and mixup mixes (the others
    # are copied from the base); empty: every numeric model input (the component's `feature_keys`).
    smote_feature_keys: Tuple[str, ...] = ()
    # Refuse targets that would grow a class by more than this factor.
    max_oversampling_factor: float = 100.0
    # Refuse SMOTE, augment_noise and mixup on a class with more rows (it is held in one worker's memory).
    smote_max_minority_rows: int = 200_000
    # augment_noise: the noise's standard deviation, as a fraction of each feature's standard
    # deviation over the rows of the class being grown.
    noise_scale: float = 0.1
    # mixup: lambda ~ Beta(alpha, alpha), folded to max(lambda, 1 - lambda) so a row stays nearer
    # its base, whose label and other features it keeps. 0.4 is the top of the range [0.1, 0.4]
    # the mixup paper (Zhang et al. 2018) found to help; smaller alphas put lambda nearer 1.
    mixup_alpha: float = 0.4
    # A split with one class: "fail", or "skip" (copy it unchanged, with a warning).
    on_single_class: str = "fail"

    def __post_init__(self) -> None:
        _require(
            self.strategy in STRATEGIES,
            f"rebalance.strategy must be one of {', '.join(STRATEGIES)}; got {self.strategy!r}",
        )
        _require(_is_number(self.target_ratio), f"rebalance.target_ratio must be a number, got {self.target_ratio!r}")
        _require(
            0.0 < self.target_ratio <= 1.0,
            f"rebalance.target_ratio must be in (0, 1], got {self.target_ratio!r}: it is minority/majority after "
            "rebalancing (1.0 = balanced, 0.1 = one minority per ten majority)",
        )
        object.__setattr__(self, "target_ratio", float(self.target_ratio))
        object.__setattr__(self, "target_counts", normalize_target_counts(self.target_counts))
        splits = _names(self.splits)
        _require(bool(splits), "rebalance.splits must name at least one split to rebalance")
        _require(
            all(isinstance(s, str) and s for s in splits), f"rebalance.splits must be non-empty strings, got {splits!r}"
        )
        _require(len(set(splits)) == len(splits), f"rebalance.splits names a split more than once: {list(splits)}")
        object.__setattr__(self, "splits", splits)
        _require(_is_int(self.seed), f"rebalance.seed must be an int, got {self.seed!r}")
        _require(
            _is_int(self.k_neighbors) and self.k_neighbors >= 1,
            f"rebalance.k_neighbors must be an int >= 1, got {self.k_neighbors!r}",
        )
        keys = _names(self.smote_feature_keys)
        _require(
            len(set(keys)) == len(keys), f"rebalance.smote_feature_keys names a feature more than once: {list(keys)}"
        )
        object.__setattr__(self, "smote_feature_keys", keys)
        _require(
            _is_number(self.max_oversampling_factor) and self.max_oversampling_factor >= 1.0,
            f"rebalance.max_oversampling_factor must be >= 1, got {self.max_oversampling_factor!r}",
        )
        object.__setattr__(self, "max_oversampling_factor", float(self.max_oversampling_factor))
        _require(
            _is_int(self.smote_max_minority_rows) and self.smote_max_minority_rows >= 1,
            f"rebalance.smote_max_minority_rows must be an int >= 1, got {self.smote_max_minority_rows!r}",
        )
        for name in ("noise_scale", "mixup_alpha"):
            value = getattr(self, name)
            _require(
                _is_number(value) and math.isfinite(value) and value > 0,
                f"rebalance.{name} must be a finite number > 0, got {value!r}",
            )
            object.__setattr__(self, name, float(value))
        _require(
            self.on_single_class in SINGLE_CLASS_ACTIONS,
            f"rebalance.on_single_class must be one of {', '.join(SINGLE_CLASS_ACTIONS)}; got {self.on_single_class!r}",
        )


def smote_features(parameters: RebalanceParameters, label_key: str, feature_keys: Sequence[str]) -> Tuple[str, ...]:
    """The features synthesis alters: `smote_feature_keys`, or every numeric model input when it is empty.

    Also checks the data set's names against the parameters; raises RebalanceParameterError naming
    the setting. The component calls it when it is built, the executor when it runs.
    """
    _require(isinstance(label_key, str) and bool(label_key), f"label_key must be a non-empty string, got {label_key!r}")
    feature_keys = _names(feature_keys)
    _require(label_key not in feature_keys, f"feature_keys must not include the label {label_key!r}: {feature_keys}")
    keys = parameters.smote_feature_keys or feature_keys
    _require(
        label_key not in keys,
        f"rebalance.smote_feature_keys must not include the label {label_key!r}: {list(keys)}",
    )
    if parameters.strategy in SYNTHESIS_STRATEGIES:
        _require(
            bool(keys),
            f"strategy {parameters.strategy!r} needs rebalance.smote_feature_keys (or the numeric model inputs, "
            "feature_keys): the numeric features it makes new values of",
        )
    return keys


class RebalanceSpec(types.ComponentSpec):
    """Inputs, outputs and parameters of Rebalance: the data set's names, then one parameter per setting.

    `feature_keys` (the numeric model inputs) travels as JSON text, like the settings' tuples.
    """

    PARAMETERS = {
        LABEL_KEY: ExecutionParameter(type=str),
        FEATURE_KEYS: ExecutionParameter(type=str),
        **RebalanceParameters.execution_parameters(),
    }
    INPUTS = {
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        CLASS_SKEW_KEY: ChannelParameter(type=ClassSkewReport, optional=True),
    }
    OUTPUTS = {
        REBALANCED_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }
