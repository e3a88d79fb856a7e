"""`create_pipeline(config)`: the TFX pipeline for imbalanced binary classification.

ExampleGen -> StatisticsGen -> ExampleValidator -> ClassSkew -> Rebalance -> Trainer
-> Evaluator (against the last blessed model) -> Pusher (only when blessed).

Pure: builds component objects from the config, reads no files and no environment.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List

import tensorflow_model_analysis as tfma
from tfx import v1 as tfx
from tfx.dsl.components.base import base_node

from components.baseline.strategy import LatestBlessedOtherModelStrategy
from components.class_skew.component import ClassSkew
from components.class_skew.resolver import RESOLVER_ID as PREVIOUS_STATISTICS_RESOLVER
from components.class_skew.resolver import previous_statistics_resolver
from components.rebalance.component import Rebalance
from components.trainer import model as trainer_model
from pipeline.config import PipelineConfig

TRAINER_RUN_FN = "components.trainer.model.run_fn"
TRAIN_SPLIT = "train"
VALID_SPLIT = "valid"
EVAL_SPLIT = "eval"

# Node ids, used by the runners' summary and by the tests.
EXAMPLE_GEN = "CsvExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "ImportSchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
CLASS_SKEW = "ClassSkew"
REBALANCE = "Rebalance"
TRAINER = "Trainer"
BASELINE_RESOLVER = "latest_blessed_model_resolver"
PREVIOUS_STATISTICS = PREVIOUS_STATISTICS_RESOLVER
EVALUATOR = "Evaluator"
PUSHER = "Pusher"


def trainer_custom_config(config: PipelineConfig) -> Dict[str, Any]:
    """The JSON-able settings `components.trainer.model.run_fn` reads from `fn_args.custom_config`."""
    settings = dataclasses.asdict(config.trainer)
    settings["label_key"] = config.label_key
    settings["feature_keys"] = list(config.numeric_feature_keys)
    settings["hidden_units"] = list(config.trainer.hidden_units)
    return settings


def eval_config(config: PipelineConfig) -> tfma.EvalConfig:
    """TFMA config: ranking metrics on the probability, counts and recall on the served decision.

    The serving signature returns both the probability and the decision at the tuned
    threshold, so precision/recall here are measured where the model is really cut,
    not at 0.5. The gate holds on the overall slice; change thresholds compare with the
    last blessed model and are skipped on the first run, when there is none.
    """
    gate = config.evaluator
    higher_is_better = tfma.MetricDirection.HIGHER_IS_BETTER

    def threshold(lower_bound: float, max_drop: float | None = None) -> tfma.MetricThreshold:
        metric_threshold = tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(lower_bound={"value": lower_bound})
        )
        if max_drop is not None:
            metric_threshold.change_threshold.CopyFrom(
                tfma.GenericChangeThreshold(direction=higher_is_better, absolute={"value": -max_drop})
            )
        return metric_threshold

    probability = trainer_model.PROBABILITY_OUTPUT
    decision = trainer_model.DECISION_OUTPUT
    ranking_metrics = tfma.MetricsSpec(
        output_names=[probability],
        metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="AUC", config='{"name": "auc"}', threshold=threshold(gate.min_auc)),
            tfma.MetricConfig(
                class_name="AUC",
                config='{"name": "pr_auc", "curve": "PR"}',
                threshold=threshold(gate.min_pr_auc, gate.max_pr_auc_drop),
            ),
        ],
    )
    decision_metrics = tfma.MetricsSpec(
        output_names=[decision],
        metrics=[
            tfma.MetricConfig(
                class_name="Recall",
                config='{"name": "recall"}',
                threshold=threshold(gate.min_recall, gate.max_recall_drop),
            ),
            tfma.MetricConfig(class_name="Precision", config='{"name": "precision"}'),
            tfma.MetricConfig(class_name="TruePositives", config='{"name": "true_positives"}'),
            tfma.MetricConfig(class_name="FalsePositives", config='{"name": "false_positives"}'),
            tfma.MetricConfig(class_name="TrueNegatives", config='{"name": "true_negatives"}'),
            tfma.MetricConfig(class_name="FalseNegatives", config='{"name": "false_negatives"}'),
        ],
    )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name="serving_default",
                label_keys={probability: config.label_key, decision: config.label_key},
                preprocessing_function_names=[],
            )
        ],
        slicing_specs=[tfma.SlicingSpec()]
        + [tfma.SlicingSpec(feature_keys=[key]) for key in config.slice_feature_keys],
        metrics_specs=[ranking_metrics, decision_metrics],
    )


def create_pipeline(config: PipelineConfig) -> tfx.dsl.Pipeline:
    """The whole pipeline as TFX node objects; each stage is one line to reorder or replace."""
    split_config = tfx.proto.SplitConfig(
        splits=[tfx.proto.SplitConfig.Split(name=name, hash_buckets=buckets) for name, buckets in config.split_buckets]
    )
    example_gen = tfx.components.CsvExampleGen(
        input_base=config.data_root,
        input_config=tfx.proto.Input(splits=[tfx.proto.Input.Split(name="single_split", pattern=config.input_pattern)]),
        output_config=tfx.proto.Output(split_config=split_config),
    )
    schema_gen = tfx.components.ImportSchemaGen(schema_file=config.schema_path)
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"]
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    previous_statistics = previous_statistics_resolver(statistics_gen)
    class_skew = ClassSkew(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        previous_statistics=previous_statistics.outputs["statistics"],
        label_key=config.label_key,
        **dataclasses.asdict(config.class_skew),
    )
    rebalance = Rebalance(
        examples=example_gen.outputs["examples"],
        class_skew=class_skew.outputs["class_skew"],
        label_key=config.label_key,
        **dataclasses.asdict(config.rebalance),
    )
    trainer = tfx.components.Trainer(
        run_fn=TRAINER_RUN_FN,
        examples=rebalance.outputs["rebalanced_examples"],
        schema=schema_gen.outputs["schema"],
        hyperparameters=class_skew.outputs["hyperparameters"],
        train_args=tfx.proto.TrainArgs(splits=[TRAIN_SPLIT]),
        eval_args=tfx.proto.EvalArgs(splits=[VALID_SPLIT]),
        custom_config=trainer_custom_config(config),
    )
    baseline_resolver = tfx.dsl.Resolver(
        strategy_class=LatestBlessedOtherModelStrategy,
        candidate=trainer.outputs["model"],
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id(BASELINE_RESOLVER)
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline_resolver.outputs["model"],
        eval_config=eval_config(config),
        example_splits=[EVAL_SPLIT],
    )
    with tfx.dsl.Cond(evaluator.outputs["blessing"].future()[0].custom_property("blessed") == 1):
        pusher = tfx.components.Pusher(
            model=trainer.outputs["model"],
            model_blessing=evaluator.outputs["blessing"],
            push_destination=tfx.proto.PushDestination(
                filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_model_dir)
            ),
        )

    components: List[base_node.BaseNode] = [
        example_gen,
        schema_gen,
        statistics_gen,
        example_validator,
        previous_statistics,
        class_skew,
        rebalance,
        trainer,
        baseline_resolver,
        evaluator,
        pusher,
    ]
    beam_args = list(config.beam_pipeline_args)
    metadata_config = (
        tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path)
        if config.metadata_path
        else None
    )
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=components,
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_config,
        beam_pipeline_args=beam_args,
    )
