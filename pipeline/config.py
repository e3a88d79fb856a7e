"""All settings of the pipeline, in one frozen, validated dataclass.

`PipelineConfig` holds the pipeline's own knobs (paths, names, splits, Beam arguments,
the data set's column names) and composes each component's parameter dataclass, which
lives in the component's `spec.py` and holds that component's defaults and checks. Nothing
here copies them. Values are checked at construction: a bad value fails at once with the
setting's name, not mid-run.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

from components.blessing_gate.spec import BlessingGateParameters
from components.class_skew.spec import ClassSkewParameters
from components.common.parameters import ParameterError, require, require_choice
from components.rebalance.spec import RebalanceParameters
from components.trainer.spec import TrainerParameters
from components.transform.spec import TransformInputs, TransformParameters
from pipeline import features

# One error type for every setting, the components' own and the pipeline's.
ConfigError = ParameterError


# The Evaluator's baseline: the last model the gate blessed other than the candidate (needs a
# Python resolver: LocalDagRunner, Vertex AI), TFX's LatestBlessedModelStrategy (compiles for
# KFP v2; may pick the candidate itself on a cached re-run), or none (absolute thresholds only).
BASELINES = ("last_blessed_other", "last_blessed", "none")


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Every setting of one pipeline. The runners fill in paths and Beam arguments."""

    pipeline_name: str
    pipeline_root: str
    # Folder holding the clean CSV(s) that data prep wrote; ExampleGen's input_base.
    data_root: str
    serving_model_dir: str
    # The hand-checked schema that ImportSchemaGen brings in (schema/schema.pbtxt).
    schema_path: str
    # ExampleGen's file pattern under data_root; {SPAN} makes it read the highest span.
    input_pattern: str = "span-{SPAN}/*"
    # SQLite file of the ML Metadata store; None where the orchestrator provides one (Kubeflow).
    metadata_path: Optional[str] = None
    beam_pipeline_args: Tuple[str, ...] = ()
    enable_cache: bool = True
    baseline: str = "last_blessed_other"
    # ClassSkew compares the label distribution with the previous span's (a Python resolver).
    span_drift: bool = True
    label_key: str = features.LABEL_KEY
    numeric_feature_keys: Tuple[str, ...] = features.NUMERIC_FEATURE_KEYS
    # Text or integer-coded columns: the Transform maps them through vocabularies.
    categorical_feature_keys: Tuple[str, ...] = ()
    # Numeric columns with missing values in the data: the Transform adds a missing indicator for each.
    nullable_feature_keys: Tuple[str, ...] = ()
    slice_feature_keys: Tuple[str, ...] = features.SLICE_FEATURE_KEYS
    # ExampleGen's hash-bucket split: train fits, valid stops early and tunes the
    # threshold, eval is only for the Evaluator.
    split_buckets: Tuple[Tuple[str, int], ...] = (("train", 6), ("valid", 2), ("eval", 2))
    # Each component's own parameter dataclass, with its own defaults and checks (components/*/spec.py).
    class_skew: ClassSkewParameters = dataclasses.field(default_factory=ClassSkewParameters)
    rebalance: RebalanceParameters = dataclasses.field(default_factory=RebalanceParameters)
    transform: TransformParameters = dataclasses.field(default_factory=TransformParameters)
    trainer: TrainerParameters = dataclasses.field(default_factory=TrainerParameters)
    evaluator: BlessingGateParameters = dataclasses.field(default_factory=BlessingGateParameters)

    def __post_init__(self) -> None:
        for name in ("pipeline_name", "pipeline_root", "data_root", "serving_model_dir", "schema_path", "label_key"):
            require(bool(getattr(self, name)), f"{name} must not be empty")
        require_choice("baseline", self.baseline, BASELINES)
        split_names = [name for name, _ in self.split_buckets]
        require(
            {"train", "valid", "eval"} <= set(split_names),
            f"split_buckets must define train, valid and eval splits, got {split_names}",
        )
        require(len(set(split_names)) == len(split_names), f"split_buckets names must be unique, got {split_names}")
        require(all(buckets >= 1 for _, buckets in self.split_buckets), "split_buckets counts must be >= 1")
        self.transform_inputs()  # checks the columns: no overlaps, the label is no input, at least one input
        for name in ("train_split", "eval_split"):
            split = getattr(self.class_skew, name)
            require(split in split_names, f"class_skew.{name} {split!r} is not a split ExampleGen makes: {split_names}")
        unknown = [split for split in self.rebalance.splits if split not in split_names]
        require(not unknown, f"rebalance.splits names splits that ExampleGen does not make: {unknown}")
        require(
            "eval" not in self.rebalance.splits and "valid" not in self.rebalance.splits,
            "rebalance.splits must not include valid or eval: rebalancing them would bias the metrics",
        )

    def transform_inputs(self) -> TransformInputs:
        """What the Transform's preprocessing_fn receives: the data set's columns and `transform.*`."""
        return TransformInputs(
            label_key=self.label_key,
            numeric_feature_keys=self.numeric_feature_keys,
            categorical_feature_keys=self.categorical_feature_keys,
            nullable_feature_keys=self.nullable_feature_keys,
            parameters=self.transform,
        )
