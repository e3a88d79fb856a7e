"""The Trainer's custom_config: one encoding for the pipeline and `run_fn`."""

import json

import pytest

from components.common.parameters import ParameterError
from components.trainer.spec import PARAMETERS, TrainerParameters, TrainerRunConfig


def test_custom_config_survives_json_unchanged():
    run = TrainerRunConfig(
        "Class", ("a", "b"), TrainerParameters(hidden_units=(8, 4), pos_weight=3.0, ensemble_members=1)
    )
    assert TrainerRunConfig.from_custom_config(json.loads(json.dumps(run.to_custom_config()))) == run


def test_default_parameters_are_the_dataclass_defaults():
    assert TrainerRunConfig("Class", ("a",)).parameters == TrainerParameters()


@pytest.mark.parametrize(
    "custom_config,message",
    [
        ({"label_key": "Class", "feature_keys": ["a"]}, r"custom_config lacks \['parameters'\]"),
        (
            {"label_key": "Class", "feature_keys": ["a"], PARAMETERS: {}, "loss": "bce"},
            r"has unknown keys \['loss'\]",
        ),
        ({"label_key": "Class", "feature_keys": ["a"], PARAMETERS: {"epochs": 3}}, r"unknown trainer settings"),
        ({"label_key": "Class", "feature_keys": ["a"], PARAMETERS: {"loss": "hinge"}}, "trainer.loss must be one of"),
        ({"label_key": "Class", "feature_keys": ["Class"], PARAMETERS: {}}, "must not be a model input"),
        ({"label_key": "Class", "feature_keys": [], PARAMETERS: {}}, "feature_keys must not be empty"),
    ],
)
def test_a_custom_config_run_fn_cannot_read_is_an_error_naming_the_problem(custom_config, message):
    with pytest.raises(ParameterError, match=message):
        TrainerRunConfig.from_custom_config(custom_config)
