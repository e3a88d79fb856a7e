"""Running each strategy through the pipeline's components, and reusing what an earlier run finished.

Re-running with the same `--output` reuses every strategy whose settings and data are unchanged
(their recorded times too). Given the same Examples, every strategy's model and figures are the
same on every run (seeds from the config).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import pathlib
import resource
import shutil
import time
from typing import Any, Dict, Mapping

import numpy as np

from benchmarks.strategy_report.metrics import evaluate_predictions, quality_target
from benchmarks.strategy_report.strategies import Strategy, class_counts, strategy_config
from pipeline import harness
from pipeline.config import PipelineConfig
from pipeline.pipeline import EVAL_SPLIT, trainer_custom_config

PREDICTIONS_FILE = "predictions.npz"
RESULT_FILE = "result.json"
# Bump when what a strategy's result holds changes, so old results in a reused --output are redone.
RESULT_VERSION = 2


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (Beam workers): the load-independent cost."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def write_atomically(path: pathlib.Path, data: bytes) -> None:
    """Readers see the old file or the whole new one, never a part (a killed run leaves no half result)."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def _fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _reuse(strategy: Strategy, config: PipelineConfig, workdir: pathlib.Path, fingerprint: str):
    """The finished result in `workdir` if it was made with the same settings, else None."""
    result_path = workdir / RESULT_FILE
    if not (result_path.exists() and (workdir / PREDICTIONS_FILE).exists()):
        return None
    previous = json.loads(result_path.read_text())
    if previous.get("fingerprint") != fingerprint:
        return None
    print(f"[{strategy.name}] reusing the finished run in {workdir}", flush=True)
    # The figures are recomputed from the saved predictions, so they follow the current metric code.
    with np.load(workdir / PREDICTIONS_FILE) as saved:
        previous.update(evaluate_predictions(dict(saved), config.slice_feature_keys))
    previous["quality_target"] = quality_target(previous["overall"])
    return previous


def run_strategy(
    strategy: Strategy, base: PipelineConfig, examples, schema, output: pathlib.Path, data_key: Mapping[str, Any]
) -> Dict[str, Any]:
    """Rebalance (if any) -> Trainer -> scoring of the eval split; reuses a finished run with the same settings.

    `data_key` names the data the Examples were made from (a result made from other data is redone).
    """
    import tensorflow as tf

    config = strategy_config(base, strategy)
    workdir = output / "strategies" / strategy.name
    settings = {
        "version": RESULT_VERSION,
        "trainer": trainer_custom_config(config),
        "rebalance": dataclasses.asdict(config.rebalance) if strategy.rebalance else None,
        "examples": str(examples.uri),
        "data": data_key,
    }
    fingerprint = _fingerprint(settings)
    previous = _reuse(strategy, config, workdir, fingerprint)
    if previous is not None:
        return previous
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    print(f"[{strategy.name}] {strategy.description}", flush=True)

    cpu_started = cpu_seconds()
    rebalance_seconds, summary, train_examples = 0.0, None, examples
    if strategy.rebalance:
        started = time.monotonic()
        train_examples, summary = harness.run_rebalance(examples, config, workdir)
        rebalance_seconds = time.monotonic() - started
        print(f"[{strategy.name}] Rebalance took {rebalance_seconds:.1f}s: {summary['splits']['train']}", flush=True)
    started = time.monotonic()
    serving_dir, training_report = harness.run_trainer(train_examples, schema, config, workdir)
    training_seconds = time.monotonic() - started
    print(
        f"[{strategy.name}] Trainer took {training_seconds:.1f}s; threshold "
        f"{training_report['decision_threshold']:.6g} ({training_report['threshold_message']})",
        flush=True,
    )

    started = time.monotonic()
    predictions = harness.score_split(serving_dir, pathlib.Path(examples.uri) / f"Split-{EVAL_SPLIT}", config)
    scoring_seconds = time.monotonic() - started
    served = float(predictions["threshold"])
    if not math.isclose(served, training_report["decision_threshold"], rel_tol=1e-6, abs_tol=1e-7):
        raise RuntimeError(
            f"[{strategy.name}] the model serves threshold {served} but training_report.json says "
            f"{training_report['decision_threshold']}"
        )
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **predictions)
    write_atomically(workdir / PREDICTIONS_FILE, buffer.getvalue())
    result = {
        "fingerprint": fingerprint,
        "name": strategy.name,
        "description": strategy.description,
        "rebalance_strategy": strategy.rebalance or "none",
        "model": config.trainer.model,
        # The training report's loss: the trees' own (binomial log-likelihood) for the tree family.
        "loss": training_report.get("loss", config.trainer.loss),
        "trainer_settings": settings["trainer"],
        "class_counts": class_counts(strategy, config, training_report, summary),
        "seconds": {
            "rebalance": round(rebalance_seconds, 2),
            "training": round(training_seconds, 2),
            "scoring": round(scoring_seconds, 2),
            "total": round(rebalance_seconds + training_seconds + scoring_seconds, 2),
            "cpu": round(cpu_seconds() - cpu_started, 2),
        },
        "threshold": training_report["decision_threshold"],
        "threshold_rule": training_report["threshold_rule"],
        "training_report": training_report,
        "predictions_file": str((workdir / PREDICTIONS_FILE).relative_to(output)),
        **evaluate_predictions(predictions, config.slice_feature_keys),
    }
    result["quality_target"] = quality_target(result["overall"])
    write_atomically(workdir / RESULT_FILE, json.dumps(result, indent=2, sort_keys=True).encode())
    tf.keras.backend.clear_session()
    return result
