"""The pipeline's own components run in this process, executor by executor, without ML Metadata.

For benchmarks and tests that need real artifacts from the real executors but no orchestrator.
Every component is taken from `create_pipeline(config)`: its executor class and its execution
properties are exactly what the pipeline would run, so a change to how a component takes its
parameters reaches this harness with no edit here. What an orchestrator would add is done here
instead: each output artifact gets a fresh, empty folder and each executor a temp folder.

Components must not import this module (imports run runners -> pipeline -> components).
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile
from typing import Any, Dict, List, Mapping, Tuple, cast

import numpy as np

from components.rebalance.executor import SUMMARY_FILE_NAME
from components.trainer import serving
from pipeline import pipeline as pipeline_module
from pipeline.config import PipelineConfig
from pipeline.errors import UserInputError

SCORING_BATCH_SIZE = 4096


def pipeline_nodes(config: PipelineConfig) -> Dict[str, Any]:
    """The nodes `create_pipeline(config)` builds, by id (e.g. `pipeline.pipeline.TRAINER`)."""
    return {node.id: node for node in pipeline_module.create_pipeline(config).components}


def run_node(config: PipelineConfig, node, inputs: Mapping[str, Any], workdir: pathlib.Path) -> Dict[str, Any]:
    """Runs one pipeline node's executor on `inputs` ({key: artifact}); returns {key: output artifact}.

    Outputs go to `workdir/<output key>`, emptied first; Beam executors get the config's Beam arguments.
    """
    from tfx.dsl.components.base import base_beam_executor, base_executor
    from tfx.dsl.io import fileio
    from tfx.orchestration import data_types

    # An orchestrator leaves unset (None) properties out too.
    properties = {key: value for key, value in node.exec_properties.items() if value is not None}
    # What the node's driver settles before its executor runs (ExampleGen: the span its input pattern
    # names, with span, version and fingerprint; other nodes: nothing). It reads no metadata store.
    pipeline_info = data_types.PipelineInfo(config.pipeline_name, config.pipeline_root)
    component_info = data_types.ComponentInfo(node.type, node.id, pipeline_info)
    driver = node.driver_class(cast(Any, None))
    properties = driver.resolve_exec_properties(properties, pipeline_info, component_info)
    outputs = {}
    for key, channel in node.outputs.items():
        artifact = channel.type()
        artifact.uri = str(workdir / key)
        if fileio.exists(artifact.uri):
            fileio.rmtree(artifact.uri)
        fileio.makedirs(artifact.uri)
        outputs[key] = artifact
    executor_class = node.executor_spec.executor_class
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".tmp-{node.id}-", dir=workdir) as tmp_dir:
        context: base_executor.BaseExecutor.Context
        if issubclass(executor_class, base_beam_executor.BaseBeamExecutor):
            context = base_beam_executor.BaseBeamExecutor.Context(
                beam_pipeline_args=list(config.beam_pipeline_args), tmp_dir=tmp_dir, unique_id=node.id
            )
        else:
            context = base_executor.BaseExecutor.Context(tmp_dir=tmp_dir, unique_id=node.id)
        executor_class(context).Do(
            {key: [artifact] for key, artifact in inputs.items()},
            {key: [artifact] for key, artifact in outputs.items()},
            properties,
        )
    return outputs


Source = Tuple[str, str]  # (producer node id, output key): where a channel's artifact comes from


def _source(channel: Any) -> Source:
    return (channel.producer_component_id, channel.output_key)


def run_through(
    config: PipelineConfig, node_id: str, given: Mapping[Source, Any], workdir: pathlib.Path
) -> Dict[Source, Any]:
    """Runs `node_id`, first running every node its required inputs come from that `given` does not hold.

    `given` maps (producer node id, output key) to an artifact made earlier. Optional inputs are
    passed when given or made on the way, else left out (Rebalance then counts the classes itself).
    Returns every artifact given or made, by source. Nodes added to the pipeline between the given
    artifacts and `node_id` (a Transform before the Trainer) are run with no change here.
    """
    nodes = pipeline_nodes(config)
    made: Dict[Source, Any] = dict(given)

    def run(current: str) -> None:
        node = nodes[current]
        for key, channel in node.inputs.items():
            if _source(channel) not in made and not node.spec.INPUTS[key].optional:
                run(_source(channel)[0])
        inputs = {key: made[_source(channel)] for key, channel in node.inputs.items() if _source(channel) in made}
        outputs = run_node(config, node, inputs, workdir)
        made.update({(current, key): artifact for key, artifact in outputs.items()})

    run(node_id)
    return made


def make_examples(config: PipelineConfig, workdir: pathlib.Path):
    """The pipeline's ExampleGen on `config.data_root` and `config.input_pattern`; `workdir/examples`."""
    return run_through(config, pipeline_module.EXAMPLE_GEN, {}, workdir)[(pipeline_module.EXAMPLE_GEN, "examples")]


def make_schema(examples, config: PipelineConfig, workdir: pathlib.Path):
    """The pipeline's schema node on ExampleGen's `examples`: the reviewed schema, or one inferred from them.

    In `workdir/schema` (and, when inferred, the statistics in `workdir/statistics`).
    """
    given = {(pipeline_module.EXAMPLE_GEN, "examples"): examples}
    return run_through(config, pipeline_module.SCHEMA_GEN, given, workdir)[(pipeline_module.SCHEMA_GEN, "schema")]


def _rebalanced_source(config: PipelineConfig) -> Source:
    (key,) = pipeline_nodes(config)[pipeline_module.REBALANCE].outputs
    return (pipeline_module.REBALANCE, key)


def run_rebalance(examples, config: PipelineConfig, workdir: pathlib.Path) -> Tuple[Any, Dict[str, Any]]:
    """The pipeline's Rebalance (Beam) on ExampleGen's `examples`, counting classes itself; output and summary."""
    given = {(pipeline_module.EXAMPLE_GEN, "examples"): examples}
    output = run_through(config, pipeline_module.REBALANCE, given, workdir)[_rebalanced_source(config)]
    summary = json.loads((pathlib.Path(output.uri) / SUMMARY_FILE_NAME).read_text())
    return output, summary


def run_trainer(examples, schema, config: PipelineConfig, workdir: pathlib.Path) -> Tuple[str, Dict[str, Any]]:
    """The pipeline's Trainer, and the nodes between Rebalance and it; the serving model's folder and report.

    `examples` stand for Rebalance's output (ExampleGen's own examples train as with strategy none).
    """
    given = {_rebalanced_source(config): examples, (pipeline_module.SCHEMA_GEN, "schema"): schema}
    model = run_through(config, pipeline_module.TRAINER, given, workdir)[(pipeline_module.TRAINER, "model")]
    serving_dir = os.path.join(model.uri, "Format-Serving")
    return serving_dir, serving.read_training_report(serving_dir)


def score_split(serving_dir: str, split_dir: pathlib.Path, config: PipelineConfig) -> Dict[str, np.ndarray]:
    """Probabilities and decisions from the serving signature, with labels and slice values, batch by batch.

    Returns arrays `labels`, `probabilities`, `decisions`, `slice_<key>` per slice feature, and
    `threshold` (the one threshold the model served; a model serving several is an error).
    """
    import tensorflow as tf

    files = sorted(str(path) for path in split_dir.glob("*.gz"))
    if not files:
        raise UserInputError(f"no gzip TFRecords in {split_dir}; make the Examples again")
    serve = tf.saved_model.load(serving_dir).signatures["serving_default"]
    spec = {config.label_key: tf.io.FixedLenFeature([], tf.int64)}
    spec.update({key: tf.io.FixedLenFeature([], tf.string) for key in config.slice_feature_keys})
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(SCORING_BATCH_SIZE)
    parts: Dict[str, List[np.ndarray]] = {"labels": [], "probabilities": [], "decisions": [], "thresholds": []}
    parts.update({f"slice_{key}": [] for key in config.slice_feature_keys})
    for batch in dataset:
        outputs = serve(**{serving.SERVING_INPUT: batch})
        parsed = tf.io.parse_example(batch, spec)
        parts["labels"].append(parsed[config.label_key].numpy().astype(np.int8))
        parts["probabilities"].append(outputs[serving.PROBABILITY_OUTPUT].numpy().reshape(-1))
        parts["decisions"].append(outputs[serving.DECISION_OUTPUT].numpy().reshape(-1).astype(np.int8))
        parts["thresholds"].append(outputs[serving.THRESHOLD_OUTPUT].numpy().reshape(-1))
        for key in config.slice_feature_keys:
            parts[f"slice_{key}"].append(parsed[key].numpy().astype(str))
    predictions = {name: np.concatenate(values) if values else np.array([]) for name, values in parts.items()}
    thresholds = np.unique(predictions.pop("thresholds"))
    if thresholds.size != 1:
        raise RuntimeError(f"the serving signature returned {thresholds.size} different thresholds: {thresholds[:5]}")
    predictions["threshold"] = np.asarray(thresholds[0], dtype=np.float32)
    return predictions
