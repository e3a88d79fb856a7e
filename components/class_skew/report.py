"""Files of ClassSkew's outputs: their names, their JSON and reading the report back.

`load_report` is the entry point for other components (Rebalance) and the run summary.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, Mapping

from tfx.dsl.io import fileio

from components.class_skew.label_distribution import ClassSkewInputError

REPORT_FILE_NAME = "class_skew.json"
SUMMARY_FILE_NAME = "summary.txt"
HYPERPARAMETERS_FILE_NAME = "hyperparameters.json"


def to_json(data: Mapping[str, Any]) -> str:
    """Strict JSON (no NaN/Infinity), keys in a stable order, so equal reports are equal files."""
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"


def load_report(report_uri: str) -> Dict[str, Any]:
    """Reads `class_skew.json` from the URI of a ClassSkewReport artifact.

    Keys of the returned dict:
    - `format_version` (int), `label_key` (str), `train_split`, `eval_split` (str), `span` (int or None).
    - `classes`: every class name as str, ints in numeric order (schema-declared and seen in any split).
    - `positive_class`: str for binary labels, else None.
    - `splits`: {split: {`num_examples`, `labeled_count`, `missing_label_count` (int), `sample_rate`
      (StatisticsGen's, 1.0 = exact counts),
      `class_counts` ({class: int}, exact counts from StatisticsGen, 0 for absent classes),
      `class_shares` ({class: float}), `absent_classes` (list), `minority_class`, `majority_class`
      (str or None), `minority_share` (float or None), `imbalance_ratio` (majority/minority count,
      None below two classes), `severity` ("balanced", "imbalanced", "severe", "single-class", "empty")}}.
    - `skew`: {split: {`baseline_split` (the train split), `linf`, `js` (Jensen-Shannon divergence, bits),
      `linf_threshold`, `js_threshold`, `over_threshold` (bool)}} for every other split with labels.
    - `drift`: None without previous statistics, else {`previous_span`, `splits`: {split: {`linf`, `js`,
      thresholds, `over_threshold`, `previous_class_counts`}}, `skipped_splits`: {split: reason}}.
    - `class_weights`: {class: n / (k * count) on the train split, None for classes absent from it}.
    - `initial_bias`: log(pos/neg) on the train split for binary labels with both classes, else None.
    - `thresholds`, `actions`: the settings the report was made with.
    - `findings`: [{`split`, `kind` (empty_split, single_class, severe_imbalance, imbalanced,
      missing_labels, sampled_statistics, skew, drift), `action` (warn, fail or note), `message`, `numbers` (dict)}].
    - `summary`: the lines of summary.txt.
    """
    path = os.path.join(report_uri, REPORT_FILE_NAME)
    if not fileio.exists(path):
        raise ClassSkewInputError(f"no {REPORT_FILE_NAME} in {report_uri!r}: pass the class_skew output of ClassSkew")
    with fileio.open(path, "r") as handle:
        text = handle.read()
    try:
        report = json.loads(text)
    except json.JSONDecodeError as error:
        raise ClassSkewInputError(f"{path} is not valid JSON ({error}); re-run ClassSkew") from error
    if not isinstance(report, dict) or "splits" not in report:
        raise ClassSkewInputError(f"{path} is not a ClassSkew report (no 'splits' key); re-run ClassSkew")
    return report


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
