"""The tf.Transform job that Flink cannot run, on a real Apache Spark cluster started here (issue #19).

Flink's batch translation refuses a tf.Transform analysis with more than 64 outputs from one node
(scripts/tft_portable_repro.py: `tft.mean` and `tft.var` on 17 float columns; README, "Distributed Beam"), which is
why `--engine flink` keeps the Transform on the DirectRunner. The same job on Beam's Spark job server:

- the fixture starts scripts/spark_cluster.sh (a standalone Spark 3.2.2 master and worker from the pyspark wheel and
  the Beam 2.62.0 Spark job server) on free ports with a run folder of its own, and stops it at teardown, also when
  the run failed; the first start on a clean machine fetches pyspark from PyPI and the jars from Maven Central;
- the job runs with `--engine spark`'s arguments (LOOPBACK) and with the DirectRunner, and every transformed value
  must agree within 1e-6 (measured: equal to the last digit, as the Transform's output of the whole pipeline was);
- the Spark master lists the job as a FINISHED application.

The whole pipeline also ran with `--engine spark` on the 3,000-row sample (README); it is not repeated here: at
12 minutes on this machine it would not fit the few minutes of CI this check may take.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import os
import pathlib
import socket
import subprocess
import urllib.request

import pytest

from pipeline import engines

REPO = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "spark_cluster.sh"
REPRO = REPO / "scripts" / "tft_portable_repro.py"
START_TIMEOUT_S = 1500
# 17 columns: the smallest job that Flink refuses ("Cannot currently handle nodes with more than 64 outputs").
FEATURES = 17
ROWS = 200
VALUE_ABS_TOL = 1e-6


def test_spark_engine_keeps_the_transform():
    spark = engines.beam_args_for("spark")
    assert spark == engines.SPARK_BEAM_ARGS and "--runner=SparkRunner" in spark
    assert not engines.runs_on_flink(spark)
    assert engines.component_beam_args(engines.TRANSFORM_NODE, spark) == ()
    moved = engines.beam_args_for("spark", ["--job_endpoint=localhost:1234"])
    assert "--job_endpoint=localhost:1234" in moved and f"--job_endpoint={engines.SPARK_JOB_ENDPOINT}" not in moved


def _repro_module():
    spec = importlib.util.spec_from_file_location("tft_portable_repro", REPRO)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(6)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        ports = [sock.getsockname()[1] for sock in sockets]
    names = ["MASTER_PORT", "MASTER_WEBUI_PORT", "WORKER_WEBUI_PORT", "JOB_PORT", "ARTIFACT_PORT", "EXPANSION_PORT"]
    run_dir = tmp_path_factory.mktemp("spark-run")
    env = {
        **os.environ,
        "SPARK_RUN_DIR": str(run_dir),
        **{f"SPARK_{n}": str(p) for n, p in zip(names, ports, strict=True)},
    }

    def script(command: str, timeout: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=timeout, check=False
        )

    try:
        started = script("start", START_TIMEOUT_S)
        assert started.returncode == 0, f"the Spark cluster did not start:\n{started.stdout}\n{started.stderr}"
        yield {"job_endpoint": f"localhost:{ports[3]}", "ui": f"http://localhost:{ports[1]}", "run_dir": run_dir}
    finally:
        script("stop", 300)


def _transformed(path: pathlib.Path):
    return sorted(tuple(sorted(json.loads(line).items())) for line in path.read_text().splitlines())


@pytest.mark.e2e
def test_the_transform_that_flink_refuses_runs_on_spark(spark, tmp_path):
    repro = _repro_module()
    on_spark = engines.beam_args_for("spark", [f"--job_endpoint={spark['job_endpoint']}"])
    try:
        count = repro.run(FEATURES, ROWS, on_spark, output_path=str(tmp_path / "spark.jsonl"))
    except RuntimeError as error:
        logs = sorted((spark["run_dir"] / "log").glob("*"))
        tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs)
        raise AssertionError(f"the job failed on Spark: {repro.cause(error)}\n{tails}") from error
    assert count == ROWS
    assert (
        repro.run(FEATURES, ROWS, engines.beam_args_for("direct"), output_path=str(tmp_path / "direct.jsonl")) == ROWS
    )
    spark_rows, direct_rows = _transformed(tmp_path / "spark.jsonl"), _transformed(tmp_path / "direct.jsonl")
    assert len(spark_rows) == len(direct_rows) == ROWS
    for ours, theirs in zip(spark_rows, direct_rows, strict=True):
        assert [name for name, _ in ours] == [name for name, _ in theirs] == repro.feature_names(FEATURES)
        for (name, value), (_, other) in zip(ours, theirs, strict=True):
            assert math.isclose(value, other, rel_tol=0, abs_tol=VALUE_ABS_TOL), (name, value, other)
    with urllib.request.urlopen(f"{spark['ui']}/json/", timeout=30) as response:
        apps = json.load(response)["completedapps"]
    assert [app["state"] for app in apps] == ["FINISHED"], apps
