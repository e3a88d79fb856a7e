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
from tfx.utils import io_utils, path_utils

from components.blessing_gate import checks, html_report, judge, regression, report, scoring, spec, tfma_results
from components.blessing_gate.errors import GateConfigError, GateInputError
from components.blessing_gate.spec import BlessingGateParameters
from components.class_skew.report import LabelDistributionReport
from components.common.artifact_io import read_schema, write_artifact_files
from components.common.executor import ComponentExecutor, Execution
from components.rebalance.executor import SUMMARY_FILE_NAME as REBALANCE_SUMMARY_FILE
from components.trainer.serving import read_training_report


def slice_feature_keys_from_exec_properties(exec_properties: Mapping[str, Any]) -> List[str]:
    raw = exec_properties.get(spec.SLICE_FEATURE_KEYS) or "[]"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise GateConfigError(f"BlessingGate: slice_feature_keys is not a JSON list: {raw!r}") from error
    if not isinstance(value, list) or not all(isinstance(key, str) and key for key in value):
        raise GateConfigError(f"BlessingGate: slice_feature_keys must be a list of names, got {value!r}")
    return value


def _score(
    execution: Execution[BlessingGateParameters], schema: schema_pb2.Schema, models: Mapping[str, types.Artifact]
) -> Tuple[Any, Dict[str, scoring.Scores]]:
    """Labels and each model's probability and decision on the Evaluator's eval split, in one streaming pass."""
    started = time.monotonic()
    split = execution.exec_properties.get(spec.EVAL_SPLIT) or ""
    files = scoring.split_files(execution.input(spec.EXAMPLES_KEY), split)
    dtype = scoring.label_dtype(schema, execution.label_key)
    labels, scores = scoring.score_split(files, execution.label_key, dtype, models)
    logging.info(
        "BlessingGate: scored %d examples of split %s with %s in %.1f s",
        len(labels),
        split,
        " and ".join(models),
        time.monotonic() - started,
    )
    return labels, scores


def _paired_comparison(
    execution: Execution[BlessingGateParameters],
    labels: Any,
    scores: Mapping[str, scoring.Scores],
    evaluation: tfma_results.Evaluation,
) -> regression.PairedComparison:
    """Compares the candidate and the baseline paired on the same examples; checks it matches TFMA."""
    parameters = execution.parameters
    comparison = regression.compare(
        labels,
        scores["candidate"],
        scores["baseline"],
        samples=parameters.bootstrap_samples,
        seed=parameters.seed,
        confidence=parameters.confidence,
    )
    assert evaluation.baseline is not None  # checks.check_models: a baseline model means baseline metrics
    regression.check_matches_evaluation(
        comparison, evaluation.candidate[judge.OVERALL_SLICE], evaluation.baseline[judge.OVERALL_SLICE]
    )
    return comparison


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


def _write_blessing(
    blessing: types.Artifact,
    blessed: bool,
    model: types.Artifact,
    baseline: Optional[types.Artifact],
    verdict_line: str,
    evaluator_blessed: bool,
    exec_properties: Mapping[str, Any],
) -> None:
    """The BLESSED / NOT_BLESSED marker and the custom properties the TFX Evaluator sets, plus `blessed_by`."""
    fileio.makedirs(blessing.uri)
    marker, stale = evaluator_constants.BLESSED_FILE_NAME, evaluator_constants.NOT_BLESSED_FILE_NAME
    if not blessed:
        marker, stale = stale, marker
    stale_path = os.path.join(blessing.uri, stale)
    if fileio.exists(stale_path):  # Left by an earlier attempt of this execution.
        fileio.remove(stale_path)
    io_utils.write_string_file(os.path.join(blessing.uri, marker), "")
    blessing.set_int_custom_property(
        evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY,
        evaluator_constants.BLESSED_VALUE if blessed else evaluator_constants.NOT_BLESSED_VALUE,
    )
    blessing.set_string_custom_property(evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_URI_KEY, model.uri)
    blessing.set_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY, model.id)
    if baseline is not None:
        blessing.set_string_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY, baseline.uri)
        blessing.set_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_ID_KEY, baseline.id)
    if "current_component_id" in exec_properties:
        blessing.set_string_custom_property("component_id", exec_properties["current_component_id"])
    blessing.set_string_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BLESSING_MESSAGE_KEY, verdict_line)
    blessing.set_string_custom_property(spec.BLESSED_BY_PROPERTY, spec.BLESSED_BY_VALUE)
    blessing.set_int_custom_property("evaluator_blessed", int(evaluator_blessed))


def _set_report_properties(artifact: types.Artifact, gate_report: Mapping[str, Any]) -> None:
    """Key figures on the GateReport artifact, so MLMD queries need not open the JSON."""
    counts = gate_report["counts"]
    artifact.set_string_custom_property("verdict", gate_report["verdict"])
    artifact.set_string_custom_property("verdict_line", gate_report["verdict_line"])
    artifact.set_int_custom_property("blessed", int(gate_report["blessed"]))
    artifact.set_int_custom_property("evaluator_blessed", int(gate_report["evaluator_blessed"]))
    artifact.set_int_custom_property("has_baseline", int(gate_report["has_baseline"]))
    for name in ("checks", "failed_checks", "uncertain_checks", "blocking_checks", "judged_slices", "too_small_slices"):
        artifact.set_int_custom_property(name, counts[name])
    artifact.set_json_value_custom_property("too_small", [entry["slice"] for entry in gate_report["too_small"]])
    artifact.set_json_value_custom_property("failures", [failure["message"] for failure in gate_report["failures"]])
    artifact.set_json_value_custom_property("uncertain", [entry["message"] for entry in gate_report["uncertain"]])
    overall = gate_report["slices"][0]
    artifact.set_int_custom_property("overall_positives", overall["positives"])
    for row in overall["metrics"]:
        if row["metric"] in (spec.AUC, spec.PR_AUC, spec.RECALL, spec.PRECISION, spec.F1):
            if judge.is_finite(row["value"]):
                artifact.set_float_custom_property(f"overall_{row['metric']}", row["value"])
            if judge.is_finite(row["baseline"]):
                artifact.set_float_custom_property(f"baseline_overall_{row['metric']}", row["baseline"])


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
        labels, scores = _score(execution, schema, models)
        curve_data = html_report.curves(labels, scores)
        paired = None if baseline is None else _paired_comparison(execution, labels, scores, evaluation)
        gate_report = judge.judge(
            evaluation.candidate,
            execution.parameters,
            baseline=evaluation.baseline,
            paired=paired,
            evaluator_blessed=evaluator_blessed == evaluator_constants.BLESSED_VALUE,
            evaluator_failures=evaluation.validation_failures,
        )
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
        _set_report_properties(report_artifact, gate_report)

        blessing = execution.output(spec.BLESSING_KEY)
        _write_blessing(
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
