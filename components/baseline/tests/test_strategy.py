"""The baseline is the newest blessed model other than the candidate."""

import pytest
from tfx.types import standard_artifacts

from components.baseline.strategy import (
    CANDIDATE_KEY,
    MODEL_BLESSING_KEY,
    MODEL_KEY,
    LatestBlessedOtherModelStrategy,
    latest_blessed_other_model,
)


def _model(model_id):
    model = standard_artifacts.Model()
    model.id = model_id
    return model


def _blessing(model_id, blessed, blessing_id):
    blessing = standard_artifacts.ModelBlessing()
    blessing.id = blessing_id
    blessing.set_int_custom_property("current_model_id", model_id)
    blessing.set_int_custom_property("blessed", blessed)
    return blessing


def test_newest_blessed_model_is_chosen():
    models = [_model(1), _model(2), _model(3)]
    blessings = [_blessing(1, 1, 11), _blessing(2, 1, 12), _blessing(3, 0, 13)]
    result = latest_blessed_other_model([_model(4)], models, blessings)
    assert [m.id for m in result[MODEL_KEY]] == [2]
    assert [b.id for b in result[MODEL_BLESSING_KEY]] == [12]
    assert [c.id for c in result[CANDIDATE_KEY]] == [4]


def test_candidate_is_never_its_own_baseline():
    models = [_model(1), _model(2)]
    blessings = [_blessing(1, 1, 11), _blessing(2, 1, 12)]
    assert [m.id for m in latest_blessed_other_model([_model(2)], models, blessings)[MODEL_KEY]] == [1]
    only_itself = latest_blessed_other_model([_model(1)], [_model(1)], [_blessing(1, 1, 11)])
    assert only_itself[MODEL_KEY] == [] and only_itself[MODEL_BLESSING_KEY] == []


def test_no_blessed_model_gives_no_baseline():
    result = latest_blessed_other_model([_model(3)], [_model(1), _model(2)], [_blessing(1, 0, 11)])
    assert result[MODEL_KEY] == []


def test_strategy_checks_its_inputs():
    strategy = LatestBlessedOtherModelStrategy()
    with pytest.raises(ValueError, match="needs inputs"):
        strategy.resolve_artifacts(None, {MODEL_KEY: [], MODEL_BLESSING_KEY: []})
    with pytest.raises(ValueError, match="must hold ModelBlessing"):
        strategy.resolve_artifacts(None, {CANDIDATE_KEY: [], MODEL_KEY: [], MODEL_BLESSING_KEY: [_model(1)]})
