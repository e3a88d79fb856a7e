"""What the gate writes besides its report files: the blessing (marker and properties) and the report's properties.

The blessing carries what the TFX Evaluator's does, so Pusher and `tfx.dsl.Cond` read it alike;
the GateReport artifact carries key figures, so MLMD queries need not open the JSON.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional

from tfx import types
from tfx.components.evaluator import constants as evaluator_constants
from tfx.dsl.io import fileio
from tfx.utils import io_utils

from components.blessing_gate import judge, spec


def write_blessing(
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


def set_report_properties(artifact: types.Artifact, gate_report: Mapping[str, Any]) -> None:
    """Key figures on the GateReport artifact, so MLMD queries need not open the JSON."""
    counts = gate_report["counts"]
    artifact.set_string_custom_property("verdict", gate_report["verdict"])
    artifact.set_string_custom_property("verdict_line", gate_report["verdict_line"])
    artifact.set_int_custom_property("blessed", int(gate_report["blessed"]))
    artifact.set_int_custom_property("evaluator_blessed", int(gate_report["evaluator_blessed"]))
    artifact.set_int_custom_property("has_baseline", int(gate_report["has_baseline"]))
    for name in ("checks", "failed_checks", "uncertain_checks", "blocking_checks", "judged_slices", "too_small_slices"):
        artifact.set_int_custom_property(name, counts[name])
    too_small = [e["slice"] if "class" not in e else f"{e['class']} on {e['slice']}" for e in gate_report["too_small"]]
    artifact.set_json_value_custom_property("too_small", too_small)
    artifact.set_json_value_custom_property("failures", [failure["message"] for failure in gate_report["failures"]])
    artifact.set_json_value_custom_property("uncertain", [entry["message"] for entry in gate_report["uncertain"]])
    for overall in gate_report["slices"]:
        if overall["slice"] != judge.OVERALL_SLICE or not overall.get("protected", True):
            continue
        # Binary: `overall_recall`; multiclass, per protected class: `overall_recall_<class>`.
        suffix = f"_{overall['class']}" if "class" in overall else ""
        artifact.set_int_custom_property(f"overall_positives{suffix}", overall["positives"])
        for row in overall["metrics"]:
            if row["metric"] in (spec.AUC, spec.PR_AUC, spec.RECALL, spec.PRECISION, spec.F1):
                if judge.is_finite(row["value"]):
                    artifact.set_float_custom_property(f"overall_{row['metric']}{suffix}", row["value"])
                if judge.is_finite(row["baseline"]):
                    artifact.set_float_custom_property(f"baseline_overall_{row['metric']}{suffix}", row["baseline"])
