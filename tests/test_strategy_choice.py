"""The strategy report's advice: keep the runner's model unless the best row on valid clearly leads it."""

import dataclasses

import numpy as np
import pytest
import yaml
from sklearn import metrics as skm

from benchmarks.strategy_report import choice
from benchmarks.strategy_report.strategies import STRATEGIES, StrategyReportError, strategy_config
from pipeline.dataset import load_description
from pipeline.overrides import configure
from tests import tables
from tests.configs import placeholder_config

FAST = choice.ChoiceParameters(resamples=200, seed=7)
BY_NAME = {strategy.name: strategy for strategy in STRATEGIES}


def _config(**trainer):
    config = placeholder_config(
        schema_path="/x", label_key="status", numeric_feature_keys=("income", "debt"), slice_feature_keys=()
    )
    return dataclasses.replace(config, trainer=dataclasses.replace(config.trainer, **trainer))


def _scores(labels, rng, separation):
    """Probabilities that rank the positives above the negatives more, the larger `separation`."""
    return 1.0 / (1.0 + np.exp(-(separation * labels + rng.normal(size=labels.size))))


def _binary(rows=2000, positives=40, seed=0):
    labels = np.zeros(rows, dtype=np.int64)
    labels[np.random.default_rng(seed).choice(rows, positives, replace=False)] = 1
    return labels


def test_the_ranking_score_is_the_reports_valid_metric():
    rng = np.random.default_rng(1)
    labels = _binary()
    scores = _scores(labels, rng, 2.0)
    assert choice.ranking_score(None)(labels, scores) == pytest.approx(skm.average_precision_score(labels, scores))
    classes = rng.integers(0, 4, size=500)
    probabilities = rng.dirichlet(np.ones(4), size=500)
    expected = np.mean([skm.average_precision_score(classes == c, probabilities[:, c]) for c in (1, 3)])
    assert choice.ranking_score((1, 3))(classes, probabilities) == pytest.approx(expected)


def test_a_resample_keeps_every_class_count_and_repeats_with_its_seed():
    labels = np.array([0] * 50 + [1] * 7 + [2] * 3)
    first = choice.class_resample(labels, np.random.default_rng(3))
    again = choice.class_resample(labels, np.random.default_rng(3))
    assert np.array_equal(first, again)
    assert np.bincount(labels[first]).tolist() == [50, 7, 3]
    assert len(set(first.tolist())) < labels.size, "drawn with replacement"


def test_a_clearly_better_model_leads_in_every_resample_and_an_equal_one_in_none():
    rng = np.random.default_rng(2)
    labels = _binary()
    weak, strong = _scores(labels, rng, 0.5), _scores(labels, rng, 4.0)
    lead = choice.paired_lead(labels, strong, weak, choice.ranking_score(None), FAST)
    assert lead.share_ahead == 1.0 and 0.0 < lead.low <= lead.lead <= lead.high
    same = choice.paired_lead(labels, weak, weak.copy(), choice.ranking_score(None), FAST)
    assert same.lead == 0.0 and same.share_ahead == 0.0, "a tie is no lead"


def test_a_lead_of_one_row_is_not_clear():
    rng = np.random.default_rng(4)
    labels = _binary()
    incumbent = _scores(labels, rng, 2.0)
    challenger = incumbent.copy()
    # Lift the lowest-ranked positive just above the highest negative under it: a lead of one swap.
    positive = np.flatnonzero(labels == 1)[np.argmin(incumbent[labels == 1])]
    challenger[positive] = np.max(incumbent[(labels == 0) & (incumbent < incumbent[positive] + 0.05)]) + 1e-6
    lead = choice.paired_lead(labels, challenger, incumbent, choice.ranking_score(None), FAST)
    assert lead.lead > 0.0
    assert lead.share_ahead < FAST.confidence


def test_the_same_seed_gives_the_same_lead():
    rng = np.random.default_rng(5)
    labels = _binary()
    a, b = _scores(labels, rng, 2.0), _scores(labels, rng, 2.2)
    score = choice.ranking_score(None)
    assert choice.paired_lead(labels, a, b, score, FAST) == choice.paired_lead(labels, a, b, score, FAST)


def _results(valid):
    return {
        name: {"valid": {"pr_auc": skm.average_precision_score(rows["labels"], rows["probabilities"])}}
        for name, rows in valid.items()
    }


def _advise(valid, current, change=None):
    return choice.choose(
        _results(valid),
        valid.__getitem__,
        current,
        "pr_auc",
        None,
        FAST,
        lambda name: change or {"trainer": {"model": name}},
    )


def test_the_advice_keeps_switches_or_says_there_is_no_current_row():
    rng = np.random.default_rng(6)
    labels = _binary()
    weak, strong = _scores(labels, rng, 0.5), _scores(labels, rng, 4.0)
    valid = {"mlp_rf": {"labels": labels, "probabilities": weak}, "rf": {"labels": labels, "probabilities": strong}}

    switch = _advise(valid, "mlp_rf")
    assert switch["decision"] == "switch" and switch["recommended"] == "rf" and switch["share_ahead"] == 1.0
    assert switch["settings"] == {"trainer": {"model": "rf"}}
    assert "{settings: {trainer: {model: rf}}}" in switch["message"]

    keep = _advise(valid, "rf")
    assert keep["decision"] == "keep" and keep["recommended"] == "rf" and keep["message"] == "keep rf: best on valid"

    alone = _advise(valid, None)
    assert alone["decision"] == "no_current_row" and alone["recommended"] is None and alone["best_on_valid"] == "rf"

    other_rows = labels.copy()
    other_rows[np.flatnonzero(labels == 0)[0]] = 1
    valid["mlp_rf"] = {"labels": other_rows, "probabilities": weak}
    with pytest.raises(StrategyReportError, match="hold different rows"):
        _advise(valid, "mlp_rf")


def test_an_unclear_lead_keeps_the_current_row():
    rng = np.random.default_rng(8)
    labels = _binary()
    incumbent = _scores(labels, rng, 2.0)
    challenger = np.clip(incumbent + rng.normal(scale=0.02, size=labels.size), 0.0, 1.0)
    valid = {
        "none": {"labels": labels, "probabilities": incumbent},
        "rf": {"labels": labels, "probabilities": challenger},
    }
    best = max(valid, key=lambda name: _results(valid)[name]["valid"]["pr_auc"])
    current = "none" if best == "rf" else "rf"
    advice = _advise(valid, current)
    assert advice["decision"] == "keep" and advice["recommended"] == current
    assert advice["required_share"] == pytest.approx(0.95)
    assert advice["share_ahead"] < 0.95 and "under the 95.0% a switch over 1 other row(s) needs" in advice["message"]


def test_the_share_a_switch_needs_grows_with_the_rows_it_was_picked_from():
    assert choice.required_share(FAST, 1) == pytest.approx(0.95)
    assert choice.required_share(FAST, 2) == pytest.approx(0.975)
    assert choice.required_share(FAST, 4) == pytest.approx(0.9875)
    rng = np.random.default_rng(9)
    labels = _binary()
    base = _scores(labels, rng, 2.0)
    valid = {name: {"labels": labels, "probabilities": base} for name in ("mlp_rf", "none", "gbt")}
    valid["rf"] = {"labels": labels, "probabilities": _scores(labels, rng, 4.0)}
    advice = _advise(valid, "mlp_rf")
    assert advice["required_share"] == pytest.approx(1.0 - 0.05 / 3) and advice["decision"] == "switch"


@pytest.mark.parametrize(
    "trainer, expected",
    [
        ({}, "mlp_rf"),
        ({"model": "rf"}, "rf"),
        ({"model": "mlp"}, "none"),
        ({"model": "mlp", "loss": "focal"}, "focal"),
        ({"model": "mlp", "ensemble_members": 3}, "ensemble"),
        ({"model": "gbt", "gbt_example_weights": "none"}, "gbt"),
        ({"model": "gbt"}, "gbt_weighted"),
        ({"model": "mlp", "dropout": 0.3}, "none"),
        ({"model": "mlp", "loss": "pos_weight", "balanced_batches": True}, None),
    ],
)
def test_the_current_row_is_the_one_that_trains_the_runners_config(trainer, expected):
    assert choice.current_row(_config(**trainer), STRATEGIES) == expected


def test_the_settings_of_a_switch_make_the_description_train_that_row(tmp_path):
    runner = _config(model="rf")
    for name in ("mlp_rf", "gbt", "undersample", "mixed_ensemble", "auc_loss"):
        chosen = strategy_config(runner, BY_NAME[name])
        change = choice.settings_change(runner, chosen)
        settings = yaml.safe_load(choice.settings_yaml(change))["settings"]
        folder = tmp_path / name
        folder.mkdir()
        description = load_description(
            tables.write_description(
                folder, {"data": "loans.csv", "label": {"column": "status", "positive": ["bad"]}, "settings": settings}
            )
        )
        trained = configure(_config(model="rf"), description, [])
        assert (trained.trainer, trained.rebalance) == (chosen.trainer, chosen.rebalance), name
    assert choice.settings_change(runner, strategy_config(runner, BY_NAME["gbt"])) == {
        "trainer": {"model": "gbt", "gbt_example_weights": "none"}
    }


@pytest.mark.parametrize(
    "fields, message",
    [({"resamples": 10}, "--choice-resamples must be >= 100"), ({"confidence": 1.0}, "--choice-confidence")],
)
def test_bad_choice_parameters_are_refused(fields, message):
    with pytest.raises(StrategyReportError, match=message):
        choice.ChoiceParameters(**fields)
