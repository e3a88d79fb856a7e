"""Wall time and peak memory of the whole pipeline per Beam engine: DirectRunner, Flink with 2 task slots and 1, Spark.

Not a timed test. Each configuration runs `local_runner.py` once, under `nice -n 10`, into a fresh output folder
below --root (so nothing is cached), one configuration at a time:

- `direct`: `--engine direct` (the in-process DirectRunner);
- `flink2`: a Flink cluster with 2 task slots and `--engine flink` (parallelism 2);
- `flink1`: a Flink cluster with 1 task slot and `--engine flink --beam-arg=--parallelism=1`;
- `spark`: a Spark master and a worker with 2 cores and `--engine spark` (the Transform runs there too).

For Flink and Spark the benchmark starts the cluster with scripts/flink_cluster.sh or scripts/spark_cluster.sh on
free ports with a run folder of its own before the run (the start is not timed: a user starts it once) and stops it
after. Measured:

- wall time of the `local_runner.py` process (data preparation included), and each component's seconds from ML
  Metadata (execution start to end: what the run summary prints);
- peak memory: the process tree of the runner (LOOPBACK runs Beam's Python SDK harness inside it) and the
  cluster's JVMs (JobManager, TaskManager, Beam job server; Spark's master, worker and its executor, job server)
  are sampled every SAMPLE_S; `peak total` is the highest sum of their RSS in one sample, the other two columns
  each part's own peak;
- the 1-minute load average at the start and the end and its mean over the run: the machine's 2 cores are shared,
  so the seconds are upper bounds when it is above 2.

The Trainer is the same on every engine (it is no Beam job) and dominates a default run, so the default settings
reduce it (`trainer.ensemble_members=1`, `trainer.max_epochs=3`); the Beam components are as in a default run.
Results are appended to ROOT/results.jsonl; the table is printed from that file (also alone: --table).

    .venv/bin/python -m benchmarks.engine_bench --root /tmp/engine_bench --configs direct,flink2,flink1,spark
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
from typing import Dict, Iterator, List, Optional, Sequence

import psutil  # type: ignore[import-untyped]

REPO = pathlib.Path(__file__).resolve().parents[1]
SAMPLE_S = 0.5
REDUCED_TRAINER = ("trainer.ensemble_members=1", "trainer.max_epochs=3")
CONFIGS: Dict[str, Dict[str, object]] = {
    "direct": {"engine": "direct", "slots": None, "beam_args": ()},
    "flink2": {"engine": "flink", "slots": 2, "beam_args": ()},
    "flink1": {"engine": "flink", "slots": 1, "beam_args": ("--parallelism=1",)},
    "spark": {"engine": "spark", "slots": 2, "beam_args": ()},
}
# engine: (script, its environment prefix, its port settings, its slot setting)
CLUSTER_SCRIPTS = {
    "flink": (
        "flink_cluster.sh",
        "FLINK",
        ("REST_PORT", "RPC_PORT", "JOB_PORT", "ARTIFACT_PORT", "EXPANSION_PORT"),
        "TASK_SLOTS",
    ),
    "spark": (
        "spark_cluster.sh",
        "SPARK",
        ("MASTER_PORT", "MASTER_WEBUI_PORT", "WORKER_WEBUI_PORT", "JOB_PORT", "ARTIFACT_PORT", "EXPANSION_PORT"),
        "WORKER_CORES",
    ),
}
# The components whose seconds the table shows (the Beam ones, and the Trainer for scale).
TABLE_COMPONENTS = ("ImportExampleGen", "StatisticsGen", "Rebalance", "Transform", "Trainer", "Evaluator")
GIB = 1024**3


def free_ports(count: int) -> List[int]:
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


class Cluster:
    """A cluster script (scripts/flink_cluster.sh, scripts/spark_cluster.sh) on free ports with a run folder of its
    own, so a cluster that a developer started is left alone. Its pid files name the JVMs whose memory counts."""

    def __init__(self, engine: str, run_dir: pathlib.Path, slots: int):
        script, prefix, port_names, slots_name = CLUSTER_SCRIPTS[engine]
        ports = dict(zip(port_names, free_ports(len(port_names)), strict=True))
        self.script_path = REPO / "scripts" / script
        self.run_dir = run_dir
        self.job_endpoint = f"localhost:{ports['JOB_PORT']}"
        self.env = {
            **os.environ,
            f"{prefix}_RUN_DIR": str(run_dir),
            f"{prefix}_{slots_name}": str(slots),
            **{f"{prefix}_{name}": str(port) for name, port in ports.items()},
        }

    def script(self, command: str) -> None:
        done = subprocess.run(["bash", str(self.script_path), command], env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{self.script_path.name} {command} failed:\n{done.stdout}\n{done.stderr}")

    def pids(self) -> List[int]:
        """The daemons' pids (a Flink pid file holds one per line); their children (Spark's executor) count too."""
        found: List[int] = []
        for path in self.run_dir.glob("*.pid"):
            found.extend(int(line) for line in path.read_text().split() if line.strip())
        return found


def tree_rss(root: psutil.Process) -> int:
    total = 0
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += process.memory_info().rss
    return total


def pids_rss(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += tree_rss(psutil.Process(pid))
    return total


class Sampler(threading.Thread):
    """Peak RSS of the runner's process tree, of the cluster's JVMs and of both together; mean load average."""

    def __init__(self, runner: psutil.Process, cluster_pids: Sequence[int]):
        super().__init__(daemon=True)
        self.runner, self.cluster_pids = runner, list(cluster_pids)
        self.peak_runner = self.peak_cluster = self.peak_total = 0
        self.loads: List[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            runner, cluster = tree_rss(self.runner), pids_rss(self.cluster_pids)
            self.peak_runner = max(self.peak_runner, runner)
            self.peak_cluster = max(self.peak_cluster, cluster)
            self.peak_total = max(self.peak_total, runner + cluster)
            self.loads.append(os.getloadavg()[0])
            self.stop.wait(SAMPLE_S)


def component_seconds(metadata_path: pathlib.Path) -> Dict[str, float]:
    """{node id: seconds} of the run's executions, as the run summary computes them."""
    from pipeline.run_summary import open_store

    store = open_store(str(metadata_path))
    node_type = store.get_context_type("node")
    seconds = {}
    for execution in store.get_executions():
        nodes = [c for c in store.get_contexts_by_execution(execution.id) if c.type_id == node_type.id]
        if nodes:
            node_id = nodes[0].name.split(".", 1)[-1]
            seconds[node_id] = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
    return seconds


@contextlib.contextmanager
def cluster_for(config: Dict[str, object], root: pathlib.Path) -> Iterator[Optional[Cluster]]:
    engine = str(config["engine"])
    if engine not in CLUSTER_SCRIPTS:
        yield None
        return
    cluster = Cluster(engine, root / f"{engine}-run", int(config["slots"]))  # type: ignore[call-overload]
    try:
        cluster.script("start")
        yield cluster
    finally:
        cluster.script("stop")


def run_config(name: str, root: pathlib.Path, settings: Sequence[str]) -> Dict[str, object]:
    config = CONFIGS[name]
    folder = root / name
    folder.mkdir(parents=True, exist_ok=False)
    with cluster_for(config, folder) as cluster:
        beam_args = list(config["beam_args"])  # type: ignore[call-overload]
        if cluster is not None:
            beam_args.append(f"--job_endpoint={cluster.job_endpoint}")
        command = ["nice", "-n", "10", sys.executable, "local_runner.py", "--output", str(folder / "out")]
        command += ["--engine", str(config["engine"])]
        command += [f"--beam-arg={arg}" for arg in beam_args]
        for setting in settings:
            command += ["--set", setting]
        cluster_pids = cluster.pids() if cluster else []
        cluster_idle = pids_rss(cluster_pids)
        load_start = os.getloadavg()[0]
        started = time.monotonic()
        with open(folder / "stdout.txt", "w") as stdout:
            process = subprocess.Popen(command, cwd=REPO, stdout=stdout, stderr=subprocess.STDOUT)
            sampler = Sampler(psutil.Process(process.pid), cluster_pids)
            sampler.start()
            returncode = process.wait()
        wall = time.monotonic() - started
        sampler.stop.set()
        sampler.join()
    lines = (folder / "stdout.txt").read_text(errors="replace").splitlines()
    result = {
        "config": name,
        "engine": config["engine"],
        "slots": config["slots"],
        "command": " ".join(command),
        "returncode": returncode,
        "wall_s": round(wall, 1),
        "peak_total_gib": round(sampler.peak_total / GIB, 2),
        "peak_runner_gib": round(sampler.peak_runner / GIB, 2),
        "peak_cluster_gib": round(sampler.peak_cluster / GIB, 2),
        "cluster_idle_gib": round(cluster_idle / GIB, 2),
        "load_start": round(load_start, 2),
        "load_end": round(os.getloadavg()[0], 2),
        "load_mean": round(sum(sampler.loads) / max(len(sampler.loads), 1), 2),
        "components": component_seconds(folder / "out" / "metadata.sqlite"),
        "evaluator_line": next((line for line in lines if line.startswith("evaluator (eval split")), ""),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    with open(root / "results.jsonl", "a") as handle:
        handle.write(json.dumps(result) + "\n")
    return result


def table(results: Sequence[Dict]) -> str:
    header = [
        "config",
        "wall s",
        "peak total GiB",
        "runner GiB",
        "cluster GiB",
        *(f"{n} s" for n in TABLE_COMPONENTS),
        "load 1-min",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for result in results:
        status = "" if result["returncode"] == 0 else f" (exit {result['returncode']})"
        seconds = [f"{result['components'].get(node, float('nan')):.0f}" for node in TABLE_COMPONENTS]
        load = f"{result['load_start']:.1f} -> {result['load_end']:.1f} (mean {result['load_mean']:.1f})"
        row = [
            f"{result['config']}{status}",
            f"{result['wall_s']:.0f}",
            f"{result['peak_total_gib']:.2f}",
            f"{result['peak_runner_gib']:.2f}",
            f"{result['peak_cluster_gib']:.2f}",
            *seconds,
            load,
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=pathlib.Path, required=True, help="a folder for the runs and results.jsonl")
    parser.add_argument("--configs", default="direct,flink2,flink1", help=f"comma-separated, of {', '.join(CONFIGS)}")
    parser.add_argument("--set", dest="settings", action="append", default=None, help="overrides the reduced Trainer")
    parser.add_argument("--table", action="store_true", help="only print the table of ROOT/results.jsonl")
    args = parser.parse_args(argv)
    if not args.table:
        names = [name for name in args.configs.split(",") if name]
        unknown = [name for name in names if name not in CONFIGS]
        if unknown:
            parser.error(f"unknown configs {unknown}; configs: {', '.join(CONFIGS)}")
        args.root.mkdir(parents=True, exist_ok=True)
        for name in names:
            result = run_config(name, args.root, args.settings or REDUCED_TRAINER)
            print(f"{name}: exit {result['returncode']}, {result['wall_s']} s, peak {result['peak_total_gib']} GiB")
    with open(args.root / "results.jsonl") as handle:
        print(table([json.loads(line) for line in handle if line.strip()]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
