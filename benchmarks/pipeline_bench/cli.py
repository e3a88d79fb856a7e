"""The command line: a fresh output folder, three `local_runner.py` runs, the table and the JSON."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import shlex
import sys
from typing import List, Optional, Sequence

from benchmarks.pipeline_bench import inputs, runs, table
from pipeline.errors import UserInputError

REPO = runs.REPO
DEFAULT_DATASET = REPO / "schema" / "creditcard" / "dataset.yaml"
RESULTS_MD = REPO / "benchmarks" / "RESULTS.md"
RUN_DIR = "run"
JSON_FILE = "pipeline_bench.json"
TABLE_FILE = "pipeline_bench.md"


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pipeline_bench",
        description="Times local_runner.py three times into a fresh --output: the whole pipeline, a rerun with "
        "nothing changed (from the cache) and a second span of the same size; prints per-run and per-component "
        "seconds, peak RSS and eval metrics with ratios to the last pipeline_bench table of benchmarks/RESULTS.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--output", required=True, type=pathlib.Path, help="a folder that does not exist or is empty")
    parser.add_argument("--dataset", type=pathlib.Path, default=DEFAULT_DATASET, help="the data set's description")
    parser.add_argument("--data-dir", type=pathlib.Path, default=REPO / "data", help="local_runner.py's --data-dir")
    parser.add_argument("--rows", type=int, help="only the first N data rows of the table (a quick try)")
    parser.add_argument(
        "--set", dest="settings", action="append", default=[], metavar="KEY=VALUE", help="passed to every run"
    )
    parser.add_argument(
        "--beam-arg", dest="beam_args", action="append", default=[], metavar="ARG", help="passed to every run"
    )
    parser.add_argument("--results", type=pathlib.Path, default=RESULTS_MD, help="where the previous table is")
    args = parser.parse_args(argv)
    if args.rows is not None and args.rows < 1:
        parser.error(f"--rows must be >= 1, got {args.rows}")
    return args


def runner_command(args: argparse.Namespace, description: pathlib.Path, output: pathlib.Path) -> List[str]:
    command = [sys.executable, "local_runner.py", "--dataset", str(description), "--output", str(output)]
    command += ["--data-dir", str(args.data_dir.resolve())]
    for setting in args.settings:
        command += ["--set", setting]
    return command + [f"--beam-arg={arg}" for arg in args.beam_args]


def fresh_folder(folder: pathlib.Path) -> pathlib.Path:
    """The benchmark's folder, resolved; refused unless empty, so the first run starts from nothing."""
    folder = folder.resolve()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UserInputError(f"--output {folder} is not an empty folder; the benchmark needs a fresh one")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def checks(results: Sequence[runs.RunResult]) -> List[str]:
    """Lines that say whether each run did what the benchmark meant it to do."""
    lines = []
    for result in results:
        if result.returncode:
            lines.append(f"{result.name}: local_runner.py exited with {result.returncode}; see {result.stdout_path}")
        if result.name == "rerun":
            cached, total = result.counts.get("cached", 0), len(result.nodes)
            served = "every component" if cached == total > 0 else f"only {cached} of {total} components"
            lines.append(f"rerun: ML Metadata served {served} from the cache (execution state CACHED)")
        if result.name == "span 2":
            lines.append(f"span 2: ExampleGen's Examples are span {result.examples_span} (ML Metadata)")
    # The two clocks of a component's seconds: its ML Metadata timestamps and the console's "done in" line.
    gaps = [
        abs(node["seconds"] - result.console_seconds[node["node"]])
        for result in results
        for node in result.components
        if isinstance(result.console_seconds.get(node["node"]), float)
    ]
    if gaps:
        lines.append(f"component seconds: ML Metadata and the console's lines differ by at most {max(gaps):.1f} s")
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        folder = fresh_folder(args.output)
        prepared = inputs.prepare_inputs(args.dataset.resolve(), args.data_dir.resolve(), folder, args.rows)
    except UserInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    load_start = os.getloadavg()[0]
    started = datetime.datetime.now()
    output = folder / RUN_DIR
    command = runner_command(args, prepared.description_path, output)
    results: List[runs.RunResult] = []
    for name in ("fresh", "rerun", "span 2"):
        if name == "span 2":
            inputs.add_second_span(prepared)
        log = folder / f"{name.replace(' ', '-')}.stdout.txt"
        results.append(runs.run_pipeline(name, command, output, log, sys.stdout))
        if results[-1].returncode:
            break
    load_end = os.getloadavg()[0]
    previous = table.parse_tables(args.results.read_text(encoding="utf-8")) if args.results.is_file() else {}
    rows = ", ".join(f"span {span}: {count} rows" for span, count in sorted(results[0].spans.items()))
    settings = " ".join(f"--set {setting}" for setting in args.settings) or "default settings"
    heading = (
        f"pipeline_bench {started:%Y-%m-%d %H:%M}, {args.dataset.parent.name} ({rows or 'rows unknown'}), "
        f"{settings}; 1-minute load average {load_start:.2f} at the start, {load_end:.2f} at the end (2 cores, "
        "shared: above 2 the seconds are upper bounds)"
    )
    compared = (
        f"ratios (xR): to the same cell of the last pipeline_bench tables in {args.results}"
        if previous
        else f"ratios: x- everywhere: {args.results} holds no pipeline_bench table yet"
    )
    notes = (
        checks(results)
        + prepared.notes
        + [
            compared,
            "seconds per component: ML Metadata execution timestamps (registration to publication); data prep: from "
            "the runner's start to its last data line; other: the rest of the wall time",
            f"peak RSS: the highest sum of RSS over local_runner.py's process tree, sampled from /proc every "
            f"{runs.SAMPLE_S} s",
            f"command ({prepared.description_path} is the benchmark's copy of {args.dataset}): `{shlex.join(command)}`",
        ]
    )
    text, judged = table.render(results, previous, heading, notes)
    print(text, flush=True)
    (folder / TABLE_FILE).write_text(text, encoding="utf-8")
    report = {
        "heading": heading,
        "dataset": str(args.dataset),
        "rows": args.rows,
        "settings": args.settings,
        "beam_args": args.beam_args,
        "load_start": round(load_start, 2),
        "load_end": round(load_end, 2),
        "previous_tables": previous,
        "runs": [result.as_json() for result in results],
        **judged,
        "notes": notes,
        "table": text,
    }
    (folder / JSON_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {folder / TABLE_FILE} and {folder / JSON_FILE}")
    return 1 if any(result.returncode for result in results) else 0
