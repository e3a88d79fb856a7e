"""`create_pipeline(config)`: the TFX pipeline for imbalanced binary classification.

ExampleGen -> StatisticsGen -> ExampleValidator -> ClassSkew -> Rebalance -> Transform -> Trainer
-> Evaluator (against the last blessed model) -> Pusher (only when blessed).

Pure: builds component objects from the config, reads no files and no environment.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import tensorflow_data_validation as tfdv
import tensorflow_model_analysis as tfma
from tensorflow_metadata.proto.v0 import schema_pb2

# TFX's classes from the modules that define them, not through `tfx.v1`: importing `tfx.v1` also imports every
# extension, among them the Vertex AI client (google.cloud.aiplatform), which no local run uses and which took
# about 6 s of every start-up, a cached rerun's included. They are the same classes; the compiled pipeline is
# identical.
from tfx.components import (
    Evaluator,
    ExampleValidator,
    ImportExampleGen,
    Pusher,
    SchemaGen,
    StatisticsGen,
    Trainer,
    Transform,
)
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.base import base_node
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.experimental.conditionals.conditional import Cond
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
from tfx.orchestration import metadata
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import example_gen_pb2, pusher_pb2, trainer_pb2, transform_pb2
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from components.baseline.strategy import LatestBlessedOtherModelStrategy
from components.blessing_gate.component import BlessingGate
from components.blessing_gate.eval_config import gate_eval_config
from components.class_skew.component import ClassSkew
from components.class_skew.resolver import RESOLVER_ID as PREVIOUS_STATISTICS_RESOLVER
from components.class_skew.resolver import previous_statistics_resolver
from components.rebalance.component import Rebalance
from components.trainer import spec as trainer_spec
from components.transform import spec as transform_spec
from pipeline import engines
from pipeline.config import PipelineConfig
from pipeline.data import SPAN_DIR_PREFIX
from pipeline.dataset import SPLIT_NAMES

TRAINER_RUN_FN = trainer_spec.RUN_FN
TRAIN_SPLIT = "train"
VALID_SPLIT = "valid"
EVAL_SPLIT = "eval"

# Node ids, used by the runners' summary and by the tests.
EXAMPLE_GEN = "ImportExampleGen"
STATISTICS_GEN = "StatisticsGen"
# ImportSchemaGen with a reviewed schema, SchemaGen on a data set's first run: one id either way.
SCHEMA_GEN = "SchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
CLASS_SKEW = "ClassSkew"
REBALANCE = "Rebalance"
TRANSFORM = "Transform"
TRAINER = "Trainer"
BASELINE_RESOLVER = "latest_blessed_model_resolver"
PREVIOUS_STATISTICS = PREVIOUS_STATISTICS_RESOLVER
EVALUATOR = "Evaluator"
BLESSING_GATE = "BlessingGate"
PUSHER = "Pusher"


def trainer_custom_config(config: PipelineConfig) -> Dict[str, Any]:
    """The JSON-able settings `components.trainer.model.run_fn` reads from `fn_args.custom_config`.

    The feature keys are the Transform's outputs: numeric columns, then missing-value indicators, then vocabulary ids.
    """
    inputs = config.transform_inputs()
    run = trainer_spec.TrainerRunConfig(
        label_key=config.label_key,
        numeric_feature_keys=transform_spec.transformed_numeric_keys(inputs),
        categorical_feature_keys=inputs.categorical_feature_keys,
        parameters=config.trainer,
        class_names=config.class_names,
        protected_classes=config.protected_classes,
    )
    return run.to_custom_config()


def eval_config(config: PipelineConfig) -> tfma.EvalConfig:
    """TFMA config: ranking metrics on the probability, counts and recall on the served decision.

    TFMA's own thresholds hold on the overall slice (change thresholds against the
    baseline are skipped on the first run); BlessingGate judges every slice.
    """
    return gate_eval_config(
        config.evaluator, config.label_key, config.slice_feature_keys, config.class_names, config.protected_classes
    )


def baseline_model_resolver(config: PipelineConfig, trainer: base_node.BaseNode) -> Optional[Resolver]:
    """The node that hands the Evaluator its baseline model, as `config.baseline` says (None: no baseline)."""
    model = Channel(type=standard_artifacts.Model)
    if config.baseline == "last_blessed_other":
        return Resolver(
            strategy_class=LatestBlessedOtherModelStrategy,
            candidate=trainer.outputs["model"],
            model=model,
            # Only the gate's blessings: the Evaluator's judge the overall slice alone.
            model_blessing=Channel(
                type=standard_artifacts.ModelBlessing,
                producer_component_id=BLESSING_GATE,
                output_key="blessing",
            ),
        ).with_id(BASELINE_RESOLVER)
    if config.baseline == "last_blessed":
        return Resolver(
            strategy_class=LatestBlessedModelStrategy,
            model=model,
            model_blessing=Channel(type=standard_artifacts.ModelBlessing),
        ).with_id(BASELINE_RESOLVER)
    return None


def label_schema(label_key: str) -> schema_pb2.Schema:
    """A schema of the label alone, declared categorical, so that statistics count its classes."""
    schema = schema_pb2.Schema()
    label = schema.feature.add(name=label_key, type=schema_pb2.INT)
    label.int_domain.is_categorical = True
    return schema


def schema_and_statistics(
    config: PipelineConfig, example_gen: base_node.BaseNode
) -> Tuple[base_node.BaseNode, base_node.BaseNode]:
    """The schema node and StatisticsGen: the reviewed schema imported, or on a first run one inferred.

    A data set's first run has no reviewed schema: StatisticsGen then computes statistics with only
    the label declared (categorical, so ClassSkew gets its class counts) and SchemaGen infers the
    rest; the runner saves that schema beside the description for review. Later runs import it and
    ExampleValidator checks every new span against it. Every feature is inferred as optional (no
    fixed shape), so the serving signature takes examples with missing values.
    """
    if config.schema_path:
        schema_gen = ImportSchemaGen(schema_file=config.schema_path).with_id(SCHEMA_GEN)
        statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"])
        return schema_gen, statistics_gen
    statistics_gen = StatisticsGen(
        examples=example_gen.outputs["examples"],
        stats_options=tfdv.StatsOptions(schema=label_schema(config.label_key)),
    )
    schema_gen = SchemaGen(statistics=statistics_gen.outputs["statistics"], infer_feature_shape=False).with_id(
        SCHEMA_GEN
    )
    return schema_gen, statistics_gen


def create_pipeline(config: PipelineConfig) -> Pipeline:
    """The whole pipeline as TFX node objects; each stage is one line to reorder or replace."""
    example_gen = ImportExampleGen(
        input_base=config.data_root,
        input_config=example_gen_pb2.Input(
            splits=[
                example_gen_pb2.Input.Split(name=split, pattern=f"{SPAN_DIR_PREFIX}{{SPAN}}/{split}/*")
                for split in SPLIT_NAMES
            ]
        ),
    )
    schema_gen, statistics_gen = schema_and_statistics(config, example_gen)
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    previous_statistics = previous_statistics_resolver(statistics_gen) if config.span_drift else None
    class_skew = ClassSkew(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        previous_statistics=previous_statistics.outputs["statistics"] if previous_statistics else None,
        examples=example_gen.outputs["examples"],
        previous_examples=previous_statistics.outputs["examples"] if previous_statistics else None,
        label_key=config.label_key,
        parameters=config.class_skew,
    )
    rebalance = Rebalance(
        examples=example_gen.outputs["examples"],
        class_skew=class_skew.outputs["class_skew"],
        label_key=config.label_key,
        # SMOTE and the augmentations move numbers that every row has; a column with missing values is
        # copied from the base row, like a categorical one.
        feature_keys=tuple(key for key in config.numeric_feature_keys if key not in config.nullable_feature_keys),
        parameters=config.rebalance,
    )
    # Statistics and vocabularies from train only; eval stays raw for the Evaluator, which scores
    # it through the serving signature (the transform graph is inside the model).
    transform = Transform(
        examples=rebalance.outputs["rebalanced_examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=transform_spec.PREPROCESSING_FN,
        custom_config=config.transform_inputs().to_custom_config(),
        splits_config=transform_pb2.SplitsConfig(analyze=[TRAIN_SPLIT], transform=[TRAIN_SPLIT, VALID_SPLIT]),
        # Pre- and post-transform statistics would be two more passes over the data; StatisticsGen has them.
        disable_statistics=True,
        # The analyzer cache is written for a later Transform to read as its `analyzer_cache` input, and none
        # does: writing it took one Beam branch and one file per analyzer, a third of the Transform's time on
        # the credit-card data (same transform graph and transformed examples without it).
        disable_analyzer_cache=True,
    )
    # What a runner needs for this one step on top of the pipeline's Beam args (Flink: the DirectRunner; see
    # pipeline/engines.py). TFX appends a component's args after the pipeline's, so these win.
    transform_beam_args = engines.component_beam_args(TRANSFORM, config.beam_pipeline_args)
    if transform_beam_args:
        transform.with_beam_pipeline_args(list(transform_beam_args))
    trainer = Trainer(
        run_fn=TRAINER_RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        train_args=trainer_pb2.TrainArgs(splits=[TRAIN_SPLIT]),
        eval_args=trainer_pb2.EvalArgs(splits=[VALID_SPLIT]),
        custom_config=trainer_custom_config(config),
    )
    baseline_resolver = baseline_model_resolver(config, trainer)
    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline_resolver.outputs["model"] if baseline_resolver else None,
        eval_config=eval_config(config),
        example_splits=[EVAL_SPLIT],
    )
    gate = BlessingGate(
        evaluation=evaluator.outputs["evaluation"],
        evaluator_blessing=evaluator.outputs["blessing"],
        # The Evaluator's examples: with a baseline the gate compares both models on them, paired.
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline_resolver.outputs["model"] if baseline_resolver else None,
        schema=schema_gen.outputs["schema"],
        # Read only for report.html: class counts before and after Rebalance, drift.
        class_skew=class_skew.outputs["class_skew"],
        rebalanced_examples=rebalance.outputs["rebalanced_examples"],
        label_key=config.label_key,
        slice_feature_keys=list(config.slice_feature_keys),
        eval_split=EVAL_SPLIT,
        parameters=config.evaluator,
        class_names=list(config.class_names),
        protected_classes=list(config.protected_classes),
    ).with_id(BLESSING_GATE)
    with Cond(gate.outputs["blessing"].future()[0].custom_property("blessed") == 1):
        pusher = Pusher(
            model=trainer.outputs["model"],
            model_blessing=gate.outputs["blessing"],
            push_destination=pusher_pb2.PushDestination(
                filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=config.serving_model_dir)
            ),
        )

    components: List[base_node.BaseNode] = [
        node
        for node in (
            example_gen,
            schema_gen,
            statistics_gen,
            example_validator,
            previous_statistics,
            class_skew,
            rebalance,
            transform,
            trainer,
            baseline_resolver,
            evaluator,
            gate,
            pusher,
        )
        if node is not None
    ]
    beam_args: List[Any] = list(config.beam_pipeline_args)
    metadata_config = metadata.sqlite_metadata_connection_config(config.metadata_path) if config.metadata_path else None
    return Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=components,
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_config,
        beam_pipeline_args=beam_args,
    )
