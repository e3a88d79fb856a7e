"""ServedMetric through the stock TFX Evaluator: TFMA's own metrics' figures, slice by slice, for both models.

Two Evaluator runs on the gate's tiny fixture (a candidate against a baseline): one with the gate's
EvalConfig, one with TFMA's stock metrics on the same outputs. The confusion counts, recall,
precision, F1 and example count must be equal on every slice; ROC-AUC and PR-AUC are checked
against scikit-learn on the served probabilities, since TFMA's own read them through 10,000 even
buckets.
"""

import json

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from sklearn import metrics

from components.blessing_gate import spec, tfma_results
from components.blessing_gate.tests import fixtures

# TFMA's stock metric for each figure the gate reads, and the output it is computed on.
STOCK = {
    spec.EXAMPLE_COUNT: ("ExampleCount", "probability"),
    spec.RECALL: ("Recall", "decision"),
    spec.PRECISION: ("Precision", "decision"),
    spec.F1: ("F1Score", "decision"),
    spec.TRUE_POSITIVES: ("TruePositives", "decision"),
    spec.FALSE_POSITIVES: ("FalsePositives", "decision"),
    spec.TRUE_NEGATIVES: ("TrueNegatives", "decision"),
    spec.FALSE_NEGATIVES: ("FalseNegatives", "decision"),
}


def _stock_config() -> tfma.EvalConfig:
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name="serving_default",
                label_keys={"probability": fixtures.LABEL_KEY, "decision": fixtures.LABEL_KEY},
                preprocessing_function_names=[],
            )
        ],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[fixtures.SLICE_KEY])],
        metrics_specs=[
            tfma.MetricsSpec(
                output_names=[output],
                metrics=[tfma.MetricConfig(class_name=class_name, config=json.dumps({"name": name}))],
            )
            for name, (class_name, output) in STOCK.items()
        ],
    )


@pytest.fixture(scope="module")
def evaluations(tmp_path_factory):
    root = tmp_path_factory.mktemp("served-vs-stock")
    rows = fixtures.eval_rows()
    models = {
        kind: fixtures.write_model(str(root / kind), kind, model_id)
        for model_id, kind in ((1, "good"), (2, "stricter"))
    }
    examples = fixtures.write_examples(str(root / "examples"), rows)
    loaded = {}
    for name, config in (("served", None), ("stock", _stock_config())):
        outputs = fixtures.run_evaluator(
            str(root / name), examples, models["stricter"], baseline=models["good"], config=config
        )
        loaded[name] = tfma_results.load_evaluation(outputs["evaluation"].uri)
    return rows, loaded


def test_counts_and_ratios_equal_tfmas_own_metrics_on_every_slice_of_both_models(evaluations):
    _, loaded = evaluations
    served, stock = loaded["served"], loaded["stock"]
    for model in ("candidate", "baseline"):
        served_slices, stock_slices = getattr(served, model), getattr(stock, model)
        assert set(served_slices) == set(stock_slices) == {"overall", "band=day", "band=night", "band=rare"}
        for slice_name, figures in stock_slices.items():
            for name in STOCK:
                expected = pytest.approx(figures[name], abs=1e-9, nan_ok=True)  # precision of no calls: NaN in both
                assert served_slices[slice_name][name] == expected, (model, slice_name, name)


def test_ranking_metrics_are_scikit_learns_on_the_served_probabilities(evaluations):
    rows, loaded = evaluations
    labels = np.array([row[fixtures.LABEL_KEY] for row in rows])
    probabilities = fixtures.good_model_probability(rows)  # the stricter model ranks as the good one
    bands = np.array([row[fixtures.SLICE_KEY] for row in rows])
    for slice_name, chosen in (("overall", np.ones(labels.size, bool)), ("band=day", bands == "day")):
        figures = loaded["served"].candidate[slice_name]
        expected_auc = metrics.roc_auc_score(labels[chosen], probabilities[chosen])
        expected_ap = metrics.average_precision_score(labels[chosen], probabilities[chosen])
        assert figures[spec.AUC] == pytest.approx(expected_auc, abs=1e-4), slice_name
        assert figures[spec.PR_AUC] == pytest.approx(expected_ap, abs=1e-4), slice_name
