"""Runs the pipeline locally with TFX's LocalDagRunner on Apache Beam.

    python local_runner.py                      # default: the credit-card fraud data, fetched and verified
    python local_runner.py --data my.csv --output runs/mine --beam-arg=--direct_num_workers=2

This file owns everything the pure `create_pipeline(config)` must not: paths, the ML
Metadata SQLite file, Beam arguments, data preparation, and the run summary.
"""

from __future__ import annotations

import argparse
import datetime
import pathlib
import sys
import time
from typing import List, Optional, Sequence

from pipeline import data, output_folder
from pipeline.config import ConfigError, PipelineConfig
from pipeline.errors import UserInputError
from pipeline.overrides import add_config_flags, apply_overrides
from pipeline.run_lock import RunInProgressError, RunLock
from pipeline.schedule import CronSchedule, parse_cron

REPO_ROOT = pathlib.Path(__file__).resolve().parent
DEFAULT_PIPELINE_NAME = "imbalanced-fraud"
PREPARED_DATA_DIR = "prepared_data"
# In-process DirectRunner: one process, the least memory. Record order is not reproducible in any
# mode: TFX's ExampleGen passes every split through an unseeded beam.Reshuffle before writing it, so
# each ingestion of the same CSV orders the rows differently and the Trainer's seeded shuffle then
# forms other batches. Pass --beam-arg=--direct_running_mode=multi_processing to use both cores.
DEFAULT_BEAM_ARGS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train, evaluate and (if blessed) push a classifier for imbalanced data with TFX, locally.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--data",
        help="CSV with a header row, the numeric feature columns and a 0/1 label column, or a folder of "
        "span-<N>/ sub-folders with one such CSV each (the pipeline trains on the highest span). "
        "Default: the credit-card fraud data set, downloaded once into --data-dir and checked against its sha256.",
    )
    parser.add_argument("--data-dir", default=str(REPO_ROOT / "data"), help="where the default data set is cached")
    parser.add_argument(
        "--output",
        default=str(REPO_ROOT / "outputs"),
        help="folder for the prepared data, pipeline artifacts, ML Metadata store and pushed models; "
        "reusing it lets later runs hit the cache and compare with the last blessed model",
    )
    parser.add_argument("--pipeline-name", default=DEFAULT_PIPELINE_NAME, help="name recorded in ML Metadata")
    add_config_flags(
        parser,
        beam_arg_help="a Beam pipeline argument, repeatable, e.g. --beam-arg=--direct_num_workers=2 or "
        f"--beam-arg=--runner=FlinkRunner (default: {' '.join(DEFAULT_BEAM_ARGS)})",
        set_examples="--set trainer.max_epochs=5 --set rebalance.strategy=smote --set evaluator.min_recall=0.8",
    )
    parser.add_argument("--no-cache", action="store_true", help="re-run every component even if inputs are unchanged")
    parser.add_argument(
        "--schedule",
        metavar="CRON",
        help="run on a cron schedule (minute hour day-of-month month day-of-week, local time), e.g. '0 3 * * *' "
        "or '0 3 * * MON-FRI'; one run at a time (a lock on the output folder). New data arrives as a new "
        "span-<N>/ folder under --data",
    )
    parser.add_argument("--max-runs", type=int, help="with --schedule: stop after this many runs (default: forever)")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace, data_root: pathlib.Path) -> PipelineConfig:
    output = pathlib.Path(args.output).resolve()
    config = PipelineConfig(
        pipeline_name=args.pipeline_name,
        pipeline_root=str(output / "pipeline_root"),
        data_root=str(data_root),
        serving_model_dir=str(output / "serving_model"),
        schema_path=str(REPO_ROOT / "schema" / "schema.pbtxt"),
        metadata_path=str(output / output_folder.METADATA_FILENAME),
        beam_pipeline_args=tuple(args.beam_args) if args.beam_args else DEFAULT_BEAM_ARGS,
        enable_cache=not args.no_cache,
    )
    return apply_overrides(config, args.overrides)


EXIT_OK, EXIT_PIPELINE_FAILED, EXIT_BAD_INPUT, EXIT_BUSY = 0, 1, 2, 3


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)


def run_once(args: argparse.Namespace, config: PipelineConfig, source: pathlib.Path) -> int:
    """One locked run: prepare the spans, run the pipeline, print the summary."""
    output = pathlib.Path(args.output).resolve()
    started = time.time()
    try:
        with RunLock(output):
            spans = data.prepare_spans(source, pathlib.Path(config.data_root))
            for span, prepared in spans.items():
                print(
                    f"data: span {span}: {prepared.clean_csv} ({prepared.rows} rows, classes "
                    f"{prepared.class_counts}{', unchanged' if prepared.reused else ''})",
                    flush=True,
                )
            return _run_pipeline(config, started)
    except RunInProgressError as error:
        _error(str(error))
        return EXIT_BUSY
    except UserInputError as error:
        _error(str(error))
        return EXIT_BAD_INPUT


def _run_pipeline(config: PipelineConfig, started: float) -> int:
    # Imported here: the components' TensorFlow code loads only once the settings and data are good.
    from tfx import v1 as tfx

    from pipeline import run_summary
    from pipeline.pipeline import create_pipeline

    run_started = time.time()
    failure: Optional[BaseException] = None
    try:
        tfx.orchestration.LocalDagRunner().run(create_pipeline(config))
    except Exception as error:  # noqa: BLE001 - reported below, after the summary of what did run
        failure = error
    summary = run_summary.summarize_run(config, since=run_started)
    print(summary.render(total_seconds=time.time() - started), flush=True)
    if failure is not None:
        _error(f"the pipeline failed: {type(failure).__name__}: {failure}")
        return EXIT_PIPELINE_FAILED
    return EXIT_OK


def run_on_schedule(
    args: argparse.Namespace, config: PipelineConfig, source: pathlib.Path, schedule: CronSchedule
) -> int:
    """Runs at each time the cron schedule fires, one run at a time, until --max-runs (or forever)."""
    runs = 0
    exit_code = EXIT_OK
    while args.max_runs is None or runs < args.max_runs:
        fire_at = schedule.next_after(datetime.datetime.now())
        print(f"schedule {schedule.expression!r}: next run at {fire_at:%Y-%m-%d %H:%M}", flush=True)
        time.sleep(max(0.0, (fire_at - datetime.datetime.now()).total_seconds()))
        exit_code = run_once(args, config, source)
        runs += 1
        print(
            f"scheduled run {runs} finished at {datetime.datetime.now():%Y-%m-%d %H:%M:%S} with exit code {exit_code}",
            flush=True,
        )
        if exit_code == EXIT_BAD_INPUT:
            return exit_code
    return exit_code


def run(argv: Optional[Sequence[str]] = None) -> int:
    """Checks the settings, then runs once or on a schedule; returns the exit code."""
    args = parse_args(argv)
    output = pathlib.Path(args.output).resolve()
    try:
        config = build_config(args, output / PREPARED_DATA_DIR)
        output_folder.check_output_folder(output, args.pipeline_name)
        cron = parse_cron(args.schedule) if args.schedule else None
        if args.max_runs is not None and args.max_runs < 1:
            raise UserInputError(f"--max-runs must be >= 1, got {args.max_runs}")
        source = data.resolve_input(args.data, pathlib.Path(args.data_dir))
    except (UserInputError, ConfigError) as error:
        _error(str(error))
        return EXIT_BAD_INPUT
    if cron is None:
        return run_once(args, config, source)
    return run_on_schedule(args, config, source, cron)


def main(argv: Optional[List[str]] = None) -> None:
    sys.exit(run(argv))


if __name__ == "__main__":
    main()
