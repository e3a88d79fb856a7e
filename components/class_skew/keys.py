"""Channel and parameter names of ClassSkew, shared by the component and its executor."""

STATISTICS_KEY = "statistics"
SCHEMA_KEY = "schema"
PREVIOUS_STATISTICS_KEY = "previous_statistics"
REPORT_KEY = "class_skew"
HYPERPARAMETERS_KEY = "hyperparameters"

LABEL_KEY_PARAM = "label_key"
POSITIVE_CLASS_PARAM = "positive_class"
FLOAT_PARAMS = (
    "imbalanced_ratio",
    "severe_ratio",
    "skew_linf_threshold",
    "skew_js_threshold",
    "drift_linf_threshold",
    "drift_js_threshold",
)
STRING_PARAMS = (
    LABEL_KEY_PARAM,
    "on_single_class",
    "on_empty_split",
    "on_severe_imbalance",
    "on_skew",
    "on_drift",
    "train_split",
    "eval_split",
)
