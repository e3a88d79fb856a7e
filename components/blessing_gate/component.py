"""BlessingGate component: the pipeline's last word on whether a model may be pushed.

Runs after the stock TFX Evaluator and reads its outputs (no pass over the data):
- `evaluation` (ModelEvaluation): per-slice metrics of the candidate (and the baseline);
- `evaluator_blessing` (ModelBlessing): TFMA's verdict on the overall-slice thresholds;
- `examples` (Examples): what the Evaluator read; with a baseline, the gate scores its eval
  split with both models to compare them paired, positive by positive (`scoring`, `regression`);
- `model`, optional `baseline_model` (Model): recorded on the blessing, as the Evaluator does;
- `schema` (Schema): the label and slice features must be in it.

Outputs:
- `blessing` (standard ModelBlessing): `BLESSED` or `NOT_BLESSED` marker file and the
  Evaluator's custom properties (`blessed`, `current_model`, `current_model_id`,
  `baseline_model`, `baseline_model_id`, `blessing_message`) plus `blessed_by` =
  "BlessingGate", so a resolver can tell the gate's blessings from the Evaluator's.
  Pusher and `tfx.dsl.Cond` read `blessed` exactly as with the Evaluator's blessing.
- `gate_report` (GateReport): `gate_report.md` and `gate_report.json` (see `report`), and
  `report.html` (see `html_report`), which also reads the optional `class_skew` and
  `rebalanced_examples` inputs.

Multiclass (issue #15): with `class_names` (k >= 3, class-index order) and `protected_classes`
(their indices) the gate reads the multiclass signature (`probabilities`, `class`) and judges each
protected class one-vs-rest on every slice (`multiclass`); the Evaluator must run
`gate_eval_config(..., class_names, protected_classes)`. Without them (the default) it is binary.

A plain (not Beam) component. It reads one TFMA record per slice and makes one streaming pass
over the eval split: with the candidate alone for report.html's curves, with the baseline too for
the paired comparison (its seconds: benchmarks/RESULTS.md, pipeline_bench's BlessingGate row).
"""

from __future__ import annotations

import json
from typing import Optional, Sequence

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec

from components.blessing_gate import executor
from components.blessing_gate.errors import GateConfigError
from components.blessing_gate.spec import (
    BASELINE_MODEL_KEY,
    CLASS_NAMES,
    CLASS_SKEW_KEY,
    EVAL_SPLIT,
    EVALUATION_KEY,
    EVALUATOR_BLESSING_KEY,
    EXAMPLES_KEY,
    LABEL_KEY,
    MODEL_KEY,
    PROTECTED_CLASSES,
    REBALANCED_EXAMPLES_KEY,
    SCHEMA_KEY,
    SLICE_FEATURE_KEYS,
    BlessingGateParameters,
    BlessingGateSpec,
    check_classes,
)
from components.common.component import component_spec
from components.common.parameters import check_component_arguments

# The default `parameters`: one frozen instance, so the defaults stay those of BlessingGateParameters.
_DEFAULT_PARAMETERS = BlessingGateParameters()


class BlessingGate(base_component.BaseComponent):
    """Blesses a model only if no slice confidently misses recall or AUC and nothing regresses (see `rules`)."""

    SPEC_CLASS = BlessingGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        evaluation: types.BaseChannel,
        evaluator_blessing: types.BaseChannel,
        examples: types.BaseChannel,
        model: types.BaseChannel,
        schema: types.BaseChannel,
        baseline_model: Optional[types.BaseChannel] = None,
        class_skew: Optional[types.BaseChannel] = None,
        rebalanced_examples: Optional[types.BaseChannel] = None,
        *,
        label_key: str,
        slice_feature_keys: Sequence[str],
        eval_split: str,
        parameters: BlessingGateParameters = _DEFAULT_PARAMETERS,
        class_names: Sequence[str] = (),
        protected_classes: Sequence[int] = (),
    ):
        """Checks the names at once (GateConfigError); the parameters checked themselves when built.

        Args:
          evaluation: the TFX Evaluator's ModelEvaluation, computed with `eval_config.gate_eval_config`
            from the same `parameters`.
          evaluator_blessing: the same Evaluator's ModelBlessing.
          examples: the Examples the Evaluator read (their eval split scored again: curves, paired comparison).
          model: the candidate Model the Evaluator evaluated.
          schema: the Schema; the label and slice features must be in it.
          baseline_model: the baseline Model the Evaluator compared with (the resolver's output; may be empty).
          class_skew: ClassSkew's report, read only for `report.html` (class counts, drift).
          rebalanced_examples: Rebalance's output, read only for `report.html` (counts before and after).
          label_key: the label feature.
          slice_feature_keys: features whose slices are judged one by one.
          eval_split: the split of `examples` the Evaluator evaluated.
          parameters: thresholds and minimum slice size (see `spec.BlessingGateParameters`).
          class_names: a multiclass label's classes in class-index order (k >= 3); empty (the default) for binary.
          protected_classes: with `class_names`, the indices of the classes the gate judges (at least one);
            the Evaluator's EvalConfig must be `gate_eval_config` with the same two.
        """
        check_component_arguments("BlessingGate", parameters, BlessingGateParameters, label_key, GateConfigError)
        if isinstance(slice_feature_keys, str) or not all(isinstance(k, str) and k for k in slice_feature_keys):
            raise GateConfigError(
                f"BlessingGate: slice_feature_keys must be a list of feature names, got {slice_feature_keys!r}"
            )
        if not isinstance(eval_split, str) or not eval_split:
            raise GateConfigError(f"BlessingGate: eval_split must be a split name, got {eval_split!r}")
        names, protected = check_classes(class_names, protected_classes)
        inputs = {
            EVALUATION_KEY: evaluation,
            EVALUATOR_BLESSING_KEY: evaluator_blessing,
            EXAMPLES_KEY: examples,
            MODEL_KEY: model,
            BASELINE_MODEL_KEY: baseline_model,
            SCHEMA_KEY: schema,
            CLASS_SKEW_KEY: class_skew,
            REBALANCED_EXAMPLES_KEY: rebalanced_examples,
        }
        names_by_key = {
            LABEL_KEY: label_key,
            SLICE_FEATURE_KEYS: json.dumps(list(slice_feature_keys)),
            EVAL_SPLIT: eval_split,
        }
        if names:  # Binary leaves both out, so a binary pipeline's IR is what it was before multiclass.
            extra = {CLASS_NAMES: json.dumps(list(names)), PROTECTED_CLASSES: json.dumps(list(protected))}
            names_by_key = {**names_by_key, **extra}
        super().__init__(spec=component_spec(BlessingGateSpec, inputs, parameters, **names_by_key))
