"""Channel keys, parameter names and metric names of BlessingGate, shared by the component and executor."""

from __future__ import annotations

# Inputs. The Evaluator's blessing comes in as `evaluator_blessing`: TFX forbids an input and an
# output of one component sharing a key, and the gate's own output is the `blessing`.
EVALUATION_KEY = "evaluation"
EVALUATOR_BLESSING_KEY = "evaluator_blessing"
MODEL_KEY = "model"
BASELINE_MODEL_KEY = "baseline_model"
SCHEMA_KEY = "schema"

# Outputs.
BLESSING_KEY = "blessing"
GATE_REPORT_KEY = "gate_report"

# Parameters: the threshold names are the fields of `pipeline.config.EvaluatorConfig`.
MIN_AUC = "min_auc"
MIN_PR_AUC = "min_pr_auc"
MIN_RECALL = "min_recall"
MIN_SLICE_POSITIVES = "min_slice_positives"
MAX_PR_AUC_DROP = "max_pr_auc_drop"
MAX_RECALL_DROP = "max_recall_drop"
SLICE_FEATURE_KEYS = "slice_feature_keys"
LABEL_KEY = "label_key"
FRACTION_PARAMS = (MIN_AUC, MIN_PR_AUC, MIN_RECALL, MAX_PR_AUC_DROP, MAX_RECALL_DROP)

# Metric names the gate reads; `eval_config.gate_eval_config` computes them under these names.
AUC = "auc"
PR_AUC = "pr_auc"
RECALL = "recall"
PRECISION = "precision"
F1 = "f1"
RECALL_AT_FPR = "recall_at_fpr"
EXAMPLE_COUNT = "example_count"
TRUE_POSITIVES = "true_positives"
FALSE_POSITIVES = "false_positives"
TRUE_NEGATIVES = "true_negatives"
FALSE_NEGATIVES = "false_negatives"

# Value the gate stores in its blessing's `blessed_by` custom property.
BLESSED_BY_PROPERTY = "blessed_by"
BLESSED_BY_VALUE = "BlessingGate"

GATE_REPORT_MARKDOWN = "gate_report.md"
GATE_REPORT_JSON = "gate_report.json"
