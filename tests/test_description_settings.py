"""A data set's own `settings:` reach the config before the command line's `--set`, which wins."""

import pytest

from pipeline.dataset import DescriptionError, load_description
from pipeline.overrides import configure
from tests import tables
from tests.configs import placeholder_config

LOANS = {"data": "loans.csv", "label": {"column": "status", "positive": ["bad"]}}


def _description(tmp_path, settings):
    return load_description(tables.write_description(tmp_path, {**LOANS, "settings": settings}))


def _config():
    return placeholder_config(
        schema_path="/x", label_key="status", numeric_feature_keys=("income", "debt"), slice_feature_keys=()
    )


def test_settings_read_as_the_assignments_set_would_take(tmp_path):
    description = _description(
        tmp_path,
        {
            "trainer": {"model": "rf", "hidden_units": [16, 8], "balanced_batches": True},
            "evaluator": {"min_recall": 0.6},
            "rebalance": {"strategy": "oversample", "target_counts": {0: 300, 1: 60}},
        },
    )
    assert description.settings == (
        "trainer.model=rf",
        "trainer.hidden_units=16,8",
        "trainer.balanced_batches=true",
        "evaluator.min_recall=0.6",
        "rebalance.strategy=oversample",
        "rebalance.target_counts=0:300,1:60",
    )
    config = configure(_config(), description, [])
    assert config.trainer.model == "rf" and config.trainer.hidden_units == (16, 8) and config.trainer.balanced_batches
    assert config.evaluator.min_recall == 0.6
    assert config.rebalance.target_counts == (("0", 300), ("1", 60)), "class names are text, as --set reads them"


def test_settings_that_hold_only_together_apply_in_the_order_written(tmp_path):
    description = _description(tmp_path, {"trainer": {"loss": "auc", "min_batch_positives": 2}})
    config = configure(_config(), description, [])
    assert (config.trainer.loss, config.trainer.min_batch_positives) == ("auc", 2)


def test_the_command_line_wins_over_the_description(tmp_path):
    description = _description(tmp_path, {"trainer": {"model": "rf", "max_epochs": 7}})
    config = configure(_config(), description, ["trainer.model=mlp"])
    assert config.trainer.model == "mlp", "--set is applied after the description"
    assert config.trainer.max_epochs == 7, "the description's other settings stay"


def test_a_description_without_settings_leaves_the_defaults(tmp_path):
    description = load_description(tables.write_description(tmp_path, LOANS))
    assert description.settings == ()
    assert configure(_config(), description, []) == _config()


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"trainr": {"model": "rf"}}, r"dataset.yaml: settings.trainr: unknown section; sections: class_skew, "),
        ({"trainer": {"modle": "rf"}}, r"dataset.yaml: settings.trainer.modle: unknown setting 'trainer.modle'"),
        ({"trainer": {"model": "xgboost"}}, r"settings.trainer.model: trainer.model must be one of .*got 'xgboost'"),
        ({"trainer": {"max_epochs": "ten"}}, r"settings.trainer.max_epochs: trainer.max_epochs='ten'.*expected an int"),
        ({"evaluator": {"min_recall": 2}}, r"settings.evaluator.min_recall: evaluator.min_recall must be in"),
        (
            {"trainer": {"max_epochs": 3, "loss": "auc"}},
            r"settings.trainer.loss: trainer.loss=auc learns from positive-negative pairs",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_file_and_key(tmp_path, settings, message):
    description = _description(tmp_path, settings)
    with pytest.raises(DescriptionError, match=message) as raised:
        configure(_config(), description, [])
    assert str(tmp_path / "dataset.yaml") in str(raised.value) and "\n" not in str(raised.value)
