"""Rebalance component: seeded, exact, scalable under-, over-, hybrid sampling and SMOTE of Examples.

Inputs:
- `examples` (Examples): tf.Example payload, e.g. CsvExampleGen's gzip TFRecords per `Split-<name>`.
- `class_skew` (ClassSkewReport, optional): ClassSkew's `class_skew.json`; its per-split class
  counts save the counting pass over the data (they are verified against the records seen).
Output:
- `rebalanced_examples` (Examples): the same split names, span and version; rebalanced splits as
  gzip TFRecords `Split-<name>/data_tfrecord-*.gz`, every other split copied file by file (same
  bytes). Custom properties: `class_counts` (JSON {split: {"before": {...}, "after": {...}}}),
  `strategy`, `seed`, `rebalanced_splits`; plus `rebalance_summary.json` at the artifact root
  (TFX readers of Examples only look inside `Split-*` directories).
"""

from __future__ import annotations

from typing import Optional, Sequence

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.class_skew.component import ClassSkewReport
from components.rebalance import executor
from components.rebalance.plan import (
    RebalanceError,
    RebalanceInputError,
    RebalanceParameterError,
    RebalanceParameters,
    TargetCountsLike,
)
from pipeline import features

EXAMPLES_KEY = "examples"
CLASS_SKEW_KEY = "class_skew"
REBALANCED_EXAMPLES_KEY = "rebalanced_examples"

LABEL_KEY_PARAM = "label_key"
STRATEGY_PARAM = "strategy"
TARGET_RATIO_PARAM = "target_ratio"
TARGET_COUNTS_PARAM = "target_counts"
SPLITS_PARAM = "splits"
SEED_PARAM = "seed"
K_NEIGHBORS_PARAM = "k_neighbors"
SMOTE_FEATURE_KEYS_PARAM = "smote_feature_keys"
MAX_OVERSAMPLING_FACTOR_PARAM = "max_oversampling_factor"
SMOTE_MAX_MINORITY_ROWS_PARAM = "smote_max_minority_rows"
ON_SINGLE_CLASS_PARAM = "on_single_class"

__all__ = [
    "CLASS_SKEW_KEY",
    "EXAMPLES_KEY",
    "REBALANCED_EXAMPLES_KEY",
    "Rebalance",
    "RebalanceError",
    "RebalanceInputError",
    "RebalanceParameterError",
    "RebalanceSpec",
]


class RebalanceSpec(types.ComponentSpec):
    """Inputs, outputs and parameters of Rebalance. Tuples travel as JSON strings (the IR keeps primitives)."""

    PARAMETERS = {
        LABEL_KEY_PARAM: ExecutionParameter(type=str),
        STRATEGY_PARAM: ExecutionParameter(type=str),
        TARGET_RATIO_PARAM: ExecutionParameter(type=float),
        TARGET_COUNTS_PARAM: ExecutionParameter(type=str, optional=True),
        SPLITS_PARAM: ExecutionParameter(type=str),
        SEED_PARAM: ExecutionParameter(type=int),
        K_NEIGHBORS_PARAM: ExecutionParameter(type=int),
        SMOTE_FEATURE_KEYS_PARAM: ExecutionParameter(type=str),
        MAX_OVERSAMPLING_FACTOR_PARAM: ExecutionParameter(type=float),
        SMOTE_MAX_MINORITY_ROWS_PARAM: ExecutionParameter(type=int),
        ON_SINGLE_CLASS_PARAM: ExecutionParameter(type=str),
    }
    INPUTS = {
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        CLASS_SKEW_KEY: ChannelParameter(type=ClassSkewReport, optional=True),
    }
    OUTPUTS = {
        REBALANCED_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    }


class Rebalance(base_beam_component.BaseBeamComponent):
    """Rebalances the classes of the chosen splits of an Examples artifact; copies the other splits."""

    SPEC_CLASS = RebalanceSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(
        self,
        examples: types.BaseChannel,
        class_skew: Optional[types.BaseChannel] = None,
        label_key: str = features.LABEL_KEY,
        strategy: str = "undersample",
        target_ratio: float = 0.1,
        target_counts: TargetCountsLike = None,
        splits: Sequence[str] = ("train",),
        seed: int = 42,
        k_neighbors: int = 5,
        smote_feature_keys: Sequence[str] = features.NUMERIC_FEATURE_KEYS,
        max_oversampling_factor: float = 100.0,
        smote_max_minority_rows: int = 200_000,
        on_single_class: str = "fail",
    ):
        """Validates every parameter now (RebalanceParameterError naming it).

        Args:
          examples: Examples with tf.Example payload.
          class_skew: optional ClassSkew report whose class counts replace the counting pass.
          label_key: the label feature; class names are its values as str ("0", "1", or the string).
          strategy: "undersample", "oversample", "hybrid", "smote" or "none".
          target_ratio: binary labels: minority/majority count after rebalancing, in (0, 1].
          target_counts: multiclass: {class: count} or ((class, count), ...); overrides target_ratio.
            Classes not named keep their rows.
          splits: splits to rebalance; every other split is copied unchanged.
          seed: the seed of every random choice (a different seed gives a different sample).
          k_neighbors: SMOTE neighbours (exact kNN, Euclidean on smote_feature_keys).
          smote_feature_keys: the numeric features SMOTE interpolates; the others are copied from the base.
          max_oversampling_factor: refuse targets that would grow a class by more than this factor.
          smote_max_minority_rows: refuse SMOTE on a class with more rows (it is held in one worker's memory).
          on_single_class: "fail" or "skip" (copy unchanged, with a warning) for a split with one class.
        """
        params = RebalanceParameters(
            label_key=label_key,
            strategy=strategy,
            target_ratio=target_ratio,
            target_counts=target_counts,
            splits=tuple(splits) if not isinstance(splits, str) else (splits,),
            seed=seed,
            k_neighbors=k_neighbors,
            smote_feature_keys=tuple(smote_feature_keys)
            if not isinstance(smote_feature_keys, str)
            else (smote_feature_keys,),
            max_oversampling_factor=max_oversampling_factor,
            smote_max_minority_rows=smote_max_minority_rows,
            on_single_class=on_single_class,
        )
        spec = RebalanceSpec(
            examples=examples,
            class_skew=class_skew,
            rebalanced_examples=types.Channel(type=standard_artifacts.Examples),
            **params.to_exec_properties(),
        )
        super().__init__(spec=spec)
