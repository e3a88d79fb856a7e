"""Where the pipeline's Beam steps run: one engine name (`local_runner.py --engine`) for a set of Beam arguments.

Every Beam-based component (ExampleGen, StatisticsGen, Rebalance, Transform, Evaluator) takes the same
`beam_pipeline_args`. Spelling the five or so arguments of a runner by hand is where mistakes happen (without
`--environment_type`, Beam's portable runner picks DOCKER, which fails on a machine without a Docker engine), so
each engine's arguments are written once, here, and `--beam-arg` only adds to or overrides them.

- `direct`: Beam's in-process DirectRunner, one process, the least memory.
- `flink`: Beam's PortableRunner against the Flink job server that `scripts/flink_cluster.sh start` runs beside
  a standalone Flink cluster on this machine (`make flink-up`). LOOPBACK runs the Python SDK harness inside the
  submitting process, so the workers need no package installed; `pre_optimize=all` lets the runner fuse the
  Python stages before it hands them to Flink. The Transform is the exception: Flink cannot run tf.Transform's
  graph here (FLINK_COMPONENT_BEAM_ARGS below says why), so it stays on the DirectRunner.
- `spark`: Beam's SparkRunner against the Spark job server that `scripts/spark_cluster.sh start` runs beside a
  standalone Spark master and worker (`make spark-up`), LOOPBACK as for Flink. Every Beam step runs there, the
  Transform included: Spark's translation has no node-output limit.
"""

from __future__ import annotations

import importlib.metadata
import sys
from typing import Dict, List, Sequence, Tuple

from pipeline.errors import UserInputError

DIRECT = "direct"
FLINK = "flink"
SPARK = "spark"
ENGINES: Tuple[str, ...] = (DIRECT, FLINK, SPARK)
DEFAULT_ENGINE = DIRECT

# The ports scripts/flink_cluster.sh gives the Beam job server by default (FLINK_JOB_PORT there).
FLINK_JOB_ENDPOINT = "localhost:8099"
FLINK_PARALLELISM = 2
# scripts/spark_cluster.sh's job port (SPARK_JOB_PORT there): beside Flink's, so both clusters can run at once.
SPARK_JOB_ENDPOINT = "localhost:8299"

# Every engine here runs the Python workers in this process (DirectRunner, or LOOPBACK), so they need no package
# shipped to them. Without a dependency flag TFX's Beam executors build an sdist of TFX for the workers before each
# Beam step (tfx.utils.dependency_utils.make_beam_dependency_flags): 1-2 s and a 42 MB folder in /tmp that is never
# deleted, so a schedule of runs fills the disk. Naming the SDK container a Docker environment would use (this Beam
# and this Python) stops that; in-process workers ignore it.
SDK_CONTAINER_ARG = (
    f"--sdk_container_image=apache/beam_python{sys.version_info.major}.{sys.version_info.minor}_sdk:"
    f"{importlib.metadata.version('apache-beam')}"
)
# In-process DirectRunner: one process, the least memory. Record order is not reproducible in any mode: TFX's
# ExampleGen passes every split through an unseeded beam.Reshuffle before writing it, so each ingestion of the
# same CSV orders the rows differently. --beam-arg=--direct_running_mode=multi_processing uses both cores.
DIRECT_BEAM_ARGS: Tuple[str, ...] = ("--direct_running_mode=in_memory", "--direct_num_workers=1", SDK_CONTAINER_ARG)
FLINK_BEAM_ARGS: Tuple[str, ...] = (
    "--runner=PortableRunner",
    f"--job_endpoint={FLINK_JOB_ENDPOINT}",
    "--environment_type=LOOPBACK",
    f"--parallelism={FLINK_PARALLELISM}",
    "--experiments=pre_optimize=all",
    SDK_CONTAINER_ARG,
)
# SparkRunner, not PortableRunner: with --job_endpoint it submits to that job server exactly as PortableRunner does
# (it starts a job server of its own only without one), and its name tells component_beam_args that this is not
# Flink. Spark's default parallelism is the worker's cores (SPARK_WORKER_CORES, 2).
SPARK_BEAM_ARGS: Tuple[str, ...] = (
    "--runner=SparkRunner",
    f"--job_endpoint={SPARK_JOB_ENDPOINT}",
    "--environment_type=LOOPBACK",
    SDK_CONTAINER_ARG,
)
ENGINE_BEAM_ARGS: Dict[str, Tuple[str, ...]] = {
    DIRECT: DIRECT_BEAM_ARGS,
    FLINK: FLINK_BEAM_ARGS,
    SPARK: SPARK_BEAM_ARGS,
}

# Flink's batch translation hands each job to Flink's DataSet optimizer, which cannot compile tf.Transform's
# analysis graph: with tft.mean and tft.var on 17 or more features it fails with "CompilerException: Cannot
# currently handle nodes with more than 64 outputs" (16 features: "Logic for branching plans (non-tree plans) has an
# error"); scripts/tft_portable_repro.py reproduces it without TFX, and on Spark the same job runs. Beam's streaming
# translation (--streaming) compiles it, but the stock Transform on the 30 credit-card
# columns became a job of 1841 tasks that drove this 2-core machine's load above 200 and had not finished after
# 6 minutes (StatisticsGen fails outright there: "TimestampCombiner moved element from ... TIMESTAMP_MAX_VALUE").
# So under Flink the Transform alone runs with the in-process DirectRunner; the README says so. Keys are
# pipeline/pipeline.py's node ids (strings here: this module loads no TFX).
TRANSFORM_NODE = "Transform"
FLINK_COMPONENT_BEAM_ARGS: Dict[str, Tuple[str, ...]] = {TRANSFORM_NODE: ("--runner=DirectRunner", *DIRECT_BEAM_ARGS)}
# The runners that mean Flink here: the Python FlinkRunner, and PortableRunner against scripts/flink_cluster.sh's
# Flink job server (`--engine spark` names SparkRunner, so a PortableRunner is taken for Flink).
FLINK_RUNNERS = frozenset({"FlinkRunner", "PortableRunner"})

# Beam flags that accumulate (`action="append"` in apache_beam.options.pipeline_options): a --beam-arg of one of
# these adds a value instead of replacing the engine's.
_REPEATABLE = frozenset({"--experiments", "--experiment", "--extra_package", "--extra_packages"})


def _flag_name(arg: str) -> str:
    return arg.split("=", 1)[0]


def beam_args_for(engine: str, extra: Sequence[str] = ()) -> Tuple[str, ...]:
    """The engine's Beam arguments with each `extra` argument applied on top.

    An extra `--name=value` replaces the engine's `--name` in place (so `--beam-arg=--parallelism=1` gives Flink
    one slot per step), except for Beam's repeatable flags such as `--experiments`, which are added; any other
    extra argument is appended. The result is deterministic, so TFX's cache sees the same executor spec for the
    same command line.
    """
    if engine not in ENGINE_BEAM_ARGS:
        raise UserInputError(f"--engine {engine!r}: unknown engine; engines: {', '.join(ENGINES)}")
    merged: List[str] = list(ENGINE_BEAM_ARGS[engine])
    for arg in extra:
        name = _flag_name(arg)
        positions = [index for index, current in enumerate(merged) if _flag_name(current) == name]
        if name in _REPEATABLE or not name.startswith("--") or not positions:
            if arg not in merged:
                merged.append(arg)
            continue
        merged[positions[0]] = arg
        for index in reversed(positions[1:]):
            del merged[index]
    return tuple(merged)


def runs_on_flink(beam_args: Sequence[str]) -> bool:
    """Whether these pipeline-wide Beam arguments send the Beam steps to Flink (the last --runner wins, as in Beam)."""
    runners = [arg.split("=", 1)[1] for arg in beam_args if arg.startswith("--runner=")]
    return bool(runners) and runners[-1] in FLINK_RUNNERS


def component_beam_args(node_id: str, beam_args: Sequence[str]) -> Tuple[str, ...]:
    """The Beam arguments one component adds to the pipeline-wide ones (TFX appends them, so they win)."""
    if runs_on_flink(beam_args):
        return FLINK_COMPONENT_BEAM_ARGS.get(node_id, ())
    return ()
