"""The Trainer's custom_config: one encoding for the pipeline and `run_fn`."""

import json

import pytest

from components.common.parameters import ParameterError
from components.trainer.spec import PARAMETERS, TrainerParameters, TrainerRunConfig

NAMES = {"label_key": "Class", "numeric_feature_keys": ["a"], "categorical_feature_keys": []}


def test_custom_config_survives_json_unchanged():
    run = TrainerRunConfig(
        "Class",
        ("a", "a__missing"),
        ("colour",),
        TrainerParameters(hidden_units=(8, 4), pos_weight=3.0, ensemble_members=1),
    )
    assert TrainerRunConfig.from_custom_config(json.loads(json.dumps(run.to_custom_config()))) == run
    assert run.feature_keys == ("a", "a__missing", "colour"), "numeric inputs first, then categorical ids"


def test_default_parameters_are_the_dataclass_defaults():
    assert TrainerRunConfig("Class", ("a",)).parameters == TrainerParameters()
    assert TrainerRunConfig("Class", ("a",)).categorical_feature_keys == ()


@pytest.mark.parametrize(
    "custom_config,message",
    [
        (NAMES, r"custom_config lacks \['parameters'\]"),
        ({**NAMES, PARAMETERS: {}, "loss": "bce"}, r"has unknown keys \['loss'\]"),
        ({"label_key": "Class", "feature_keys": ["a"], PARAMETERS: {}}, r"lacks \['categorical_feature_keys', 'numer"),
        ({**NAMES, PARAMETERS: {"epochs": 3}}, r"unknown trainer settings"),
        ({**NAMES, PARAMETERS: {"loss": "hinge"}}, "trainer.loss must be one of"),
        (
            {**NAMES, PARAMETERS: {"decision_max_recall_loss": 1.5}},
            r"^trainer.decision_max_recall_loss must be in \[0, 1\], got 1.5$",
        ),
        ({**NAMES, "categorical_feature_keys": ["Class"], PARAMETERS: {}}, "must not be a model input"),
        ({**NAMES, "numeric_feature_keys": ["Class"], PARAMETERS: {}}, "must not be a model input"),
        ({**NAMES, "numeric_feature_keys": [], PARAMETERS: {}}, "feature keys must not be empty"),
        ({**NAMES, "categorical_feature_keys": ["a"], PARAMETERS: {}}, r"inputs \['a'\] are both numeric and"),
    ],
)
def test_a_custom_config_run_fn_cannot_read_is_an_error_naming_the_problem(custom_config, message):
    with pytest.raises(ParameterError, match=message):
        TrainerRunConfig.from_custom_config(custom_config)


def test_the_model_family_is_a_setting_parsed_from_its_type():
    assert TrainerParameters().model == "mlp_rf", "the MLP and the forest, chosen across data sets"
    assert TrainerParameters.parse_field("model", "gbt") == "gbt"
    assert TrainerParameters.parse_field("gbt_early_stopping", "false") is False
    assert TrainerParameters.parse_field("gbt_shrinkage", "0.05") == 0.05
    chosen = TrainerParameters(model="mlp_gbt", gbt_example_weights="balanced")
    assert TrainerParameters.from_json_dict(json.loads(json.dumps(chosen.to_json_dict()))) == chosen


@pytest.mark.parametrize(
    "setting,message",
    [
        ({"model": "xgboost"}, r"^trainer.model must be one of mlp, gbt, mlp_gbt, rf, mlp_rf; got 'xgboost'$"),
        ({"gbt_num_trees": 0}, r"^trainer.gbt_num_trees must be >= 1, got 0$"),
        ({"gbt_max_depth": 1}, r"^trainer.gbt_max_depth must be >= 2, got 1$"),
        ({"gbt_shrinkage": 0.0}, r"^trainer.gbt_shrinkage must be in \(0, 1\], got 0.0$"),
        ({"gbt_min_examples": 0}, r"^trainer.gbt_min_examples must be >= 1, got 0$"),
        ({"gbt_l2_regularization": -0.5}, r"^trainer.gbt_l2_regularization must be >= 0, got -0.5$"),
        ({"gbt_example_weights": "smote"}, r"^trainer.gbt_example_weights must be one of none, balanced; got 'smote'$"),
        ({"rf_num_trees": 0}, r"^trainer.rf_num_trees must be >= 1, got 0$"),
        ({"rf_max_depth": 1}, r"^trainer.rf_max_depth must be >= 2, got 1$"),
        ({"rf_min_examples": 0}, r"^trainer.rf_min_examples must be >= 1, got 0$"),
        ({"family_blend": "median"}, r"^trainer.family_blend must be one of probability, logit; got 'median'$"),
        ({"model": "rf", "ensemble_recipes": ("none", "undersample:1.0")}, r"model=rf trains none \(use mlp_rf\)"),
    ],
)
def test_an_invalid_tree_setting_is_one_line_naming_it(setting, message):
    with pytest.raises(ParameterError, match=message):
        TrainerParameters(**setting)
