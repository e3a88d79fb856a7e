"""A run killed with SIGKILL during the Trainer, the run after it, and a run in a fresh folder.

The killed run leaves its Trainer execution RUNNING in ML Metadata, its output folders and its
decoded-rows cache (inside the output folder, never in /tmp). The next run in that folder marks
the execution FAILED, removes those folders, says so on the console and in the run summary, and
finishes from the cache. Its weights, predictions and metrics are then those of an uninterrupted
run in a second fresh folder, to the byte: reproducibility across folders is a tested promise.
"""

import filecmp
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2

from pipeline import crash_cleanup, run_summary
from tests import tables

REPO = pathlib.Path(__file__).resolve().parent.parent
SETTINGS = [
    "--set", "trainer.ensemble_members=2",
    "--set", "trainer.max_epochs=20",
    "--set", "trainer.early_stopping_patience=20",
    "--set", "trainer.batch_size=64",
]  # fmt: skip
# The serving graph and its hash: equal in what they compute, not to the byte (see the last test).
GRAPH_FILES = ("saved_model.pb", "fingerprint.pb")
CACHE_GLOB = "pipeline_root/Trainer/model_run/*/decoded_rows_cache"


def _command(workdir: pathlib.Path, output: pathlib.Path):
    description = tables.creditcard(workdir / "dataset")
    (description.parent / "schema.pbtxt").write_bytes((REPO / "schema" / "creditcard" / "schema.pbtxt").read_bytes())
    return [sys.executable, str(REPO / "local_runner.py"), "--dataset", str(description), "--output", str(output)] + [
        *SETTINGS
    ]


def _run(command):
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800, check=False)
    assert result.returncode == 0, f"run failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


def _kill_during_training(command, output: pathlib.Path) -> int:
    """Starts a run and SIGKILLs its whole process group once the Trainer has written its cache; returns the pid."""
    with open(output.parent / "killed_run.log", "w") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 1200
        while not list(output.glob(CACHE_GLOB)):
            assert process.poll() is None, f"the run ended ({process.returncode}) before the Trainer cached its rows"
            assert time.time() < deadline, "the Trainer never started"
            time.sleep(0.5)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return process.pid


def _trainer_executions(output: pathlib.Path):
    store = run_summary.open_store(str(output / "metadata.sqlite"))
    trainer_type = [t.id for t in store.get_execution_types() if t.name.endswith("trainer.component.Trainer")]
    return [execution for execution in store.get_executions() if execution.type_id in trainer_type]


def _serving_files(output: pathlib.Path):
    serving = next(output.glob("pipeline_root/Trainer/model/*/Format-Serving"))
    return serving, sorted(str(path.relative_to(serving)) for path in serving.rglob("*") if path.is_file())


@pytest.fixture(scope="module")
def recovered_and_fresh(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("crash")
    killed_output = workdir / "killed"
    killed_pid = _kill_during_training(_command(workdir, killed_output), killed_output)
    after_kill = {
        "executions": _trainer_executions(killed_output),
        "caches": list(killed_output.glob(CACHE_GLOB)),
        "lock": (killed_output / ".run.lock").read_text().strip(),
    }
    recovered = _run(_command(workdir, killed_output))
    fresh_output = workdir / "fresh"
    fresh = _run(_command(workdir, fresh_output))
    return killed_pid, after_kill, killed_output, recovered, fresh_output, fresh


@pytest.mark.e2e
def test_killed_run_leaves_a_running_execution_and_its_cache_inside_the_output_folder(recovered_and_fresh):
    killed_pid, after_kill, killed_output, _, _, _ = recovered_and_fresh
    states = [execution.last_known_state for execution in after_kill["executions"]]
    assert states == [metadata_store_pb2.Execution.RUNNING]
    assert after_kill["caches"] and all(killed_output in path.parents for path in after_kill["caches"])
    assert after_kill["lock"] == str(killed_pid), "the dead run's pid stays in the lock file"


@pytest.mark.e2e
def test_next_run_marks_it_failed_removes_its_folders_and_says_so(recovered_and_fresh):
    killed_pid, after_kill, killed_output, recovered, _, _ = recovered_and_fresh
    dead = after_kill["executions"][0]
    cleanup = [line for line in recovered.stdout.splitlines() if line.startswith("cleanup: ")]
    assert len(cleanup) == 1, recovered.stdout[-3000:]
    assert f"Trainer execution {dead.id} was left unfinished by the run of pid {killed_pid}" in cleanup[0]
    for folder in (f"Trainer/model/{dead.id}", f"Trainer/model_run/{dead.id}"):
        assert folder in cleanup[0]
        assert not (killed_output / "pipeline_root" / folder).exists()
    summary = recovered.stdout[recovered.stdout.index("=== run summary") :]
    assert "cleaned up after a run that died:" in summary and f"execution {dead.id}" in summary
    by_id = {execution.id: execution for execution in _trainer_executions(killed_output)}
    assert by_id[dead.id].last_known_state == metadata_store_pb2.Execution.FAILED
    assert str(killed_pid) in by_id[dead.id].custom_properties[crash_cleanup.CLEANUP_PROPERTY].string_value
    finished = [execution for id_, execution in by_id.items() if id_ != dead.id]
    assert [execution.last_known_state for execution in finished] == [metadata_store_pb2.Execution.COMPLETE]
    assert not list(killed_output.glob(CACHE_GLOB)), "the finished Trainer removed its cache"
    # Everything before the Trainer finished in the killed run and is served from the cache.
    # The console's line when each component ends: `HH:MM:SS  Transform cached` / `... Trainer done in 41.2 s`.
    ended = dict(line.split(None, 2)[1:] for line in recovered.stdout.splitlines() if line[:2].isdigit())
    assert ended["ImportExampleGen"] == "cached" and ended["Transform"] == "cached", recovered.stdout
    assert ended["Trainer"].startswith("done in "), recovered.stdout
    assert (killed_output / ".run.lock").read_text() == "", "a clean exit empties the lock file"


@pytest.mark.e2e
def test_two_fresh_folders_give_the_same_model_bytes_and_metrics(recovered_and_fresh):
    """Same weights, assets and training report to the byte; the same predictions and metrics.

    `saved_model.pb` (and `fingerprint.pb`, its hash) is compared by what it computes, not by its
    bytes: TensorFlow names each traced function with a process-wide counter
    (`__inference_serve_28266`), and the recovered run's process traced fewer functions before the
    Trainer than the fresh one (its earlier components were cached).
    """
    _, _, killed_output, recovered, fresh_output, fresh = recovered_and_fresh
    assert "cleanup: " not in fresh.stdout, "a fresh folder has nothing to clean"
    recovered_dir, recovered_files = _serving_files(killed_output)
    fresh_dir, fresh_files = _serving_files(fresh_output)
    assert recovered_files == fresh_files
    compared = [name for name in recovered_files if name not in GRAPH_FILES]
    assert any(name.startswith("variables/") for name in compared)
    _, mismatch, errors = filecmp.cmpfiles(recovered_dir, fresh_dir, compared, shallow=False)
    assert not mismatch and not errors, f"files that differ between the two folders: {mismatch + errors}"

    requests = tf.constant(_eval_records(fresh_output))
    outputs = [
        tf.saved_model.load(str(folder)).signatures["serving_default"](examples=requests)
        for folder in (recovered_dir, fresh_dir)
    ]
    for name in outputs[0]:
        assert np.array_equal(outputs[0][name].numpy(), outputs[1][name].numpy()), name

    def figures(stdout: str):
        lines = stdout.splitlines()
        return [line for line in lines if line.startswith(("trainer: ", "evaluator ", "gate: "))]

    assert figures(recovered.stdout) and figures(recovered.stdout) == figures(fresh.stdout)
    report = json.loads((recovered_dir / "assets.extra" / "training_report.json").read_text())
    assert report["ensemble_members"] == 2


def _eval_records(output: pathlib.Path, limit: int = 500):
    files = sorted(str(path) for path in output.glob("pipeline_root/ImportExampleGen/examples/*/Split-eval/*.gz"))
    return [record.numpy() for record in tf.data.TFRecordDataset(files, compression_type="GZIP").take(limit)]
