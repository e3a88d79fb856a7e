"""What tests/test_flink.py needs besides the runs: its own Flink cluster, records and figures, and re-execution.

- `FlinkCluster` starts scripts/flink_cluster.sh on free ports with a run folder of its own, so a cluster that a
  developer started with `make flink-up` (ports 8081/8099, tools/run) is neither reused nor stopped.
- `records` reads a split as a multiset of serialized tf.Examples: the order of records is not compared.
- `rerun_with_direct_runner` runs one finished execution of a pipeline run again, in this process, with the
  DirectRunner: same executor, same input artifacts, same execution properties (read back from ML Metadata), fresh
  output folders. What the Flink run wrote and what the DirectRunner writes from the very same inputs must agree.
"""

from __future__ import annotations

import collections
import contextlib
import glob
import importlib
import json
import os
import pathlib
import socket
import subprocess
import urllib.request
from typing import Any, Counter, Dict, Iterator, List, Tuple

REPO = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "flink_cluster.sh"
# The first start on a clean machine fetches Flink from PyPI and the job server from Maven Central.
START_TIMEOUT_S = 1500


class FlinkCluster:
    """A standalone Flink cluster and Beam job server of this test's own (ports, config, pids and logs)."""

    def __init__(self, run_dir: pathlib.Path):
        with contextlib.ExitStack() as stack:
            sockets = [stack.enter_context(socket.socket()) for _ in range(5)]
            for sock in sockets:
                sock.bind(("127.0.0.1", 0))
            self.rest_port, rpc_port, self.job_port, artifact_port, expansion_port = (
                sock.getsockname()[1] for sock in sockets
            )
        self.env = {
            **os.environ,
            "FLINK_RUN_DIR": str(run_dir),
            "FLINK_REST_PORT": str(self.rest_port),
            "FLINK_RPC_PORT": str(rpc_port),
            "FLINK_JOB_PORT": str(self.job_port),
            "FLINK_ARTIFACT_PORT": str(artifact_port),
            "FLINK_EXPANSION_PORT": str(expansion_port),
            "FLINK_TASK_SLOTS": "2",
        }
        self.log_dir = run_dir / "log"

    def script(self, command: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(SCRIPT), command], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    @property
    def job_endpoint(self) -> str:
        return f"localhost:{self.job_port}"

    def rest(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://localhost:{self.rest_port}{path}", timeout=30) as response:
            return json.load(response)

    def jobs(self) -> List[Dict[str, Any]]:
        """Every job the cluster ran, each with the names of its operators (Beam's transform labels)."""
        jobs = []
        for job in self.rest("/jobs/overview")["jobs"]:
            plan = self.rest(f"/jobs/{job['jid']}/plan")["plan"]
            jobs.append({**job, "operators": " ".join(node["description"] for node in plan["nodes"])})
        return jobs

    def logs_tail(self, chars: int = 4000) -> str:
        texts = []
        for path in sorted(self.log_dir.glob("*")):
            texts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(texts)


def split_records(uri: str, split: str) -> Iterator[bytes]:
    import tensorflow as tf

    for path in sorted(glob.glob(os.path.join(uri, f"Split-{split}", "*"))):
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP"):
            yield record.numpy()


def records(uri: str, split: str) -> Counter:
    """A split's records as a multiset of their bytes: equal for the same rows in any order."""
    return collections.Counter(split_records(uri, split))


def label_of(serialized: bytes, label_key: str) -> int:
    import tensorflow as tf

    return int(tf.train.Example.FromString(serialized).features.feature[label_key].int64_list.value[0])


def node_execution(store, pipeline_name: str, node_id: str):
    """The one COMPLETE execution of `node_id` in the store (each test run writes a store of its own)."""
    from ml_metadata.proto import metadata_store_pb2

    context = store.get_context_by_type_and_name("node", f"{pipeline_name}.{node_id}")
    assert context is not None, f"no node {node_id} in the store"
    done = [
        execution
        for execution in store.get_executions_by_context(context.id)
        if execution.last_known_state == metadata_store_pb2.Execution.COMPLETE
    ]
    assert len(done) == 1, f"{node_id}: {len(done)} complete executions"
    return done[0]


def node_artifacts(store, execution, event_type) -> Dict[str, List[Any]]:
    """{key: [TFX artifact]} of one execution's INPUT or OUTPUT events."""
    from tfx.types import artifact_utils

    found: Dict[str, List[Any]] = collections.defaultdict(list)
    for event in store.get_events_by_execution_ids([execution.id]):
        if event.type != event_type:
            continue
        [mlmd_artifact] = store.get_artifacts_by_id([event.artifact_id])
        [artifact_type] = store.get_artifact_types_by_id([mlmd_artifact.type_id])
        found[event.path.steps[0].key].append(artifact_utils.deserialize_artifact(artifact_type, mlmd_artifact))
    return dict(found)


def rerun_with_direct_runner(store, pipeline_name: str, node_id: str, workdir: pathlib.Path) -> Dict[str, Any]:
    """Runs `node_id`'s finished execution again with the in-process DirectRunner; returns {key: output artifact}."""
    from ml_metadata.proto import metadata_store_pb2
    from tfx.dsl.components.base import base_beam_executor
    from tfx.types import artifact_utils

    from pipeline.engines import DIRECT_BEAM_ARGS

    execution = node_execution(store, pipeline_name, node_id)
    [execution_type] = store.get_execution_types_by_id([execution.type_id])
    module_name, class_name = execution_type.name.rsplit(".", 1)
    executor_class = getattr(importlib.import_module(module_name), class_name).EXECUTOR_SPEC.executor_class
    inputs = node_artifacts(store, execution, metadata_store_pb2.Event.INPUT)
    outputs = {}
    for key, [produced] in node_artifacts(store, execution, metadata_store_pb2.Event.OUTPUT).items():
        fresh = artifact_utils.get_artifact_type_class(produced.artifact_type)()
        fresh.uri = str(workdir / key)
        os.makedirs(fresh.uri, exist_ok=True)
        outputs[key] = fresh
    properties = {}
    for name, value in execution.custom_properties.items():
        field = value.WhichOneof("value")
        if field in ("string_value", "int_value", "double_value"):
            properties[name] = getattr(value, field)
    tmp_dir = workdir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=list(DIRECT_BEAM_ARGS), tmp_dir=str(tmp_dir), unique_id=node_id
    )
    executor_class(context).Do(inputs, {key: [artifact] for key, artifact in outputs.items()}, properties)
    return outputs


def statistics_by_split(uri: str) -> Dict[str, Dict[str, Any]]:
    """{split: {"num_examples": n, feature: {num_non_missing, min, max, mean, std_dev}}} of a statistics artifact."""
    import tensorflow_data_validation as tfdv

    figures: Dict[str, Dict[str, Any]] = {}
    for path in sorted(glob.glob(os.path.join(uri, "Split-*", "FeatureStats.pb"))):
        split = pathlib.Path(path).parent.name[len("Split-") :]
        [dataset] = tfdv.load_stats_binary(path).datasets
        split_figures: Dict[str, Any] = {"num_examples": dataset.num_examples}
        for feature in dataset.features:
            name = feature.path.step[0]
            if feature.HasField("num_stats"):
                stats = feature.num_stats
                split_figures[name] = {
                    "num_non_missing": stats.common_stats.num_non_missing,
                    "min": stats.min,
                    "max": stats.max,
                    "mean": stats.mean,
                    "std_dev": stats.std_dev,
                }
            else:
                split_figures[name] = {"num_non_missing": feature.string_stats.common_stats.num_non_missing}
        figures[split] = split_figures
    return figures


def metrics_by_slice(uri: str) -> Dict[Tuple[str, str], float]:
    """{(slice, metric): value} of a TFMA evaluation (double values; confusion matrices are left out)."""
    import tensorflow_model_analysis as tfma

    values = {}
    for record in tfma.load_metrics(uri):
        keys = record.slice_key.single_slice_keys
        slice_name = ",".join(f"{key.column}={getattr(key, key.WhichOneof('kind'))}" for key in keys) or "overall"
        for entry in record.metric_keys_and_values:
            if entry.value.HasField("double_value"):
                name = f"{entry.key.model_name}:{entry.key.name}:{entry.key.sub_key}".replace("\n", " ")
                values[(slice_name, name)] = entry.value.double_value.value
    return values
