"""Runs the pipeline locally with TFX's LocalDagRunner on Apache Beam.

    python local_runner.py                                   # the credit-card fraud data, fetched and verified
    python local_runner.py --dataset schema/loans/dataset.yaml --output runs/loans
    python local_runner.py --data loans.csv --label status --positive bad --output runs/loans   # quick path

This file owns everything the pure `create_pipeline(config)` must not: paths, the ML
Metadata SQLite file, Beam arguments, data preparation, and the run summary.
"""

from __future__ import annotations

import gc
import os
import sys

# Python's cyclic garbage collector scans every live object on each full collection. The libraries a run loads
# (TensorFlow here, through the settings' modules; TFX, Beam and TFMA in _run_pipeline) create millions of objects
# in some 8,000 modules and almost no garbage: 8 full collections during their imports freed 117 objects and
# cost about 1.5 s of every start-up. So collection is off while they load; `_libraries_loaded` turns it back on.
gc.disable()
# TensorFlow reads this once, when the imports below first load it: its C++ start-up messages
# (CUDA factories, CPU instructions) are noise on a machine without a GPU, unless --verbose.
# Library warnings raised while importing are held for the run's log file (pipeline/console.py).
if "--verbose" not in sys.argv[1:]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from pipeline import console

    console.hold_early_messages()

import argparse
import datetime
import logging
import pathlib
import time
from typing import List, Optional, Sequence, Tuple

import yaml

from pipeline import data, engines, output_folder
from pipeline.config import PipelineConfig
from pipeline.dataset import DatasetDescription, description_yaml, load_description, parse_description
from pipeline.errors import ConfigError, UserInputError
from pipeline.overrides import add_config_flags, configure
from pipeline.prepare import PreparedSpan, prepare_dataset, with_columns
from pipeline.run_lock import RunInProgressError, RunLock
from pipeline.schedule import CronSchedule, parse_cron


def _libraries_loaded() -> None:
    """Turns collection back on, with what the imports left alive (kept until exit anyway) out of later scans.

    Called once after each block of first imports, never mid-run: objects made after it stay collectable.
    """
    gc.freeze()
    gc.enable()


_libraries_loaded()

REPO_ROOT = pathlib.Path(__file__).resolve().parent
DEFAULT_DATASET = REPO_ROOT / "schema" / "creditcard" / "dataset.yaml"
QUICK_DESCRIPTION = pathlib.Path("dataset") / "dataset.yaml"
PREPARED_DATA_DIR = "prepared_data"
# The --engine's Beam arguments (pipeline/engines.py); --beam-arg adds to or overrides them.
DEFAULT_BEAM_ARGS = engines.DIRECT_BEAM_ARGS


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train, evaluate and (if blessed) push a classifier for imbalanced data with TFX, locally.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--dataset",
        help="the data set's description (schema/<name>/dataset.yaml: where the table is, its label, columns and "
        f"slices; see pipeline/dataset.py). Default: {DEFAULT_DATASET.relative_to(REPO_ROOT)}, the credit-card "
        "fraud data, downloaded once into --data-dir and checked against its sha256",
    )
    quick = parser.add_argument_group(
        "quick path",
        "a CSV with a header, without a description: --data, --label and --positive write one to "
        "OUTPUT/dataset/dataset.yaml to start from (review it, then use --dataset)",
    )
    quick.add_argument("--data", help="a CSV file with a header row, or a folder of span-<N>/ folders of such files")
    quick.add_argument("--label", help="the label column")
    quick.add_argument("--positive", action="append", help="a label value of the class of interest (repeatable)")
    quick.add_argument("--slice", action="append", default=[], help="a categorical column the gate judges by slice")
    parser.add_argument("--data-dir", default=str(REPO_ROOT / "data"), help="where downloaded data sets are cached")
    parser.add_argument(
        "--output",
        default=str(REPO_ROOT / "outputs"),
        help="folder for the prepared data, pipeline artifacts, ML Metadata store and pushed models; "
        "reusing it lets later runs hit the cache and compare with the last blessed model",
    )
    parser.add_argument("--pipeline-name", help="name recorded in ML Metadata (default: imbalanced-<data set name>)")
    parser.add_argument(
        "--engine",
        choices=engines.ENGINES,
        default=engines.DEFAULT_ENGINE,
        help="where the Beam steps run: direct (in-process DirectRunner), flink (the Flink cluster and job "
        f"server of `make flink-up`: {' '.join(engines.FLINK_BEAM_ARGS)}; the Transform stays on the DirectRunner) "
        f"or spark (the Spark cluster and job server of `make spark-up`: {' '.join(engines.SPARK_BEAM_ARGS)})",
    )
    add_config_flags(
        parser,
        beam_arg_help="a Beam pipeline argument, repeatable, added to the --engine's or replacing its value, e.g. "
        f"--beam-arg=--direct_running_mode=multi_processing (direct: {' '.join(DEFAULT_BEAM_ARGS)})",
        set_examples="--set trainer.max_epochs=5 --set rebalance.strategy=smote --set evaluator.min_recall=0.8",
    )
    parser.add_argument("--no-cache", action="store_true", help="re-run every component even if inputs are unchanged")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="every library's log lines and warnings on the terminal (default: in OUTPUT/logs/run-TIME.log)",
    )
    parser.add_argument(
        "--schedule",
        metavar="CRON",
        help="run on a cron schedule (minute hour day-of-month month day-of-week, local time), e.g. '0 3 * * *' "
        "or '0 3 * * MON-FRI'; one run at a time (a lock on the output folder). New data arrives as a new "
        "span-<N>/ folder in the description's data folder",
    )
    parser.add_argument("--max-runs", type=int, help="with --schedule: stop after this many runs (default: forever)")
    return parser.parse_args(argv)


def load_dataset(args: argparse.Namespace, output: pathlib.Path) -> Tuple[DatasetDescription, Optional[str]]:
    """The description to run, and for the quick path the text of the one it writes once the checks pass."""
    given = (("--data", args.data), ("--label", args.label), ("--positive", args.positive))
    quick = [flag for flag, value in given if value]
    if args.dataset and quick:
        raise UserInputError(f"--dataset and {', '.join(quick)} exclude each other: the description names the data")
    if not quick:
        return load_description(pathlib.Path(args.dataset) if args.dataset else DEFAULT_DATASET), None
    missing = {"--data", "--label", "--positive"} - set(quick)
    if missing:
        raise UserInputError(
            f"the quick path needs --data, --label and --positive; missing {', '.join(sorted(missing))}"
        )
    source = pathlib.Path(args.data).resolve()
    if not source.exists():
        raise UserInputError(f"--data {source} does not exist; give a CSV file or a folder of span-<N>/ folders")
    text = description_yaml(source, args.label, args.positive, slices=args.slice)
    return parse_description(yaml.safe_load(text), output / QUICK_DESCRIPTION), text


def build_config(args: argparse.Namespace, description: DatasetDescription, data_root: pathlib.Path) -> PipelineConfig:
    """The settings before data prep: paths, the description's label and slices, and every --set."""
    output = pathlib.Path(args.output).resolve()
    config = PipelineConfig(
        pipeline_name=args.pipeline_name or f"imbalanced-{description.name}",
        pipeline_root=str(output / "pipeline_root"),
        data_root=str(data_root),
        serving_model_dir=str(output / "serving_model"),
        schema_path=description.reviewed_schema,
        metadata_path=str(output / output_folder.METADATA_FILENAME),
        beam_pipeline_args=engines.beam_args_for(args.engine, args.beam_args or ()),
        enable_cache=not args.no_cache,
        **description.config_names(),
    )
    return configure(config, description, args.overrides)


EXIT_OK, EXIT_PIPELINE_FAILED, EXIT_BAD_INPUT, EXIT_BUSY = 0, 1, 2, 3


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)


def run_once(
    args: argparse.Namespace,
    config: PipelineConfig,
    description: DatasetDescription,
    description_text: Optional[str],
    source: pathlib.Path,
) -> int:
    """One locked run: prepare the spans, run the pipeline, print the summary."""
    output = pathlib.Path(args.output).resolve()
    started = time.time()
    try:
        with RunLock(output) as lock:
            cleanup_lines = _clean_after_crash(output, config, lock.previous_holder)
            prepared = prepare_dataset(description, data.find_spans(source), pathlib.Path(config.data_root))
            for span, prepared_span in prepared.spans.items():
                print(f"data: span {span}: {_class_count_text(description, prepared_span)}", flush=True)
            if description_text is not None:
                # Generated from the flags on every quick-path run: copy it elsewhere to edit it.
                description.path.parent.mkdir(parents=True, exist_ok=True)
                description.path.write_text(description_text)
                print(f"data: wrote {description.path} to start from; review it, then run with --dataset", flush=True)
            if description.settings:
                # So a run's log says which settings the table brought, beside any --set.
                print(f"settings from {description.path.name}: {', '.join(description.settings)}", flush=True)
            types = prepared.types
            print(
                f"data: {len(types.numeric)} numeric ({len(types.nullable)} with missing values) and "
                f"{len(types.categorical)} categorical model inputs",
                flush=True,
            )
            return _run_pipeline(
                with_columns(config, prepared), description, started, cleanup_lines, output, args.verbose
            )
    except RunInProgressError as error:
        _error(str(error))
        return EXIT_BUSY
    except (UserInputError, ConfigError) as error:
        _error(str(error))
        return EXIT_BAD_INPUT


def _class_count_text(description: DatasetDescription, span: PreparedSpan) -> str:
    """`N rows, P of the class of interest (train/valid/eval ...)`; for a multiclass label each class's rows."""
    splits = span.split_counts
    unchanged = ", unchanged" if span.reused else ""
    if not description.class_names:
        return (
            f"{span.rows} rows, {span.class_counts[1]} of the class of interest (train/valid/eval "
            f"{splits['train'][1]}/{splits['valid'][1]}/{splits['eval'][1]}){unchanged}"
        )
    per_class = ", ".join(
        f"{name} {span.class_counts[index]} ({splits['train'][index]}/{splits['valid'][index]}/{splits['eval'][index]})"
        for index, name in enumerate(description.class_names)
    )
    return f"{span.rows} rows; rows per class (train/valid/eval): {per_class}{unchanged}"


def _clean_after_crash(output: pathlib.Path, config: PipelineConfig, previous_holder: Optional[str]) -> List[str]:
    """Marks what a killed run left RUNNING as failed and removes its folders; prints and returns what it did."""
    from pipeline import crash_cleanup

    lines = crash_cleanup.clean_after_crash(
        output,
        pathlib.Path(config.pipeline_root),
        pathlib.Path(config.data_root),
        pathlib.Path(config.metadata_path or output / output_folder.METADATA_FILENAME),
        previous_holder,
    )
    for line in lines:
        print(f"cleanup: {line}", flush=True)
    return lines


def _run_pipeline(
    config: PipelineConfig,
    description: DatasetDescription,
    started: float,
    cleanup_lines: Sequence[str],
    output: pathlib.Path,
    verbose: bool,
) -> int:
    # Imported here: the components' TensorFlow code loads only once the settings and data are good. LocalDagRunner
    # from its own module: `tfx.v1` would also import TFX's cloud extensions (pipeline/pipeline.py says why not).
    first_load = "pipeline.pipeline" not in sys.modules  # a scheduled run's later runs import nothing new
    if first_load:
        gc.disable()  # see _libraries_loaded
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from pipeline import console, run_summary, schema_review
    from pipeline.pipeline import create_pipeline

    if first_load:
        _libraries_loaded()

    log_path = console.route_logs(output, verbose)
    if log_path is not None:
        print(f"log: every library's messages go to {log_path} (--verbose shows them here)", flush=True)
    run_started = time.time()
    failure: Optional[BaseException] = None
    try:
        LocalDagRunner().run(create_pipeline(config))
    except Exception as error:
        failure = error
        logging.getLogger(__name__).error("the pipeline failed", exc_info=True)
    summary = run_summary.summarize_run(config, since=run_started)
    summary.cleanup_lines = list(cleanup_lines)
    print(summary.render(total_seconds=time.time() - started, component_table=log_path is None), flush=True)
    if failure is None and config.schema_path is None and summary.schema_uri:
        saved = schema_review.save_inferred_schema(
            summary.schema_uri, description.schema_path, config.label_key, description.label.num_classes
        )
        if saved:
            print(
                f"schema: SchemaGen inferred one; saved to {saved}. Review it and commit it: later runs import it "
                "and ExampleValidator checks every new span against it",
                flush=True,
            )
    if failure is not None:
        where = f"; the traceback is in {log_path}" if log_path is not None else ""
        _error(f"the pipeline failed: {type(failure).__name__}: {failure}{where}")
        return EXIT_PIPELINE_FAILED
    return EXIT_OK


def run_on_schedule(
    args: argparse.Namespace,
    config: PipelineConfig,
    description: DatasetDescription,
    description_text: Optional[str],
    source: pathlib.Path,
    schedule: CronSchedule,
) -> int:
    """Runs at each time the cron schedule fires, one run at a time, until --max-runs (or forever)."""
    runs = 0
    exit_code = EXIT_OK
    while args.max_runs is None or runs < args.max_runs:
        fire_at = schedule.next_after(datetime.datetime.now())
        print(f"schedule {schedule.expression!r}: next run at {fire_at:%Y-%m-%d %H:%M}", flush=True)
        time.sleep(max(0.0, (fire_at - datetime.datetime.now()).total_seconds()))
        exit_code = run_once(args, config, description, description_text, source)
        runs += 1
        print(
            f"scheduled run {runs} finished at {datetime.datetime.now():%Y-%m-%d %H:%M:%S} with exit code {exit_code}",
            flush=True,
        )
        if exit_code == EXIT_BAD_INPUT:
            return exit_code
    return exit_code


def run(argv: Optional[Sequence[str]] = None) -> int:
    """Checks the description and settings, then runs once or on a schedule; returns the exit code."""
    args = parse_args(argv)
    output = pathlib.Path(args.output).resolve()
    try:
        description, description_text = load_dataset(args, output)
        config = build_config(args, description, output / PREPARED_DATA_DIR)
        output_folder.check_output_folder(output, config.pipeline_name)
        cron = parse_cron(args.schedule) if args.schedule else None
        if args.max_runs is not None and args.max_runs < 1:
            raise UserInputError(f"--max-runs must be >= 1, got {args.max_runs}")
        source = data.resolve_source(description, pathlib.Path(args.data_dir))
    except (UserInputError, ConfigError) as error:
        _error(str(error))
        return EXIT_BAD_INPUT
    if cron is None:
        return run_once(args, config, description, description_text, source)
    return run_on_schedule(args, config, description, description_text, source, cron)


def main(argv: Optional[List[str]] = None) -> None:
    exit_code = run(argv)
    # At exit Python runs full collections over everything still alive while it tears the modules down: 2-3 s
    # after a run, for garbage nobody waits for. Frozen objects are left out of those scans; atexit handlers
    # (the log file's flush among them) still run, and the operating system reclaims the memory.
    gc.freeze()
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
