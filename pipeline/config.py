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
from components.common.parameters import require, require_choice
from components.rebalance.spec import RebalanceParameters
from components.trainer.spec import TrainerParameters
from components.transform.spec import TransformInputs, TransformParameters
from pipeline.dataset import SPLIT_NAMES

# The Evaluator's baseline: the last model the gate blessed other than the candidate (needs a
# Python resolver: LocalDagRunner, Vertex AI), TFX's LatestBlessedModelStrategy (compiles for
# KFP v2; may pick the candidate itself on a cached re-run), or none (absolute thresholds only).
BASELINES = ("last_blessed_other", "last_blessed", "none")


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Every setting of one pipeline. The runners fill in paths and Beam arguments."""

    pipeline_name: str
    pipeline_root: str
    # Folder of the prepared spans (span-<N>/<split>/) that data prep wrote; ExampleGen's input_base.
    data_root: str
    serving_model_dir: str
    # The data set's reviewed schema, which ImportSchemaGen brings in; None on a data set's first
    # run: SchemaGen infers one and the runner saves it beside the description for review.
    schema_path: Optional[str]
    # The data set's columns (its description, and data prep's types for the model's inputs).
    label_key: str
    numeric_feature_keys: Tuple[str, ...] = ()
    # Text or integer-coded columns: the Transform maps them through vocabularies.
    categorical_feature_keys: Tuple[str, ...] = ()
    # Numeric columns with missing values in the data: the Transform adds a missing indicator for each.
    nullable_feature_keys: Tuple[str, ...] = ()
    slice_feature_keys: Tuple[str, ...] = ()
    # SQLite file of the ML Metadata store; None where the orchestrator provides one (Kubeflow).
    metadata_path: Optional[str] = None
    beam_pipeline_args: Tuple[str, ...] = ()
    enable_cache: bool = True
    baseline: str = "last_blessed_other"
    # ClassSkew compares the label distribution with the previous span's (a Python resolver).
    span_drift: bool = True
    # Each component's own parameter dataclass, with its own defaults and checks (components/*/spec.py).
    class_skew: ClassSkewParameters = dataclasses.field(default_factory=ClassSkewParameters)
    rebalance: RebalanceParameters = dataclasses.field(default_factory=RebalanceParameters)
    transform: TransformParameters = dataclasses.field(default_factory=TransformParameters)
    trainer: TrainerParameters = dataclasses.field(default_factory=TrainerParameters)
    evaluator: BlessingGateParameters = dataclasses.field(default_factory=BlessingGateParameters)

    def __post_init__(self) -> None:
        for name in ("pipeline_name", "pipeline_root", "data_root", "serving_model_dir", "label_key"):
            require(bool(getattr(self, name)), f"{name} must not be empty")
        require(self.schema_path is None or bool(self.schema_path), "schema_path must be a path or None")
        require_choice("baseline", self.baseline, BASELINES)
        if self.numeric_feature_keys or self.categorical_feature_keys:
            # The runners fill the columns in after data prep; checked once they are there.
            self.transform_inputs()
        for name in ("train_split", "eval_split"):
            split = getattr(self.class_skew, name)
            require(split in SPLIT_NAMES, f"class_skew.{name} {split!r} is not a split data prep makes: {SPLIT_NAMES}")
        unknown = [split for split in self.rebalance.splits if split not in SPLIT_NAMES]
        require(not unknown, f"rebalance.splits names splits that data prep does not make: {unknown}")
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
