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
from pipeline.label import MIN_CLASSES

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
    # The label's classes (its description): empty for a binary label; for a multiclass one every
    # class name in class-index order, and the indices of the rare classes the gate protects.
    class_names: Tuple[str, ...] = ()
    protected_classes: Tuple[int, ...] = ()
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
        self._check_classes()
        unknown = [split for split in self.rebalance.splits if split not in SPLIT_NAMES]
        require(not unknown, f"rebalance.splits names splits that data prep does not make: {unknown}")
        require(
            "eval" not in self.rebalance.splits and "valid" not in self.rebalance.splits,
            "rebalance.splits must not include valid or eval: rebalancing them would bias the metrics",
        )

    @property
    def multiclass(self) -> bool:
        return len(self.class_names) >= MIN_CLASSES

    def _check_classes(self) -> None:
        """The classes are the description's; rebalance.target_counts must name them by index."""
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "protected_classes", tuple(self.protected_classes))
        require(
            not self.class_names or self.multiclass,
            f"class_names lists a multiclass label's classes (at least {MIN_CLASSES}), got {list(self.class_names)}",
        )
        require(len(set(self.class_names)) == len(self.class_names), f"class_names repeat: {list(self.class_names)}")
        require(
            bool(self.protected_classes) == self.multiclass,
            "protected_classes names the classes the gate protects: one or more for a multiclass label, none for "
            f"a binary one; got {list(self.protected_classes)} with class_names {list(self.class_names)}",
        )
        strays = [index for index in self.protected_classes if not 0 <= index < len(self.class_names)]
        require(not strays, f"protected_classes {strays} are not class indices 0..{len(self.class_names) - 1}")
        if self.rebalance.target_counts is None:
            return
        names = self.class_names or ("the other classes", "the class of interest")
        indices = {str(index) for index in range(len(names))}
        for key, _ in self.rebalance.target_counts:
            require(
                key in indices,
                f"rebalance.target_counts names class {key!r}; its keys are class indices: "
                + ", ".join(f"{index}={name}" for index, name in enumerate(names)),
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
