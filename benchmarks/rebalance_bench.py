"""Benchmark of Rebalance against the I/O floor: wall time and peak RSS, at 1x and 10x the credit-card rows.

Not a timed test. One run:
1. builds a gzip-TFRecord Examples artifact (one `train` split) from the credit-card CSV in Beam,
   streaming, once per scale; at scale s every row appears s times with `Time` shifted by whole
   multiples of two days so the replicas are distinct records (identical records would be kept or
   dropped together by the per-record hash);
2. per scale, runs each measured job in its own child process: (a) a plain ReadFromTFRecord ->
   WriteToTFRecord copy of the split (the I/O floor), (b) the Rebalance executor for each strategy,
   with the class counts from a ClassSkew-style report as in the pipeline (and undersample once
   more without it, counting in Beam);
3. prints wall time (of the Beam work, imports excluded) and peak RSS while the job runs (sampled
   every 20 ms; also the growth over the RSS before the job), and both as ratios to (a).

Every child imports the same modules (TFX, TensorFlow, Beam) before the job starts, so the RSS
ratios compare the jobs, not the imports. Example:

    .venv/bin/python -m benchmarks.rebalance_bench --scales 1,10 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence

# Sets TF_USE_LEGACY_KERAS (components/__init__.py); TensorFlow is imported after it, in the jobs.
from pipeline import data

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
TWO_DAYS_SECONDS = 172_800
STRATEGIES = ("undersample", "oversample", "hybrid", "smote")
COPY_JOB = "copy"
UNDERSAMPLE_COUNTING_JOB = "undersample (counting pass)"


def default_csv() -> pathlib.Path:
    """The verified credit-card CSV under data/ (downloaded and checked on first use)."""
    from pipeline.dataset import load_description

    description = load_description(REPO_ROOT / "schema" / "creditcard" / "dataset.yaml")
    return data.resolve_source(description, REPO_ROOT / "data")


def _csv_line_to_example(line: str, header: Sequence[str], replica: int) -> bytes:
    """One CSV row as a serialized tf.Example with CsvExampleGen's types (float features, int label)."""
    from tensorflow.core.example import example_pb2

    example = example_pb2.Example()
    feature_map = example.features.feature
    for name, raw in zip(header, line.split(","), strict=True):
        if name == "Class":
            feature_map[name].int64_list.value.append(int(raw.strip('"')))
        else:
            value = float(raw) + (replica * TWO_DAYS_SECONDS if name == "Time" else 0.0)
            feature_map[name].float_list.value.append(value)
    return example.SerializeToString()


def build_examples(csv_path: pathlib.Path, out_dir: pathlib.Path, scale: int) -> Dict[str, int]:
    """Writes <out_dir>/Split-train/data_tfrecord-*.gz and class_skew/class_skew.json; returns class counts."""
    import apache_beam as beam

    from components.class_skew.analysis import analyze
    from components.class_skew.counts import LabelCounts
    from components.class_skew.spec import ClassSkewParameters

    done = out_dir / "build_done.json"
    if done.exists():
        return json.loads(done.read_text())["class_counts"]
    with open(csv_path) as handle:
        header = [name.strip('"') for name in handle.readline().strip().split(",")]
    counts_prefix = str(out_dir / "build_counts")
    with beam.Pipeline() as pipeline:
        examples = (
            pipeline
            | "ReadCsv" >> beam.io.ReadFromText(str(csv_path), skip_header_lines=1)
            | "Replicate" >> beam.FlatMap(lambda line: ((line, r) for r in range(scale)))
            | "ToExample" >> beam.Map(lambda pair: _csv_line_to_example(pair[0], header, pair[1]))
        )
        _ = examples | "Write" >> beam.io.WriteToTFRecord(
            str(out_dir / "examples" / "Split-train" / "data_tfrecord"),
            file_name_suffix=".gz",
        )
        _ = (
            pipeline
            | "ReadCsvForCounts" >> beam.io.ReadFromText(str(csv_path), skip_header_lines=1)
            | "Label" >> beam.Map(lambda line: line.rsplit(",", 1)[1].strip().strip('"'))
            | "Count" >> beam.combiners.Count.PerElement()
            | "Json" >> beam.Map(lambda kv: json.dumps([kv[0], kv[1] * scale]))
            | "WriteCounts" >> beam.io.WriteToText(counts_prefix, num_shards=1, shard_name_template="")
        )
    counts = {}
    with open(counts_prefix) as handle:
        for line in handle:
            name, count = json.loads(line)
            counts[name] = count
    # ClassSkew's report of these counts, saved as ClassSkew saves it. The report needs an eval
    # split; the examples have only train, whose counts it repeats (Rebalance reads train's only).
    total = sum(counts.values())
    split_counts = {split: LabelCounts(split, total, dict(counts), 0) for split in ("train", "eval")}
    analyze(split_counts, "Class", ClassSkewParameters()).save(str(out_dir / "class_skew"))
    done.write_text(json.dumps({"class_counts": counts}))
    return counts


def _rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


class RssSampler:
    """Samples this process's RSS every 20 ms while a job runs (ru_maxrss would include the imports' peak)."""

    def __init__(self) -> None:
        self.baseline_mb = _rss_mb()
        self.peak_mb = self.baseline_mb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_mb = max(self.peak_mb, _rss_mb())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, _rss_mb())
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        # Worker processes (multi_processing runner) count with their own peak.
        self.peak_mb = max(self.peak_mb, children)


def run_child(job: str, data_dir: pathlib.Path, out_dir: pathlib.Path, beam_args: List[str]) -> Dict[str, float]:
    """In a child process: one measured job; prints {"seconds", "peak_rss_mb"} as JSON."""
    import apache_beam as beam
    import tensorflow  # noqa: F401  (same imports in every job: see module docstring)
    from tfx.components.util import examples_utils
    from tfx.dsl.components.base import base_beam_executor
    from tfx.proto import example_gen_pb2
    from tfx.types import artifact_utils, standard_artifacts

    from components.class_skew.spec import ClassSkewReport
    from components.rebalance import executor as rebalance_executor
    from components.rebalance import spec as rebalance_spec
    from pipeline.dataset import load_description
    from pipeline.schema_review import columns_from_schema, read_schema

    description = load_description(REPO_ROOT / "schema" / "creditcard" / "dataset.yaml")
    numeric_keys = columns_from_schema(read_schema(description.schema_path), description).numeric

    input_pattern = str(data_dir / "examples" / "Split-train" / "*")
    sampler = RssSampler()
    sampler.__enter__()
    start = time.perf_counter()
    if job == COPY_JOB:
        with beam.Pipeline(argv=beam_args) as pipeline:
            _ = (
                pipeline
                | "ReadSplit[train]" >> beam.io.ReadFromTFRecord(input_pattern)
                | "WriteSplit[train]"
                >> beam.io.WriteToTFRecord(str(out_dir / "Split-train" / "data_tfrecord"), file_name_suffix=".gz")
            )
    else:
        strategy = job.split(" ")[0]
        examples = standard_artifacts.Examples()
        examples.uri = str(data_dir / "examples")
        examples.split_names = artifact_utils.encode_split_names(["train"])
        examples_utils.set_payload_format(examples, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
        output = standard_artifacts.Examples()
        output.uri = str(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        inputs = {rebalance_spec.EXAMPLES_KEY: [examples]}
        if job != UNDERSAMPLE_COUNTING_JOB:
            report = ClassSkewReport()
            report.uri = str(data_dir / "class_skew")
            inputs[rebalance_spec.CLASS_SKEW_KEY] = [report]
        params = rebalance_spec.RebalanceParameters(strategy=strategy, target_ratio=0.1)
        exec_properties = {
            rebalance_spec.LABEL_KEY: description.label.column,
            # SMOTE interpolates every numeric model input (smote_feature_keys is empty).
            rebalance_spec.FEATURE_KEYS: json.dumps(list(numeric_keys)),
            **params.to_exec_properties(),
        }
        context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=beam_args, tmp_dir=str(out_dir))
        rebalance_executor.Executor(context).Do(
            inputs, {rebalance_spec.REBALANCED_EXAMPLES_KEY: [output]}, exec_properties
        )
        counts = output.get_json_value_custom_property("class_counts")["train"]
        print(f"# {job}: {counts['before']} -> {counts['after']}", file=sys.stderr)
    seconds = time.perf_counter() - start
    sampler.__exit__(None, None, None)
    return {
        "seconds": seconds,
        "peak_rss_mb": sampler.peak_mb,
        "growth_mb": sampler.peak_mb - sampler.baseline_mb,
        "process_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def measure(job: str, data_dir: pathlib.Path, work_dir: pathlib.Path, beam_args: List[str]) -> Dict[str, float]:
    out_dir = work_dir / "out" / job.replace(" ", "_").replace("(", "").replace(")", "")
    subprocess.run(["rm", "-rf", str(out_dir)], check=True)
    command = [
        sys.executable,
        "-m",
        "benchmarks.rebalance_bench",
        "--child-job",
        job,
        "--child-data",
        str(data_dir),
        "--child-out",
        str(out_dir),
        "--beam-args",
        " ".join(beam_args),
    ]
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark job {job!r} failed:\n{completed.stderr[-4000:]}")
    for line in completed.stderr.splitlines():
        if line.startswith("# "):
            print(line, flush=True)
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    subprocess.run(["rm", "-rf", str(out_dir)], check=True)
    return result


def format_table(rows: List[Dict[str, object]]) -> str:
    lines = [
        "| scale | rows | job | wall s | peak RSS MB (job) | RSS growth MB | time / copy | RSS / copy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['scale']}x | {row['rows']:,} | {row['job']} | {row['seconds']:.1f} | {row['peak_rss_mb']:.0f} | "
            f"{row['growth_mb']:.0f} | {row['time_ratio']:.2f} | {row['rss_ratio']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", type=pathlib.Path, default=None, help="credit-card CSV (default: see default_csv)")
    parser.add_argument("--work-dir", type=pathlib.Path, default=pathlib.Path("/tmp/rebalance_bench"))
    parser.add_argument("--scales", default="1,10", help="comma-separated row multipliers, e.g. 1 or 1,10")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--beam-args", default="", help="Beam pipeline args of every measured job")
    parser.add_argument("--repeats", type=int, default=2, help="runs per job; the fastest counts (shared machine)")
    parser.add_argument("--child-job", help=argparse.SUPPRESS)
    parser.add_argument("--child-data", type=pathlib.Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=pathlib.Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    beam_args = args.beam_args.split()
    if args.child_job:
        print(json.dumps(run_child(args.child_job, args.child_data, args.child_out, beam_args)))
        return

    csv_path = args.csv or default_csv()
    jobs = [COPY_JOB, *[s for s in args.strategies.split(",") if s], UNDERSAMPLE_COUNTING_JOB]
    rows: List[Dict[str, object]] = []
    for scale in [int(s) for s in args.scales.split(",")]:
        data_dir = args.work_dir / f"data_{scale}x"
        data_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        counts = build_examples(csv_path, data_dir, scale)
        print(f"# built {scale}x examples {counts} in {time.perf_counter() - start:.0f} s", flush=True)
        # The machine is shared: every job runs `repeats` times, interleaved, and the fastest run counts
        # (the least disturbed); peak RSS is the largest seen.
        best: Dict[str, Dict[str, float]] = {}
        for repeat in range(args.repeats):
            for job in jobs:
                result = measure(job, data_dir, args.work_dir, beam_args)
                print(json.dumps({"scale": scale, "repeat": repeat, "job": job, **result}), flush=True)
                if job not in best:
                    best[job] = dict(result)
                else:
                    best[job]["seconds"] = min(best[job]["seconds"], result["seconds"])
                    for name in ("peak_rss_mb", "growth_mb"):
                        best[job][name] = max(best[job][name], result[name])
        copy = best[COPY_JOB]
        for job in jobs:
            rows.append(
                {
                    "scale": scale,
                    "rows": sum(counts.values()),
                    "job": job,
                    **best[job],
                    "time_ratio": best[job]["seconds"] / copy["seconds"],
                    "rss_ratio": best[job]["peak_rss_mb"] / copy["peak_rss_mb"],
                }
            )
    print(format_table(rows))


if __name__ == "__main__":
    main()
