"""BlessingGate executor: reads the Evaluator's outputs, judges every slice, writes the blessing and the report.

Every check runs and the verdict is computed before anything is written; a bad input
raises first, so no blessing (and so no push) ever comes out of a run that failed.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

import tensorflow as tf
from absl import logging
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.components.evaluator import constants as evaluator_constants
from tfx.dsl.io import fileio
from tfx.utils import path_utils

from components.blessing_gate import (
    checks,
    curve_points,
    html_report,
    judge,
    multiclass,
    outputs,
    regression,
    report,
    scoring,
    spec,
    tfma_results,
)
from components.blessing_gate.errors import GateConfigError, GateInputError
from components.blessing_gate.spec import BlessingGateParameters
from components.class_skew.report import LabelDistributionReport
from components.common.artifact_io import read_schema, write_artifact_files
from components.common.executor import ComponentExecutor, Execution
from components.rebalance.executor import SUMMARY_FILE_NAME as REBALANCE_SUMMARY_FILE
from components.trainer.serving import DECISION_OUTPUT, PROBABILITY_OUTPUT, read_training_report


def slice_feature_keys_from_exec_properties(exec_properties: Mapping[str, Any]) -> List[str]:
    raw = exec_properties.get(spec.SLICE_FEATURE_KEYS) or "[]"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise GateConfigError(f"BlessingGate: slice_feature_keys is not a JSON list: {raw!r}") from error
    if not isinstance(value, list) or not all(isinstance(key, str) and key for key in value):
        raise GateConfigError(f"BlessingGate: slice_feature_keys must be a list of names, got {value!r}")
    return value


def classes_from_exec_properties(exec_properties: Mapping[str, Any]) -> Tuple[Tuple[str, ...], Tuple[int, ...]]:
    """`class_names` and `protected_classes` (JSON lists; absent or empty for a binary label), checked."""
    decoded = []
    for key in (spec.CLASS_NAMES, spec.PROTECTED_CLASSES):
        raw = exec_properties.get(key) or "[]"
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as error:
            raise GateConfigError(f"BlessingGate: {key} is not a JSON list: {raw!r}") from error
        if not isinstance(value, list):
            raise GateConfigError(f"BlessingGate: {key} must be a JSON list, got {raw!r}")
        decoded.append(value)
    return spec.check_classes(decoded[0], decoded[1])


def _score(
    execution: Execution[BlessingGateParameters],
    schema: schema_pb2.Schema,
    models: Mapping[str, types.Artifact],
    output_keys: Tuple[str, ...],
) -> Tuple[Any, Dict[str, scoring.Scores]]:
    """Labels and each model's outputs `output_keys` on the Evaluator's eval split, in one streaming pass."""
    started = time.monotonic()
    split = execution.exec_properties.get(spec.EVAL_SPLIT) or ""
    files = scoring.split_files(execution.input(spec.EXAMPLES_KEY), split)
    dtype = scoring.label_dtype(schema, execution.label_key)
    labels, scores = scoring.score_split(files, execution.label_key, dtype, models, output_keys)
    logging.info(
        "BlessingGate: scored %d examples of split %s with %s in %.1f s",
        len(labels),
        split,
        " and ".join(models),
        time.monotonic() - started,
    )
    return labels, scores


def _paired_comparison(
    parameters: BlessingGateParameters,
    labels: Any,
    scores: Mapping[str, scoring.Scores],
    candidate_overall: Mapping[str, float],
    baseline_overall: Mapping[str, float],
) -> regression.PairedComparison:
    """Compares the candidate and the baseline paired on the same examples; checks it matches TFMA's counts."""
    comparison = regression.compare(
        labels,
        scores["candidate"],
        scores["baseline"],
        samples=parameters.bootstrap_samples,
        seed=parameters.seed,
        confidence=parameters.confidence,
    )
    regression.check_matches_evaluation(comparison, candidate_overall, baseline_overall)
    return comparison


def _judge_binary(
    execution: Execution[BlessingGateParameters],
    schema: schema_pb2.Schema,
    models: Mapping[str, types.Artifact],
    evaluation: tfma_results.Evaluation,
    evaluator_blessed: bool,
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The binary gate report and report.html's curves."""
    labels, scores = _score(execution, schema, models, (PROBABILITY_OUTPUT, DECISION_OUTPUT))
    paired = None
    if "baseline" in models:
        assert evaluation.baseline is not None  # checks.check_models: a baseline model means baseline metrics
        overall = judge.OVERALL_SLICE
        paired = _paired_comparison(
            execution.parameters, labels, scores, evaluation.candidate[overall], evaluation.baseline[overall]
        )
    gate_report = judge.judge(
        evaluation.candidate,
        execution.parameters,
        baseline=evaluation.baseline,
        paired=paired,
        evaluator_blessed=evaluator_blessed,
        evaluator_failures=evaluation.validation_failures,
    )
    return gate_report, curve_points.curves(labels, scores)


def _judge_multiclass(
    execution: Execution[BlessingGateParameters],
    schema: schema_pb2.Schema,
    models: Mapping[str, types.Artifact],
    evaluation: tfma_results.Evaluation,
    evaluator_blessed: bool,
    classes: Tuple[Tuple[str, ...], Tuple[int, ...]],
) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The multiclass gate report (`multiclass`) and report.html's one-vs-rest curves per protected class."""
    names, protected = classes
    labels, scores = _score(execution, schema, models, (spec.PROBABILITIES_OUTPUT, spec.CLASS_OUTPUT))
    multiclass.check_scores(labels, scores, len(names))
    curve_data: Dict[str, Any] = {}
    paired: Dict[int, regression.PairedComparison] = {}
    for index in protected:
        views = {name: multiclass.binarized(labels, served, index) for name, served in scores.items()}
        class_labels = views["candidate"][0]
        curves = curve_points.curves(class_labels, {name: view[1] for name, view in views.items()})
        curve_data.update({f"{name}, {names[index]}": entry for name, entry in curves.items()})
        if "baseline" in models:
            assert evaluation.baseline_classes is not None  # checks.check_models, as binary
            overall = judge.OVERALL_SLICE
            paired[index] = _paired_comparison(
                execution.parameters,
                class_labels,
                {name: view[1] for name, view in views.items()},
                evaluation.candidate_classes[overall][index],
                evaluation.baseline_classes[overall][index],
            )
    gate_report = multiclass.judge_multiclass(
        evaluation.candidate,
        evaluation.candidate_classes,
        execution.parameters,
        names,
        protected,
        baseline_classes=evaluation.baseline_classes,
        paired=paired if "baseline" in models else None,
        confusion=evaluation.confusion,
        evaluator_blessed=evaluator_blessed,
        evaluator_failures=evaluation.validation_failures,
    )
    return gate_report, curve_data


def _html_inputs(execution: Execution[BlessingGateParameters], model: types.Artifact) -> Dict[str, Any]:
    """What `report.html` shows besides the gate report; an input that is absent leaves its section empty."""
    inputs: Dict[str, Any] = {}
    class_skew = _optional_single(execution.optional_inputs(spec.CLASS_SKEW_KEY), spec.CLASS_SKEW_KEY)
    if class_skew is not None:
        inputs["class_skew"] = LabelDistributionReport.load(class_skew.uri).to_json_dict()
    rebalanced = _optional_single(execution.optional_inputs(spec.REBALANCED_EXAMPLES_KEY), spec.REBALANCED_EXAMPLES_KEY)
    summary_path = None if rebalanced is None else os.path.join(rebalanced.uri, REBALANCE_SUMMARY_FILE)
    if summary_path and fileio.exists(summary_path):
        with fileio.open(summary_path, "r") as handle:
            inputs["rebalance"] = json.loads(handle.read())
    try:
        inputs["training"] = read_training_report(path_utils.serving_model_path(model.uri))
    except tf.errors.NotFoundError:  # A model exported without a training report (only test models are).
        logging.info("BlessingGate: the model in %s holds no training report", model.uri)
    return inputs


def _optional_single(artifacts: Optional[List[types.Artifact]], key: str) -> Optional[types.Artifact]:
    if not artifacts:
        return None
    if len(artifacts) > 1:
        raise GateInputError(f"BlessingGate: input {key!r} holds {len(artifacts)} artifacts; it takes one")
    return artifacts[0]


def _int_property(artifact: types.Artifact, name: str) -> Optional[int]:
    return artifact.get_int_custom_property(name) if artifact.has_custom_property(name) else None


def _log(gate_report: Mapping[str, Any]) -> None:
    log = logging.info if gate_report["blessed"] else logging.warning
    log("BlessingGate: %s", gate_report["verdict_line"])
    for failure in gate_report["failures"]:
        logging.warning("BlessingGate blocking check: %s", failure["message"])
    for entry in gate_report["uncertain"]:
        logging.info("BlessingGate uncertain (not blocking): %s", entry["message"])
    for message in gate_report["evaluator_failures"]:
        logging.warning("BlessingGate: Evaluator did not bless: %s", message)
    for entry in gate_report["too_small"]:
        logging.info("BlessingGate: slice %s too small to judge: %s", entry["slice"], entry["reason"])


class Executor(ComponentExecutor[BlessingGateParameters]):
    """Reads ModelEvaluation + the Evaluator's ModelBlessing; writes ModelBlessing and GateReport."""

    PARAMETERS = BlessingGateParameters

    def run(self, execution: Execution[BlessingGateParameters]) -> None:
        slice_feature_keys = slice_feature_keys_from_exec_properties(execution.exec_properties)
        classes = classes_from_exec_properties(execution.exec_properties)
        label_key = execution.label_key
        schema = read_schema(execution.input_dict[spec.SCHEMA_KEY])
        checks.check_schema_features([feature.name for feature in schema.feature], label_key, slice_feature_keys)

        model = execution.input(spec.MODEL_KEY)
        baseline = _optional_single(execution.optional_inputs(spec.BASELINE_MODEL_KEY), spec.BASELINE_MODEL_KEY)
        evaluator_blessing = execution.input(spec.EVALUATOR_BLESSING_KEY)
        evaluation = tfma_results.load_evaluation(execution.input(spec.EVALUATION_KEY).uri)

        evaluator_blessed = _int_property(evaluator_blessing, evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY)
        checks.check_models(
            evaluator_blessed=evaluator_blessed,
            evaluator_model_id=_int_property(
                evaluator_blessing, evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY
            ),
            evaluator_baseline_id=_int_property(
                evaluator_blessing, evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_ID_KEY
            ),
            model_id=model.id,
            baseline_model_id=None if baseline is None else baseline.id,
            evaluation_has_baseline=evaluation.baseline is not None,
        )
        checks.check_evaluation(
            evaluation.uri, evaluation.slice_features, evaluation.label_keys, label_key, slice_feature_keys
        )

        # One pass scores the candidate (for report.html's curves) and the baseline (for the paired rule).
        models = {"candidate": model} if baseline is None else {"candidate": model, "baseline": baseline}
        blessed_by_evaluator = evaluator_blessed == evaluator_constants.BLESSED_VALUE
        if classes[0]:
            gate_report, curve_data = _judge_multiclass(
                execution, schema, models, evaluation, blessed_by_evaluator, classes
            )
        else:
            gate_report, curve_data = _judge_binary(execution, schema, models, evaluation, blessed_by_evaluator)
        gate_report["models"] = {
            "candidate": f"id {model.id}, {model.uri}",
            "baseline": None if baseline is None else f"id {baseline.id}, {baseline.uri}",
        }
        gate_report["evaluation"] = evaluation.uri
        _log(gate_report)

        report_artifact = execution.output(spec.GATE_REPORT_KEY)
        page = html_report.render(gate_report, curve_data=curve_data, **_html_inputs(execution, model))
        _, markdown_path, _ = write_artifact_files(
            report_artifact.uri,
            {
                spec.GATE_REPORT_JSON: report.to_json(gate_report),
                spec.GATE_REPORT_MARKDOWN: report.to_markdown(gate_report),
                spec.GATE_REPORT_HTML: page,
            },
        )
        outputs.set_report_properties(report_artifact, gate_report)

        blessing = execution.output(spec.BLESSING_KEY)
        outputs.write_blessing(
            blessing,
            gate_report["blessed"],
            model,
            baseline,
            gate_report["verdict_line"],
            gate_report["evaluator_blessed"],
            execution.exec_properties,
        )
        logging.info(
            "BlessingGate wrote %s to %s and the report to %s", gate_report["verdict"], blessing.uri, markdown_path
        )
