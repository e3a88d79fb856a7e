"""Consistency checks on the gate's inputs, on plain values: a miswired gate fails loudly, never blesses.

Each raises `GateInputError` with the offending value and what to do about it.
"""

from __future__ import annotations

from typing import Collection, Optional, Sequence

from components.blessing_gate.errors import GateInputError


def check_schema_features(schema_features: Sequence[str], label_key: str, slice_feature_keys: Sequence[str]) -> None:
    """The label and every slice feature must be features of the schema."""
    known = set(schema_features)
    listing = ", ".join(sorted(known)) or "(none)"
    if label_key not in known:
        raise GateInputError(
            f"BlessingGate: label_key {label_key!r} is not a feature of the schema; "
            f"the schema's features are: {listing}"
        )
    for key in slice_feature_keys:
        if key not in known:
            raise GateInputError(
                f"BlessingGate: slice feature {key!r} is not in the schema; the schema's features are: {listing}. "
                "Fix slice_feature_keys or add the feature to the schema"
            )


def check_evaluation(
    evaluation_uri: str,
    sliced_by: Collection[str],
    label_keys: Collection[str],
    label_key: str,
    slice_feature_keys: Sequence[str],
) -> None:
    """The evaluation must use the gate's label and be sliced by every slice feature the gate judges."""
    other_labels = sorted(set(label_keys) - {label_key})
    if label_key not in label_keys or other_labels:
        raise GateInputError(
            f"the evaluation at {evaluation_uri} was computed with label key(s) {sorted(label_keys)}, but the gate's "
            f"label_key is {label_key!r}; build the Evaluator's EvalConfig with the same label"
        )
    missing = [key for key in slice_feature_keys if key not in sliced_by]
    if missing:
        raise GateInputError(
            f"the evaluation at {evaluation_uri} has no slices for slice feature(s) {missing} (it is sliced by "
            f"{sorted(sliced_by) or 'nothing'}); the Evaluator's EvalConfig needs a SlicingSpec per slice feature "
            "(blessing_gate.eval_config.gate_eval_config builds them)"
        )


def check_models(
    evaluator_blessed: Optional[int],
    evaluator_model_id: Optional[int],
    evaluator_baseline_id: Optional[int],
    model_id: int,
    baseline_model_id: Optional[int],
    evaluation_has_baseline: bool,
) -> None:
    """The Evaluator's blessing and evaluation must be about the gate's candidate and baseline models.

    Ids of 0 are "unknown" (artifacts not yet registered in MLMD) and are not compared.
    """
    if evaluator_blessed not in (0, 1):
        raise GateInputError(
            f"the Evaluator's blessing has blessed={evaluator_blessed!r}, not 0 or 1: the Evaluator validated "
            "nothing, which happens when its EvalConfig has no thresholds; use gate_eval_config"
        )
    if evaluator_model_id and model_id and evaluator_model_id != model_id:
        raise GateInputError(
            f"the Evaluator's blessing is for model id {evaluator_model_id}, but the gate was given model id "
            f"{model_id}; wire the same Trainer model into both"
        )
    if baseline_model_id is None and evaluation_has_baseline:
        raise GateInputError(
            "the evaluation compares with a baseline model, but the gate was given none; wire the Evaluator's "
            "baseline_model channel into the gate's baseline_model"
        )
    if baseline_model_id is not None and not evaluation_has_baseline:
        raise GateInputError(
            f"the gate was given baseline model id {baseline_model_id}, but the evaluation holds no baseline "
            "metrics; wire the same baseline_model channel into the Evaluator"
        )
    if baseline_model_id and evaluator_baseline_id and baseline_model_id != evaluator_baseline_id:
        raise GateInputError(
            f"the Evaluator compared with baseline model id {evaluator_baseline_id}, but the gate was given "
            f"baseline model id {baseline_model_id}; wire the same baseline_model channel into both"
        )
