"""Input consistency checks: each bad wiring or name fails with the value and what to do."""

import pytest

from components.blessing_gate.checks import check_evaluation, check_models, check_schema_features
from components.blessing_gate.errors import GateInputError

SCHEMA_FEATURES = ["Amount", "Class", "Time", "amount_bucket", "hour_band"]


def test_schema_features_present_pass():
    check_schema_features(SCHEMA_FEATURES, "Class", ["hour_band", "amount_bucket"])


def test_slice_feature_not_in_schema_is_named_with_the_schema_features():
    with pytest.raises(GateInputError) as error:
        check_schema_features(SCHEMA_FEATURES, "Class", ["hour_band", "merchant"])
    message = str(error.value)
    assert "slice feature 'merchant' is not in the schema" in message
    assert "Amount, Class, Time, amount_bucket, hour_band" in message


def test_label_not_in_schema_is_named():
    with pytest.raises(GateInputError, match="label_key 'is_fraud' is not a feature of the schema"):
        check_schema_features(SCHEMA_FEATURES, "is_fraud", [])


def test_evaluation_must_use_the_label_and_slice_by_every_slice_feature():
    check_evaluation("/eval", {"hour_band", "amount_bucket"}, {"Class"}, "Class", ["hour_band", "amount_bucket"])
    with pytest.raises(GateInputError, match=r"label key\(s\) \['Fraud'\], but the gate's label_key is 'Class'"):
        check_evaluation("/eval", {"hour_band"}, {"Fraud"}, "Class", ["hour_band"])
    with pytest.raises(GateInputError, match=r"has no slices for slice feature\(s\) \['amount_bucket'\]"):
        check_evaluation("/eval", {"hour_band"}, {"Class"}, "Class", ["hour_band", "amount_bucket"])


def _models(**overrides):
    values = dict(
        evaluator_blessed=1,
        evaluator_model_id=5,
        evaluator_baseline_id=None,
        model_id=5,
        baseline_model_id=None,
        evaluation_has_baseline=False,
    )
    values.update(overrides)
    return values


def test_consistent_models_pass():
    check_models(**_models())
    check_models(**_models(evaluator_baseline_id=3, baseline_model_id=3, evaluation_has_baseline=True))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"evaluator_blessed": None}, "blessed=None, not 0 or 1"),
        ({"evaluator_model_id": 4}, "blessing is for model id 4, but the gate was given model id 5"),
        ({"evaluation_has_baseline": True}, "compares with a baseline model, but the gate was given none"),
        ({"baseline_model_id": 3}, "given baseline model id 3, but the evaluation holds no baseline"),
        (
            {"baseline_model_id": 3, "evaluator_baseline_id": 2, "evaluation_has_baseline": True},
            "compared with baseline model id 2, but the gate was given baseline model id 3",
        ),
    ],
)
def test_inconsistent_models_fail(overrides, message):
    with pytest.raises(GateInputError, match=message):
        check_models(**_models(**overrides))
