"""The smallest tf.Transform job that shows why the stock Transform cannot run on Flink here (issue #19).

    .venv/bin/python scripts/tft_portable_repro.py --features 17 -- --runner=PortableRunner \
        --job_endpoint=localhost:8099 --environment_type=LOOPBACK --parallelism=2 --experiments=pre_optimize=all

Everything after `--` is handed to Beam unchanged, so the same job runs on any runner: the DirectRunner (no
arguments), the Flink job server of scripts/flink_cluster.sh, or the Spark job server of scripts/spark_cluster.sh.
The job is what pipeline's Transform does per numeric column (components/transform/preprocessing.py: a full-pass
`tft.mean` and `tft.var` in float64, then a z-score), on N float columns of ROWS seeded random rows, without TFX.

Why it is the reproduction: tf.Transform computes every analyzer of a phase from one pass over the data, so
N columns give one Beam stage whose output fans out into 2 * N combiners and their side outputs. Beam's Flink
batch translation hands the job to Flink's DataSet optimizer, which gives up on a node with more than 64
outputs (17 columns: `CompilerException: Cannot currently handle nodes with more than 64 outputs`); 30 is the
credit-card data's numeric column count. The script prints one line, `ok: ...` or `failed: <the runner's error
line>`, and exits 0 or 1, so it can be run in a loop over flags.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from typing import List, Optional, Sequence

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.options.pipeline_options import PipelineOptions
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

SEED = 19
METRIC_NAMESPACE = "tft_portable_repro"
METRIC_NAME = "transformed_rows"
# The first line of a runner's failure that names the cause: Java exceptions in the job server's reply (Flink's
# CompilerException, Spark's errors), else the Python exception's first line.
_CAUSE = re.compile(r"((?:[a-z_$][\w$]*\.)+[A-Z]\w*(?:Exception|Error)\b.*)")


def feature_names(count: int) -> List[str]:
    return [f"x{index:02d}" for index in range(count)]


def rows(count: int, names: Sequence[str]) -> List[dict]:
    generator = np.random.default_rng(SEED)
    values = generator.normal(size=(count, len(names))).astype(np.float32)
    return [{name: float(value) for name, value in zip(names, row, strict=True)} for row in values]


def make_preprocessing_fn(names: Sequence[str]):
    def preprocessing_fn(inputs):
        outputs = {}
        for name in names:
            values = tf.cast(inputs[name], tf.float64)
            mean = tft.mean(values)
            std = tf.sqrt(tft.var(values))
            outputs[name] = tf.cast((values - mean) / tf.where(std > 0.0, std, tf.ones_like(std)), tf.float32)
        return outputs

    return preprocessing_fn


def run(features: int, row_count: int, beam_args: Sequence[str], output_path: Optional[str] = None) -> int:
    """Runs the job; the number of transformed rows (= row_count when the runner ran it).

    With `output_path` the transformed rows are also written there, one JSON object a line (tests/test_spark.py
    compares them between runners); the write is a job stage of its own, so leave it out when reproducing.
    """
    names = feature_names(features)
    metadata = dataset_metadata.DatasetMetadata(
        schema_utils.schema_from_feature_spec({name: tf.io.FixedLenFeature([], tf.float32) for name in names})
    )
    counter = beam.metrics.Metrics.counter(METRIC_NAMESPACE, METRIC_NAME)
    with tempfile.TemporaryDirectory(prefix="tft-repro-") as temp_dir:
        pipeline = beam.Pipeline(options=PipelineOptions(list(beam_args)))
        with tft_beam.Context(temp_dir=temp_dir):
            raw = pipeline | "Rows" >> beam.Create(rows(row_count, names))
            (transformed, _), _ = (raw, metadata) | "AnalyzeAndTransform" >> tft_beam.AnalyzeAndTransformDataset(
                make_preprocessing_fn(names)
            )
            # A metric, not a Count.Globally: with a Count.Globally after the Transform, Flink's streaming
            # translation (--streaming) failed ("TimestampCombiner moved element from ... TIMESTAMP_MAX_VALUE").
            _ = transformed | "Count" >> beam.Map(lambda row: counter.inc())
            if output_path:
                _ = (
                    transformed
                    | "Json" >> beam.Map(lambda row: json.dumps({name: float(row[name]) for name in names}))
                    | "Write" >> beam.io.WriteToText(output_path, shard_name_template="")
                )
            result = pipeline.run()
            result.wait_until_finish()
    counts = result.metrics().query(
        beam.metrics.MetricsFilter().with_namespace(METRIC_NAMESPACE).with_name(METRIC_NAME)
    )["counters"]
    return sum(count.attempted for count in counts)


def cause(error: BaseException) -> str:
    text = str(error)
    match = _CAUSE.search(text)
    line = match.group(1) if match else (text.splitlines() or [type(error).__name__])[0]
    return f"{type(error).__name__}: {line.strip()[:400]}"


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--features", type=int, default=17, help="float columns, each with tft.mean and tft.var")
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("beam_args", nargs="*", help="Beam pipeline arguments, after --")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        count = run(args.features, args.rows, args.beam_args)
    except RuntimeError as error:  # how Beam's runners report a failed job: the result this script reports
        print(f"failed after {time.monotonic() - started:.0f} s ({args.features} features): {cause(error)}")
        return 1
    if count != args.rows:
        print(f"failed: {count} rows transformed, expected {args.rows}")
        return 1
    print(f"ok: {args.features} features, {count} rows transformed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
