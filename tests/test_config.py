"""Config validation and `--set` overrides fail early with the field's name."""

import argparse
import dataclasses

import pytest

from pipeline.config import ConfigError, EvaluatorConfig, PipelineConfig, RebalanceConfig, TrainerConfig
from pipeline.overrides import add_config_flags, apply_overrides


def _config(**changes) -> PipelineConfig:
    base = dict(pipeline_name="p", pipeline_root="/r", data_root="/d", serving_model_dir="/s", schema_path="/x")
    base.update(changes)
    return PipelineConfig(**base)


def test_defaults_are_valid_and_frozen():
    config = _config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.pipeline_name = "other"  # type: ignore[misc]
    assert config.rebalance.splits == ("train",)


@pytest.mark.parametrize(
    "build,message",
    [
        (lambda: EvaluatorConfig(min_recall=1.5), r"evaluator.min_recall must be in \[0, 1\], got 1.5"),
        (lambda: EvaluatorConfig(min_auc=-0.1), r"evaluator.min_auc must be in \[0, 1\]"),
        (lambda: RebalanceConfig(target_ratio=0.0), r"rebalance.target_ratio must be in \(0, 1\], got 0.0"),
        (lambda: RebalanceConfig(strategy="magic"), "rebalance.strategy must be one of none, undersample"),
        (lambda: TrainerConfig(focal_gamma=-1.0), "trainer.focal_gamma must be >= 0"),
        (lambda: TrainerConfig(focal_alpha=1.0), r"trainer.focal_alpha must be in \(0, 1\)"),
        (lambda: TrainerConfig(pos_weight=0.0), "trainer.pos_weight must be > 0"),
        (
            lambda: TrainerConfig(balanced_batches=True, ensemble_members=3),
            "trainer.balanced_batches trains one model, but trainer.ensemble_members is 3; set "
            "trainer.ensemble_members=1",
        ),
        (lambda: _config(pipeline_root=""), "pipeline_root must not be empty"),
        (lambda: _config(split_buckets=(("train", 1), ("eval", 1))), "must define train, valid and eval"),
        (
            lambda: _config(rebalance=RebalanceConfig(splits=("train", "eval"))),
            "rebalance.splits must not include valid or eval",
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
    with pytest.raises(ConfigError, match="unknown setting 'epochs'; settings: .*max_epochs"):
        apply_overrides(config, ["trainer.epochs=3"])
    with pytest.raises(ConfigError, match="unknown section 'train'"):
        apply_overrides(config, ["train.max_epochs=3"])
    with pytest.raises(ConfigError, match="expects name=value"):
        apply_overrides(config, ["trainer.max_epochs"])


@pytest.mark.parametrize(
    "evaluator",
    [
        EvaluatorConfig(),
        EvaluatorConfig(
            min_auc=0.81,
            min_pr_auc=0.42,
            min_recall=0.63,
            min_slice_positives=17,
            max_pr_auc_drop=0.03,
            max_recall_drop=0.07,
        ),
    ],
    ids=["defaults", "overridden"],
)
def test_gate_thresholds_are_the_evaluator_config_values(evaluator):
    # Imported here: pipeline.pipeline pulls in TFX and TFMA, which the other tests do not need.
    from pipeline.pipeline import gate_thresholds

    thresholds = gate_thresholds(_config(evaluator=evaluator))
    field_names = [field.name for field in dataclasses.fields(thresholds)]
    assert field_names, "GateThresholds has no fields"
    for name in field_names:
        assert getattr(thresholds, name) == getattr(evaluator, name), name


def test_config_flags_collect_repeated_values_in_order():
    parser = argparse.ArgumentParser()
    add_config_flags(parser, beam_arg_help="Beam", set_examples="--set trainer.max_epochs=5")
    args = parser.parse_args(["--set", "a=1", "--beam-arg=--x=1", "--set", "b.c=2", "--beam-arg=--y"])
    assert args.overrides == ["a=1", "b.c=2"]
    assert args.beam_args == ["--x=1", "--y"]
    absent = parser.parse_args([])
    assert absent.overrides == [] and absent.beam_args is None
