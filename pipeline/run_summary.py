"""What a pipeline run did, read back from ML Metadata: the runners print it after each run.

Everything here comes from the MLMD store and the artifacts it points to, so the
summary is the same whether a component ran or was served from the cache.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
from typing import Any, Dict, List, Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.dsl.io import fileio

from pipeline.config import PipelineConfig

_STATE_NAMES = {
    metadata_store_pb2.Execution.COMPLETE: "ran",
    metadata_store_pb2.Execution.CACHED: "cached",
    metadata_store_pb2.Execution.FAILED: "FAILED",
    metadata_store_pb2.Execution.RUNNING: "running",
    metadata_store_pb2.Execution.CANCELED: "canceled",
    metadata_store_pb2.Execution.NEW: "new",
}


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = metadata_path
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(connection)


@dataclasses.dataclass
class NodeRun:
    node_id: str
    state: str
    seconds: float
    # Resolvers look artifacts up on every run; they are never "cached".
    is_resolver: bool = False


# Joins a metric's name and its class id for a multiclass model's per-class figures: `recall#3`.
CLASS_METRIC_MARK = "#"


@dataclasses.dataclass
class RunSummary:
    run_id: Optional[str]
    nodes: List[NodeRun]
    class_skew_lines: List[str]
    training: Dict[str, Any]
    verdict: Optional[str]
    metrics: Dict[str, float]
    validation_failures: List[str]
    pushed_to: Optional[str]
    push_note: str
    too_small: List[str] = dataclasses.field(default_factory=list)
    gate_report_path: Optional[str] = None
    # SchemaGen's (or ImportSchemaGen's) output, and what ExampleValidator found against it.
    schema_uri: Optional[str] = None
    anomalies: List[str] = dataclasses.field(default_factory=list)
    rebalance_lines: List[str] = dataclasses.field(default_factory=list)
    # What this run cleaned up after a run that died before it (pipeline/crash_cleanup.py).
    cleanup_lines: List[str] = dataclasses.field(default_factory=list)

    def render(self, total_seconds: float, component_table: bool = True) -> str:
        """The summary; without `component_table` one line counts the components (the console timed each)."""
        lines = [f"=== run summary ({self.run_id or 'no run recorded'}) ==="]
        if self.cleanup_lines:
            lines.append("cleaned up after a run that died:")
            lines.extend(f"  {line}" for line in self.cleanup_lines)
        components = [node for node in self.nodes if not node.is_resolver]
        if component_table:
            lines.append("components:")
            for node in self.nodes:
                lines.append(f"  {node.node_id:<32} {node.state:<7} {node.seconds:8.1f} s")
        else:
            counts = collections.Counter(node.state for node in components)
            lines.append("components: " + ", ".join(f"{count} {state}" for state, count in sorted(counts.items())))
        if components and all(node.state == "cached" for node in components):
            lines.append("no new data: every component was served from the cache (nothing retrained, nothing pushed)")
        if self.anomalies:
            lines.append("data anomalies against the schema (ExampleValidator):")
            lines.extend(f"  {line}" for line in self.anomalies)
        if self.class_skew_lines and component_table:
            lines.append("class balance (ClassSkew):")
            lines.extend(f"  {line}" for line in self.class_skew_lines)
        elif self.class_skew_lines:
            lines.append(f"class balance (ClassSkew): {'; '.join(line.strip() for line in self.class_skew_lines)}")
        lines.extend(self.rebalance_lines)
        if self.training:
            lines.append(_trainer_line(self.training))
        if self.metrics:
            lines.append(f"evaluator (eval split, overall): {_evaluator_figures(self.metrics, self.training)}")
        if self.verdict:
            lines.append(f"gate: {self.verdict}")
            lines.extend(f"  failed: {failure}" for failure in self.validation_failures)
            # The verdict line names them with their counts; repeat them only when it does not.
            if self.too_small and "too small to judge" not in self.verdict:
                lines.append(f"  too small to judge: {', '.join(self.too_small)}")
        lines.append(f"pusher: {self.pushed_to or self.push_note}")
        lines.append(f"total wall time: {total_seconds:.1f} s")
        if self.gate_report_path:
            lines.append(f"report: {self.gate_report_path}")
        return "\n".join(lines)


def _model_words(training: Dict[str, Any]) -> str:
    """The model family and its trees, when the training report names them: "; model mlp_rf (300 trees)".

    A blend other than the default mean probability is named too: "(300 trees, logit blend)".
    """
    if "model" not in training:
        return ""
    trees = [str(training[key]) for key in ("gbt_trees", "rf_trees") if key in training]
    words = [f"{' + '.join(trees)} trees"] if trees else []
    if training.get("family_blend", "probability") != "probability":
        words.append(f"{training['family_blend']} blend")
    return f"; model {training['model']}" + (f" ({', '.join(words)})" if words else "")


def _trainer_line(training: Dict[str, Any]) -> str:
    """The Trainer's served decision rule: a threshold (binary) or per-class weights (multiclass)."""
    rule = training.get("decision_rule")
    if rule is None:
        return (
            "trainer: decision threshold {decision_threshold:.4f} ({threshold_rule}); "
            "valid precision {valid_precision:.3f}, recall {valid_recall:.3f}; "
            "trained on {train_rows} rows ({train_positives} positive), epochs {epochs_run}".format(**training)
        ) + _model_words(training)
    names = training["class_names"]
    weights = ", ".join(f"{name} {weight:.3g}" for name, weight in zip(names, rule["class_weights"], strict=True))
    protected = rule["protected_class_names"]
    recalls = ", ".join(f"{name} {rule['valid_per_class'][name]['recall']:.3f}" for name in protected)
    counts = ", ".join(f"{name} {count}" for name, count in training["train_class_counts"].items())
    return (
        f"trainer: class weights {weights} ({rule['rule_applied']}); valid recall of protected classes {recalls}; "
        f"trained on {training['train_rows']} rows ({counts})"
    ) + _model_words(training)


def _evaluator_figures(metrics: Dict[str, float], training: Dict[str, Any]) -> str:
    """Every overall figure (binary); for a multiclass model the macro figures, then recall/PR-AUC per class."""
    whole = {name: value for name, value in metrics.items() if CLASS_METRIC_MARK not in name}
    per_class: Dict[int, Dict[str, float]] = collections.defaultdict(dict)
    for name, value in metrics.items():
        if CLASS_METRIC_MARK in name:
            metric, class_id = name.split(CLASS_METRIC_MARK)
            per_class[int(class_id)][metric] = value
    if not per_class:
        return ", ".join(_format_metric(name, value) for name, value in sorted(whole.items()))
    names = training.get("class_names") or [str(class_id) for class_id in range(max(per_class) + 1)]
    macro = ", ".join(_format_metric(name, value) for name, value in sorted(whole.items()) if name.startswith("macro"))
    classes = ", ".join(
        f"{names[class_id]} {figures.get('recall', float('nan')):.3f}/{figures.get('pr_auc', float('nan')):.3f}"
        for class_id, figures in sorted(per_class.items())
    )
    return f"{macro}; recall/PR-AUC per class: {classes}"


def _format_metric(name: str, value: float) -> str:
    return f"{name} {value:.0f}" if float(value).is_integer() else f"{name} {value:.4f}"


def _latest_run_context(store: metadata_store.MetadataStore, pipeline_name: str, since: float):
    runs = store.get_contexts_by_type("pipeline_run")
    pipeline_contexts = [c for c in store.get_contexts_by_type("pipeline") if c.name == pipeline_name]
    if not pipeline_contexts:
        return None
    pipeline_execution_ids = {e.id for e in store.get_executions_by_context(pipeline_contexts[0].id)}
    candidates = []
    for run in runs:
        if run.create_time_since_epoch / 1000.0 + 1.0 < since:
            continue
        executions = store.get_executions_by_context(run.id)
        if any(e.id in pipeline_execution_ids for e in executions):
            candidates.append(run)
    return max(candidates, key=lambda c: c.create_time_since_epoch, default=None)


def _output_artifacts(store: metadata_store.MetadataStore, execution_id: int) -> Dict[str, List]:
    outputs: Dict[str, List] = {}
    events = store.get_events_by_execution_ids([execution_id])
    output_types = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
    artifact_ids = {e.artifact_id: e for e in events if e.type in output_types}
    if not artifact_ids:
        return outputs
    for artifact in store.get_artifacts_by_id(list(artifact_ids)):
        event = artifact_ids[artifact.id]
        key = event.path.steps[0].key if event.path.steps else ""
        outputs.setdefault(key, []).append(artifact)
    return outputs


def rebalance_lines(uri: str) -> List[str]:
    """What Rebalance did to each split it was asked to resample, and why a strategy changed nothing."""
    from components.rebalance.executor import SUMMARY_FILE_NAME

    path = os.path.join(uri, SUMMARY_FILE_NAME)
    if not fileio.exists(path):
        return []
    with fileio.open(path, "r") as handle:
        summary = json.load(handle)
    lines = []
    for split, entry in summary["splits"].items():
        if summary["strategy"] == "none" or entry["note"].startswith("not in splits"):
            continue
        if entry["rebalanced"]:
            lines.append(f"rebalance ({summary['strategy']}): {split} {entry['before']} -> {entry['after']}")
        else:
            lines.append(f"rebalance ({summary['strategy']}): {split} unchanged: {entry['note']}")
    return lines


def _class_skew_lines(report_uri: str) -> List[str]:
    """ClassSkew's summary lines; none when its report cannot be read (the run's own log says why)."""
    # Imported here, like summarize_run's imports: TFX modules, loaded only when a run is summarized.
    from components.class_skew.errors import ClassSkewInputError
    from components.class_skew.report import LabelDistributionReport

    try:
        report = LabelDistributionReport.load(report_uri)
    except ClassSkewInputError:
        return []
    return [line for line in report.summary if line.strip()]


def summarize_run(config: PipelineConfig, since: float) -> RunSummary:
    """Reads the newest run of `config.pipeline_name` started after `since` (epoch seconds)."""
    # Imported here: TensorFlow-heavy modules, loaded only when a run is summarized. After a run TFX has loaded
    # TFMA already (its component specs import it), so `load_metrics` costs milliseconds. The training report is
    # read through `serving`, not `model`: `model` imports `tfx.v1`, whose extensions (the Vertex AI client) took
    # seconds of every start-up that no local run needs.
    import tensorflow_model_analysis as tfma

    from components.blessing_gate.report import read_report as read_gate_report
    from components.blessing_gate.report import render_verdict_line
    from components.blessing_gate.spec import GATE_REPORT_HTML
    from components.trainer import serving as trainer_serving
    from pipeline import schema_review

    summary = RunSummary(None, [], [], {}, None, {}, [], None, "did not run")
    if not config.metadata_path or not os.path.exists(config.metadata_path):
        return summary
    store = open_store(config.metadata_path)
    run = _latest_run_context(store, config.pipeline_name, since)
    if run is None:
        return summary
    summary.run_id = run.name
    executions = sorted(store.get_executions_by_context(run.id), key=lambda e: (e.create_time_since_epoch, e.id))
    for execution in executions:
        node_contexts = [c for c in store.get_contexts_by_execution(execution.id) if c.type_id == _node_type_id(store)]
        node_id = node_contexts[0].name.split(".", 1)[-1] if node_contexts else execution.type
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000.0
        state = _STATE_NAMES.get(execution.last_known_state, str(execution.last_known_state))
        type_name = store.get_execution_types_by_id([execution.type_id])[0].name
        summary.nodes.append(NodeRun(node_id, state, seconds, is_resolver=type_name.endswith(".Resolver")))
        outputs = _output_artifacts(store, execution.id)
        if "schema" in outputs and node_id == "SchemaGen":
            summary.schema_uri = outputs["schema"][0].uri
        if "anomalies" in outputs:
            summary.anomalies = schema_review.anomaly_lines(outputs["anomalies"][0].uri)
        if "rebalanced_examples" in outputs:
            summary.rebalance_lines = rebalance_lines(outputs["rebalanced_examples"][0].uri)
        if "class_skew" in outputs:
            summary.class_skew_lines = _class_skew_lines(outputs["class_skew"][0].uri)
        if "model" in outputs and node_id.startswith("Trainer"):
            serving_dir = os.path.join(outputs["model"][0].uri, "Format-Serving")
            try:
                summary.training = trainer_serving.read_training_report(serving_dir)
            except (OSError, ValueError):
                summary.training = {}
        if "evaluation" in outputs:
            summary.metrics = _overall_candidate_metrics(tfma, outputs["evaluation"][0].uri)
        if "gate_report" in outputs:
            report = read_gate_report(outputs["gate_report"][0].uri)
            summary.verdict = render_verdict_line(report)
            summary.validation_failures = [failure["message"] for failure in report["failures"]]
            summary.validation_failures += list(report.get("evaluator_failures", []))
            summary.too_small = [
                f"{entry['class']} on {entry['slice']}" if "class" in entry else entry["slice"]
                for entry in report["too_small"]
            ]
            summary.gate_report_path = os.path.join(outputs["gate_report"][0].uri, GATE_REPORT_HTML)
        if "pushed_model" in outputs:
            pushed = outputs["pushed_model"][0].custom_properties
            if pushed.get("pushed") and pushed["pushed"].int_value == 1:
                summary.pushed_to = pushed["pushed_destination"].string_value
    if summary.pushed_to is None:
        if summary.verdict and summary.verdict.startswith("NOT BLESSED"):
            summary.push_note = "not pushed: the gate did not bless the model"
        elif summary.verdict and summary.verdict.startswith("BLESSED"):
            summary.push_note = "not pushed (see the Pusher's log)"
    return summary


def _overall_candidate_metrics(tfma, evaluation_uri: str) -> Dict[str, float]:
    """The candidate's metrics on the overall slice of a TFMA evaluation."""
    metrics: Dict[str, float] = {}
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        if slice_metrics.slice_key.single_slice_keys:
            continue
        for key_and_value in slice_metrics.metric_keys_and_values:
            key = key_and_value.key
            if key.is_diff or key.model_name not in ("", "candidate"):
                continue
            if key_and_value.value.HasField("double_value"):
                name = key.name
                if key.HasField("sub_key") and key.sub_key.HasField("class_id"):
                    name = f"{name}{CLASS_METRIC_MARK}{key.sub_key.class_id.value}"
                metrics[name] = key_and_value.value.double_value.value
    return metrics


def slice_name(slice_key) -> str:
    """`hour_band=night` for a TFMA SliceKey proto; `overall` for the empty one."""
    parts = []
    for single in slice_key.single_slice_keys:
        kind = single.WhichOneof("kind")
        value = getattr(single, kind) if kind else ""
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        parts.append(f"{single.column}={value}")
    return ",".join(parts) or "overall"


def describe_failure(slice_key, failure) -> str:
    """One line per failed TFMA threshold, e.g. `recall 0.61 < 0.80 on slice hour_band=night`."""
    name = failure.metric_key.name
    value = failure.metric_value.double_value.value
    where = slice_name(slice_key)
    threshold = failure.metric_threshold
    if threshold.HasField("change_threshold"):
        change = threshold.change_threshold
        bound = change.absolute.value if change.HasField("absolute") else change.relative.value
        if failure.metric_key.is_diff:
            return f"{name} changed by {value:+.4f} against the baseline (allowed {bound:+.4f}) on slice {where}"
    if threshold.HasField("value_threshold"):
        bounds = threshold.value_threshold
        if bounds.HasField("lower_bound") and value < bounds.lower_bound.value:
            return f"{name} {value:.4f} < {bounds.lower_bound.value:.4f} on slice {where}"
        if bounds.HasField("upper_bound") and value > bounds.upper_bound.value:
            return f"{name} {value:.4f} > {bounds.upper_bound.value:.4f} on slice {where}"
    return f"{name} {value:.4f} failed its threshold on slice {where}"


def _node_type_id(store: metadata_store.MetadataStore) -> int:
    return store.get_context_type("node").id
