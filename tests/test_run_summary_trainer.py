"""The run summary's Trainer line states the served decision rule: a threshold, or per-class weights."""

from pipeline.run_summary import RunSummary


def _summary(training):
    return RunSummary(
        run_id="run-1",
        nodes=[],
        class_skew_lines=[],
        training=training,
        verdict=None,
        metrics={},
        validation_failures=[],
        pushed_to=None,
        push_note="not pushed",
    )


def _trainer_line(training):
    lines = _summary(training).render(total_seconds=1.0).splitlines()
    return next(line for line in lines if line.startswith("trainer:"))


BINARY_TRAINING = {
    "decision_threshold": 0.25,
    "threshold_rule": "max_recall_at_precision",
    "valid_precision": 0.6,
    "valid_recall": 0.9,
    "train_rows": 100,
    "train_positives": 10,
    "epochs_run": 3,
}


def test_the_line_names_the_model_family_and_its_trees():
    forest = {**BINARY_TRAINING, "model": "mlp_rf", "rf_trees": 300}
    assert _trainer_line(forest).endswith("epochs 3; model mlp_rf (300 trees)")
    assert _trainer_line({**BINARY_TRAINING, "model": "mlp"}).endswith("epochs 3; model mlp")
    # The default blend goes unsaid; another one is named.
    assert _trainer_line({**forest, "family_blend": "probability"}).endswith("; model mlp_rf (300 trees)")
    logit = {**forest, "family_blend": "logit"}
    assert _trainer_line(logit).endswith("; model mlp_rf (300 trees, logit blend)")


def test_a_binary_run_states_its_threshold():
    line = _trainer_line(BINARY_TRAINING)
    assert line == (
        "trainer: decision threshold 0.2500 (max_recall_at_precision); valid precision 0.600, recall 0.900; "
        "trained on 100 rows (10 positive), epochs 3"
    )


PER_CLASS = {name: {"precision": 0.5, "recall": recall, "f1": 0.5} for name, recall in (("a", 0.99), ("b", 0.8))}
PER_CLASS["c"] = {"precision": 0.4, "recall": 0.75, "f1": 0.5}
MULTICLASS_TRAINING = {
    "class_names": ["a", "b", "c"],
    "train_rows": 120,
    "train_class_counts": {"a": 100, "b": 15, "c": 5},
    "decision_rule": {
        "class_weights": [1.0, 2.0, 4.5],
        "rule_applied": "max_min_protected_recall",
        "protected_class_names": ["b", "c"],
        "valid_per_class": PER_CLASS,
    },
}


def test_a_multiclass_run_states_its_class_weights_and_the_protected_recalls():
    line = _trainer_line(MULTICLASS_TRAINING)
    assert line == (
        "trainer: class weights a 1, b 2, c 4.5 (max_min_protected_recall); valid recall of protected classes "
        "b 0.800, c 0.750; trained on 120 rows (a 100, b 15, c 5)"
    )


def test_a_multiclass_evaluation_is_summarised_by_macro_figures_and_per_class_recall_and_pr_auc():
    summary = _summary(MULTICLASS_TRAINING)
    summary.metrics = {
        "macro_pr_auc": 0.5,
        "example_count": 10.0,
        "recall#1": 0.8,
        "pr_auc#1": 0.6,
        "recall#2": 0.25,
        "pr_auc#2": 0.4,
    }
    lines = summary.render(total_seconds=1.0).splitlines()
    assert (
        "evaluator (eval split, overall): macro_pr_auc 0.5000; recall/PR-AUC per class: b 0.800/0.600, c 0.250/0.400"
        in lines
    )
