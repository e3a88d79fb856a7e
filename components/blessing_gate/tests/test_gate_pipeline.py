"""The gate in a real LocalDagRunner pipeline: a blessed model is pushed; a worse one is not, and the push stays.

Importers stand in for ExampleGen, SchemaGen and Trainer; the rest is what
`pipeline.pipeline.create_pipeline` wires: a resolver reading only the gate's
blessings, the stock Evaluator, BlessingGate, and a Pusher inside `tfx.dsl.Cond`.
"""

import hashlib
import os

import pytest
import tensorflow as tf
from tfx import v1 as tfx

from components.baseline.strategy import LatestBlessedOtherModelStrategy
from components.blessing_gate.component import BlessingGate
from components.blessing_gate.eval_config import gate_eval_config
from components.blessing_gate.report import read_report
from components.blessing_gate.spec import BLESSING_KEY, GATE_REPORT_KEY
from components.blessing_gate.tests import fixtures

GATE_ID = "BlessingGate"


def _pipeline(root, model_dir):
    standard = tfx.types.standard_artifacts
    examples = tfx.dsl.Importer(
        source_uri=os.path.join(root, "data", "examples"),
        artifact_type=standard.Examples,
        properties={"split_names": '["eval"]'},
    ).with_id("examples")
    schema = tfx.dsl.Importer(source_uri=os.path.join(root, "data", "schema"), artifact_type=standard.Schema).with_id(
        "schema"
    )
    model = tfx.dsl.Importer(source_uri=model_dir, artifact_type=standard.Model).with_id("model")
    baseline = tfx.dsl.Resolver(
        strategy_class=LatestBlessedOtherModelStrategy,
        candidate=model.outputs["result"],
        model=tfx.dsl.Channel(type=standard.Model),
        # Only the gate's blessings: the Evaluator's would also bless a model failing on a slice.
        model_blessing=tfx.dsl.Channel(
            type=standard.ModelBlessing, producer_component_id=GATE_ID, output_key=BLESSING_KEY
        ),
    ).with_id("baseline_resolver")
    evaluator = tfx.components.Evaluator(
        examples=examples.outputs["result"],
        model=model.outputs["result"],
        baseline_model=baseline.outputs["model"],
        eval_config=gate_eval_config(fixtures.TEST_PARAMETERS, fixtures.LABEL_KEY, [fixtures.SLICE_KEY]),
        example_splits=["eval"],
    )
    gate = BlessingGate(
        evaluation=evaluator.outputs["evaluation"],
        evaluator_blessing=evaluator.outputs["blessing"],
        examples=examples.outputs["result"],
        model=model.outputs["result"],
        baseline_model=baseline.outputs["model"],
        schema=schema.outputs["result"],
        label_key=fixtures.LABEL_KEY,
        slice_feature_keys=[fixtures.SLICE_KEY],
        eval_split="eval",
        parameters=fixtures.TEST_PARAMETERS,
    ).with_id(GATE_ID)
    with tfx.dsl.Cond(gate.outputs[BLESSING_KEY].future()[0].custom_property("blessed") == 1):
        pusher = tfx.components.Pusher(
            model=model.outputs["result"],
            model_blessing=gate.outputs[BLESSING_KEY],
            push_destination=tfx.proto.PushDestination(
                filesystem=tfx.proto.PushDestination.Filesystem(base_directory=os.path.join(root, "serving"))
            ),
        )
    return tfx.dsl.Pipeline(
        pipeline_name="gate-test",
        pipeline_root=os.path.join(root, "pipeline_root"),
        components=[examples, schema, model, baseline, evaluator, gate, pusher],
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            os.path.join(root, "metadata.sqlite")
        ),
        beam_pipeline_args=["--direct_num_workers=1", "--direct_running_mode=in_memory"],
    )


def _latest_report(root):
    directory = os.path.join(root, "pipeline_root", GATE_ID, GATE_REPORT_KEY)
    latest = max(os.listdir(directory), key=int)
    return read_report(os.path.join(directory, latest))


def _tree_digest(directory):
    digest = hashlib.sha256()
    for folder, _, files in sorted(os.walk(directory)):
        for name in sorted(files):
            path = os.path.join(folder, name)
            digest.update(path.encode())
            with open(path, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()


@pytest.mark.e2e
def test_blessed_model_is_pushed_and_a_worse_one_is_not(tmp_path):
    root = str(tmp_path)
    fixtures.write_examples(os.path.join(root, "data", "examples"), fixtures.eval_rows())
    fixtures.write_schema(os.path.join(root, "data", "schema"))
    for kind in ("good", "stricter"):
        fixtures.write_model(os.path.join(root, "data", kind), kind, model_id=0)
    serving = os.path.join(root, "serving")

    tfx.orchestration.LocalDagRunner().run(_pipeline(root, os.path.join(root, "data", "good")))
    first = _latest_report(root)
    assert first["verdict"] == "BLESSED" and first["has_baseline"] is False, first["verdict_line"]
    pushed = os.listdir(serving)
    assert len(pushed) == 1
    served = tf.saved_model.load(os.path.join(serving, pushed[0])).signatures["serving_default"]
    example = tf.train.Example()
    example.features.feature["x1"].float_list.value.append(2.0)
    example.features.feature["x2"].float_list.value.append(0.0)
    outputs = served(examples=tf.constant([example.SerializeToString()]))
    assert float(outputs["decision"].numpy().reshape(-1)[0]) == 1.0
    digest = _tree_digest(serving)

    tfx.orchestration.LocalDagRunner().run(_pipeline(root, os.path.join(root, "data", "stricter")))
    second = _latest_report(root)
    assert second["verdict"] == "NOT BLESSED" and second["has_baseline"] is True
    assert second["verdict_line"].startswith("NOT BLESSED: recall dropped 0.07 (paired on 104 positives: 7 caught")
    assert os.listdir(serving) == pushed
    assert _tree_digest(serving) == digest
