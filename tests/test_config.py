"""Config validation and `--set` overrides fail early with the field's name."""

import argparse
import dataclasses
import json

import pytest

from components.blessing_gate.spec import BlessingGateParameters
from components.class_skew.spec import ClassSkewParameters
from components.rebalance.spec import RebalanceParameters
from components.trainer.spec import TrainerParameters
from components.transform.spec import TransformParameters
from pipeline.config import PipelineConfig
from pipeline.errors import ConfigError
from pipeline.overrides import add_config_flags, apply_overrides
from tests.configs import placeholder_config


def _config(**changes) -> PipelineConfig:
    base = dict(
        schema_path="/x",
        label_key="Class",
        numeric_feature_keys=("a", "b"),
        categorical_feature_keys=("c",),
        nullable_feature_keys=("b",),
        slice_feature_keys=("c",),
    )
    return placeholder_config(**{**base, **changes})


def test_defaults_are_valid_and_frozen():
    config = _config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.pipeline_name = "other"  # type: ignore[misc]
    assert config.rebalance.splits == ("train",)


@pytest.mark.parametrize(
    "build,message",
    [
        (lambda: BlessingGateParameters(min_recall=1.5), r"evaluator.min_recall must be in \[0, 1\], got 1.5"),
        (lambda: BlessingGateParameters(min_auc=-0.1), r"evaluator.min_auc must be in \[0, 1\]"),
        (lambda: RebalanceParameters(target_ratio=0.0), r"rebalance.target_ratio must be in \(0, 1\], got 0.0"),
        (lambda: RebalanceParameters(strategy="magic"), "rebalance.strategy must be one of none, undersample"),
        (lambda: TrainerParameters(focal_gamma=-1.0), "trainer.focal_gamma must be >= 0"),
        (lambda: TrainerParameters(focal_alpha=1.0), r"trainer.focal_alpha must be in \(0, 1\)"),
        (lambda: TrainerParameters(pos_weight=0.0), "trainer.pos_weight must be > 0"),
        (
            lambda: TrainerParameters(balanced_batches=True, ensemble_members=3),
            "trainer.balanced_batches trains one model, but trainer.ensemble_members is 3; set "
            "trainer.ensemble_members=1",
        ),
        (lambda: _config(pipeline_root=""), "pipeline_root must not be empty"),
        (lambda: _config(numeric_feature_keys=("a", "c")), r"columns \['c'\] are both numeric and categorical"),
        (lambda: _config(numeric_feature_keys=("a", "Class")), "the label 'Class' must not be a model input"),
        (lambda: _config(nullable_feature_keys=("c",)), r"nullable columns \['c'\] are not numeric inputs"),
        (lambda: _config(label_key=""), "label_key must not be empty"),
        (
            lambda: _config(rebalance=RebalanceParameters(splits=("train", "eval"))),
            "rebalance.splits must not include valid or eval",
        ),
        (
            lambda: _config(class_skew=ClassSkewParameters(eval_split="test")),
            r"class_skew.eval_split 'test' is not a split data prep makes: \('train', 'valid', 'eval'\)",
        ),
    ],
)
def test_invalid_values_name_the_field(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


def test_overrides_parse_types_and_revalidate():
    config = apply_overrides(
        _config(),
        ["trainer.max_epochs=3", "trainer.hidden_units=8,4", "enable_cache=false", "rebalance.strategy=smote"],
    )
    assert config.trainer.max_epochs == 3
    assert config.trainer.hidden_units == (8, 4)
    assert config.enable_cache is False
    assert config.rebalance.strategy == "smote"
    with pytest.raises(ConfigError, match="evaluator.min_recall must be in"):
        apply_overrides(config, ["evaluator.min_recall=2"])
    with pytest.raises(ConfigError, match="unknown setting 'trainer.epochs'; settings of trainer: .*max_epochs"):
        apply_overrides(config, ["trainer.epochs=3"])
    with pytest.raises(ConfigError, match="unknown section 'train'"):
        apply_overrides(config, ["train.max_epochs=3"])
    with pytest.raises(ConfigError, match="expects name=value"):
        apply_overrides(config, ["trainer.max_epochs"])


def test_settings_that_hold_only_together_apply_in_any_order():
    """trainer.loss=auc needs batches with positives; the check runs once every --set is read."""
    for order in (
        ["trainer.loss=auc", "trainer.min_batch_positives=2"],
        ["trainer.min_batch_positives=2", "trainer.loss=auc"],
    ):
        config = apply_overrides(_config(), order)
        assert (config.trainer.loss, config.trainer.min_batch_positives) == ("auc", 2)
    with pytest.raises(ConfigError, match="trainer.loss=auc learns from positive-negative pairs"):
        apply_overrides(_config(), ["trainer.loss=auc"])
    later = apply_overrides(_config(), ["trainer.max_epochs=3", "trainer.max_epochs=5"])
    assert later.trainer.max_epochs == 5, "a later assignment of the same setting wins"


@pytest.mark.parametrize(
    "evaluator",
    [
        BlessingGateParameters(),
        BlessingGateParameters(
            min_auc=0.81,
            min_pr_auc=0.42,
            min_recall=0.63,
            min_slice_positives=17,
            max_pr_auc_drop=0.03,
            max_recall_drop=0.07,
            recall_at_fpr=0.002,
        ),
    ],
    ids=["defaults", "overridden"],
)
def test_the_gate_and_its_evaluator_take_the_pipeline_configs_evaluator_section(evaluator):
    # Imported here: pipeline.pipeline pulls in TFX and TFMA, which the other tests do not need.
    from pipeline.pipeline import BLESSING_GATE, EVALUATOR, create_pipeline

    config = _config(evaluator=evaluator)
    nodes = {node.id: node for node in create_pipeline(config).components}
    gate = nodes[BLESSING_GATE].exec_properties
    assert BlessingGateParameters.from_exec_properties(gate) == config.evaluator
    assert gate["label_key"] == config.label_key
    # The Evaluator's TFMA thresholds and reported rate come from the same object.
    eval_config = json.loads(nodes[EVALUATOR].exec_properties["eval_config"])
    metrics = {
        json.loads(metric["config"])["name"]: metric
        for metrics_spec in eval_config["metrics_specs"]
        for metric in metrics_spec["metrics"]
    }
    thresholds = {
        name: entry["threshold"] for name, metric in metrics.items() for entry in metric.get("per_slice_thresholds", [])
    }
    minimums = {name: threshold["value_threshold"]["lower_bound"] for name, threshold in thresholds.items()}
    assert minimums == pytest.approx(
        {"auc": evaluator.min_auc, "pr_auc": evaluator.min_pr_auc, "recall": evaluator.min_recall}
    )
    drops = {
        name: -threshold["change_threshold"]["absolute"]
        for name, threshold in thresholds.items()
        if "change_threshold" in threshold
    }
    assert drops == pytest.approx({"pr_auc": evaluator.max_pr_auc_drop, "recall": evaluator.max_recall_drop})
    false_positive_rate = json.loads(metrics["recall_at_fpr"]["config"])["false_positive_rate"]
    assert false_positive_rate == pytest.approx(evaluator.recall_at_fpr)


def test_config_flags_collect_repeated_values_in_order():
    parser = argparse.ArgumentParser()
    add_config_flags(parser, beam_arg_help="Beam", set_examples="--set trainer.max_epochs=5")
    args = parser.parse_args(["--set", "a=1", "--beam-arg=--x=1", "--set", "b.c=2", "--beam-arg=--y"])
    assert args.overrides == ["a=1", "b.c=2"]
    assert args.beam_args == ["--x=1", "--y"]
    absent = parser.parse_args([])
    assert absent.overrides == [] and absent.beam_args is None


def test_the_config_composes_each_components_own_parameters():
    """One declaration per default: the pipeline's sections are the components' own dataclasses."""
    fields = {field.name: field for field in dataclasses.fields(PipelineConfig)}
    assert fields["class_skew"].default_factory is ClassSkewParameters
    assert fields["rebalance"].default_factory is RebalanceParameters
    assert fields["trainer"].default_factory is TrainerParameters
    assert fields["evaluator"].default_factory is BlessingGateParameters
    assert fields["transform"].default_factory is TransformParameters
    config = _config()
    assert config.rebalance == RebalanceParameters() and config.trainer == TrainerParameters()


@pytest.mark.parametrize(
    "assignment, read, expected",
    [
        ("rebalance.target_counts=0:5000,1:500", lambda c: c.rebalance.target_counts, (("0", 5000), ("1", 500))),
        ("rebalance.target_counts=none", lambda c: c.rebalance.target_counts, None),
        ("slice_feature_keys=c,a", lambda c: c.slice_feature_keys, ("c", "a")),
        ("transform.oov_buckets=3", lambda c: c.transform.oov_buckets, 3),
        ("rebalance.splits=train", lambda c: c.rebalance.splits, ("train",)),
        ("trainer.pos_weight=none", lambda c: c.trainer.pos_weight, None),
        ("trainer.pos_weight=3.5", lambda c: c.trainer.pos_weight, 3.5),
        ("trainer.model=gbt", lambda c: c.trainer.model, "gbt"),
        ("trainer.gbt_example_weights=balanced", lambda c: c.trainer.gbt_example_weights, "balanced"),
        ("class_skew.positive_class=1", lambda c: c.class_skew.positive_class, "1"),
    ],
)
def test_every_setting_can_be_set_including_tuples_and_pairs(assignment, read, expected):
    assert read(apply_overrides(_config(), [assignment])) == expected


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("rebalance.target_counts=05,19", r"rebalance.target_counts='05,19': '05' is not a NAME:VALUE pair"),
        ("rebalance.target_counts=0:many", r"rebalance.target_counts='0:many'.*expected NAME:INT pairs"),
        ("transform.oov_buckets=many", r"transform.oov_buckets='many'.*expected an int"),
        ("trainer.max_epochs=ten", r"trainer.max_epochs='ten'.*expected an int"),
        ("trainer.nope=1", r"unknown setting 'trainer.nope'"),
        ("trainer.model=xgboost", r"trainer.model must be one of mlp, gbt, mlp_gbt, rf, mlp_rf; got 'xgboost'"),
        ("trainer=1", r"unknown setting 'trainer'"),
    ],
)
def test_bad_override_values_are_one_line_naming_the_setting(assignment, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(_config(), [assignment])


def test_rebalance_synthesises_only_numeric_columns_that_every_row_has():
    from pipeline.pipeline import REBALANCE, create_pipeline

    nodes = {node.id: node for node in create_pipeline(_config()).components}
    # "b" has missing values: SMOTE and the augmentations copy it from the base row instead.
    assert json.loads(nodes[REBALANCE].exec_properties["feature_keys"]) == ["a"]
