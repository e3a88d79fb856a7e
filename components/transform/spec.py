"""The Transform step's parameters and the `custom_config` the stock Transform hands to `preprocessing_fn`.

The stock TFX Transform runs `preprocessing.preprocessing_fn`; this module is the one place that
says what it receives: the data set's column names (from its description and data prep) and the
Transform's own settings (this dataclass, `transform.*` in the pipeline config).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional, Tuple

from components.common.parameters import ComponentParameters, require

PREPROCESSING_FN = "components.transform.preprocessing.preprocessing_fn"
MISSING_SUFFIX = "__missing"
MISSING_CATEGORY = "__missing__"


@dataclasses.dataclass(frozen=True)
class TransformParameters(ComponentParameters):
    """How numeric and categorical columns become model inputs."""

    SECTION = "transform"

    # Categories seen in fewer training rows than this share the out-of-vocabulary buckets.
    min_category_count: int = 1
    # Buckets for categories never seen in training (at serving time, or rarer than the minimum).
    oov_buckets: int = 1
    # The largest vocabulary kept per column (the most frequent categories).
    max_vocabulary: int = 1000
    # Numeric z-scores are clipped to [-z_score_clip, z_score_clip]: one extreme value (an amount
    # thousands of standard deviations out) then cannot saturate a unit. None: not clipped.
    z_score_clip: Optional[float] = None

    def __post_init__(self) -> None:
        require(
            self.min_category_count >= 1, f"transform.min_category_count must be >= 1, got {self.min_category_count!r}"
        )
        require(self.oov_buckets >= 1, f"transform.oov_buckets must be >= 1, got {self.oov_buckets!r}")
        require(self.max_vocabulary >= 1, f"transform.max_vocabulary must be >= 1, got {self.max_vocabulary!r}")
        require(
            self.z_score_clip is None or self.z_score_clip > 0,
            f"transform.z_score_clip must be > 0 or None, got {self.z_score_clip!r}",
        )


@dataclasses.dataclass(frozen=True)
class TransformInputs:
    """Everything `preprocessing_fn` needs, as it travels in the stock Transform's `custom_config`."""

    label_key: str
    numeric_feature_keys: Tuple[str, ...]
    categorical_feature_keys: Tuple[str, ...]
    # Numeric columns with missing values in the data: each gets an indicator feature.
    nullable_feature_keys: Tuple[str, ...] = ()
    parameters: TransformParameters = TransformParameters()

    def __post_init__(self) -> None:
        overlap = sorted(set(self.numeric_feature_keys) & set(self.categorical_feature_keys))
        require(not overlap, f"columns {overlap} are both numeric and categorical")
        require(
            self.label_key not in self.numeric_feature_keys + self.categorical_feature_keys,
            f"the label {self.label_key!r} must not be a model input",
        )
        require(bool(self.numeric_feature_keys + self.categorical_feature_keys), "the model needs at least one input")
        strays = sorted(set(self.nullable_feature_keys) - set(self.numeric_feature_keys))
        require(not strays, f"nullable columns {strays} are not numeric inputs")

    def to_custom_config(self) -> Dict[str, Any]:
        return {
            "label_key": self.label_key,
            "numeric_feature_keys": list(self.numeric_feature_keys),
            "categorical_feature_keys": list(self.categorical_feature_keys),
            "nullable_feature_keys": list(self.nullable_feature_keys),
            "parameters": self.parameters.to_json_dict(),
        }

    @classmethod
    def from_custom_config(cls, config: Mapping[str, Any]) -> TransformInputs:
        return cls(
            label_key=str(config["label_key"]),
            numeric_feature_keys=tuple(config["numeric_feature_keys"]),
            categorical_feature_keys=tuple(config["categorical_feature_keys"]),
            nullable_feature_keys=tuple(config.get("nullable_feature_keys", ())),
            parameters=TransformParameters.from_json_dict(config.get("parameters", {})),
        )


def missing_indicator_key(column: str) -> str:
    """The transformed feature that is 1.0 where `column` was missing (numeric columns that can be)."""
    return f"{column}{MISSING_SUFFIX}"


def vocabulary_name(column: str) -> str:
    """The vocabulary file of a categorical column in the transform graph's assets."""
    return f"vocabulary_{column}"


def transformed_numeric_keys(inputs: TransformInputs) -> Tuple[str, ...]:
    """The float features Transform writes, in order: each numeric column, then each missing indicator."""
    return inputs.numeric_feature_keys + tuple(missing_indicator_key(key) for key in inputs.nullable_feature_keys)
