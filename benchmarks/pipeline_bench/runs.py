"""One `local_runner.py` run as a subprocess: wall time, peak memory, what ML Metadata and the summary say.

- Wall seconds: from starting the subprocess to its exit (Python start-up, data prep, TFX and the run summary).
- Peak RSS: every SAMPLE_S the RSS of the runner's whole process tree (itself and any Beam worker or other
  child) is read from /proc (psutil) and summed; the peak is the highest such sum. Not
  `getrusage(RUSAGE_CHILDREN).ru_maxrss`, which is the largest single process and covers every earlier run too.
- Per-component seconds: each execution's ML Metadata timestamps, from its registration (inputs resolved) to
  its publication (outputs recorded), as the run summary computes them; its state says `ran` or `cached`.
  The console's "done in X s" lines are kept beside them in the JSON as a cross-check.
- Data prep: the runner prints its data lines when prep is done; the seconds from start-up to the last of them.
- Eval metrics, the decision threshold and the gate's verdict: the run summary's lines on stdout, which it reads
  from the Evaluator's and the gate's artifacts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import re
import subprocess
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, TextIO

import psutil  # type: ignore[import-untyped]
from ml_metadata import errors as mlmd_errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

REPO = pathlib.Path(__file__).resolve().parents[2]
SAMPLE_S = 0.5
MIB = 1024**2
METADATA_FILE = "metadata.sqlite"

_STATES = {metadata_store_pb2.Execution.COMPLETE: "ran", metadata_store_pb2.Execution.CACHED: "cached"}
_PREP_DONE = re.compile(r"^data: \d+ numeric .* model inputs$")
_SPAN_LINE = re.compile(r"^data: span (?P<span>\d+): (?P<rows>\d+) rows")
_CONSOLE_END = re.compile(r"^\d\d:\d\d:\d\d  (?P<node>\S+) (?:done in (?P<seconds>[\d.]+) s|(?P<cached>cached))$")
_METRICS = "evaluator (eval split, overall): "
_THRESHOLD = re.compile(r"^trainer: decision threshold (?P<threshold>[\d.]+)")


class TreeSampler(threading.Thread):
    """The peak of the summed RSS of a process and all its descendants, sampled every SAMPLE_S."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.peak_bytes = 0
        self.samples = 0
        self.stop = threading.Event()

    def tree_rss(self) -> int:
        total = 0
        with contextlib.suppress(psutil.NoSuchProcess):
            for process in [self.root, *self.root.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    total += process.memory_info().rss
        return total

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self.tree_rss())
            self.samples += 1
            self.stop.wait(SAMPLE_S)


@dataclasses.dataclass
class RunResult:
    """One run's figures; `as_json` is what pipeline_bench.json holds for it."""

    name: str
    command: List[str]
    returncode: int
    wall_s: float
    prep_s: Optional[float]
    peak_rss_mib: float
    load_start: float
    load_end: float
    components: List[Dict[str, Any]]
    console_seconds: Dict[str, Any]
    spans: Dict[int, int]
    examples_span: Optional[int]
    metrics: Dict[str, float]
    threshold: Optional[float]
    gate: Optional[str]
    stdout_path: str

    @property
    def nodes(self) -> List[Dict[str, Any]]:
        """The components (resolvers look artifacts up on every run and are never cached: left out)."""
        return [node for node in self.components if not node["resolver"]]

    @property
    def counts(self) -> Dict[str, int]:
        counts: Dict[str, int] = {}
        for node in self.nodes:
            counts[node["state"]] = counts.get(node["state"], 0) + 1
        return counts

    @property
    def blessed(self) -> Optional[bool]:
        return None if self.gate is None else self.gate.startswith("BLESSED")

    @property
    def other_s(self) -> float:
        """Wall seconds outside data prep and the executions: imports, TFX set-up, the run summary."""
        return self.wall_s - (self.prep_s or 0.0) - sum(node["seconds"] for node in self.components)

    def as_json(self) -> Dict[str, Any]:
        fields = dataclasses.asdict(self)
        fields["spans"] = {str(span): rows for span, rows in self.spans.items()}
        fields.update(counts=self.counts, blessed=self.blessed, other_s=round(self.other_s, 1))
        return fields


def open_store(metadata_path: pathlib.Path) -> metadata_store.MetadataStore:
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(metadata_path)
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(connection)


def run_executions(metadata_path: pathlib.Path, since: float) -> List[Dict[str, Any]]:
    """Every execution of the newest pipeline run registered after `since`: node, state, seconds, resolver."""
    if not metadata_path.is_file():
        return []
    store = open_store(metadata_path)
    runs = [c for c in store.get_contexts_by_type("pipeline_run") if c.create_time_since_epoch / 1000 + 1 >= since]
    if not runs:
        return []
    run = max(runs, key=lambda context: context.create_time_since_epoch)
    node_type = store.get_context_type("node").id
    executions = sorted(store.get_executions_by_context(run.id), key=lambda e: (e.create_time_since_epoch, e.id))
    found = []
    for execution in executions:
        nodes = [c for c in store.get_contexts_by_execution(execution.id) if c.type_id == node_type]
        type_name = store.get_execution_types_by_id([execution.type_id])[0].name
        milliseconds = execution.last_update_time_since_epoch - execution.create_time_since_epoch
        found.append(
            {
                "node": nodes[0].name.split(".", 1)[-1] if nodes else type_name,
                "state": _STATES.get(execution.last_known_state, str(execution.last_known_state)),
                "seconds": round(milliseconds / 1000, 1),
                "resolver": type_name.endswith(".Resolver"),
                "examples_span": _examples_span(store, execution.id),
            }
        )
    return found


def _examples_span(store: metadata_store.MetadataStore, execution_id: int) -> Optional[int]:
    """The span of the Examples an ExampleGen execution output (cached ones record their outputs too)."""
    outputs = [
        event.artifact_id
        for event in store.get_events_by_execution_ids([execution_id])
        if event.type == metadata_store_pb2.Event.OUTPUT
    ]
    try:
        examples_type = store.get_artifact_type("Examples").id
    except mlmd_errors.NotFoundError:
        return None
    for artifact in store.get_artifacts_by_id(outputs):
        # ImportExampleGen records the span as a custom property in TFX 1.16; a property in other versions.
        for properties in (artifact.properties, artifact.custom_properties):
            if artifact.type_id == examples_type and "span" in properties:
                return int(properties["span"].int_value)
    return None


@dataclasses.dataclass
class _Summary:
    """What the runner's stdout says, line by line as it arrives."""

    prep_s: Optional[float] = None
    spans: Dict[int, int] = dataclasses.field(default_factory=dict)
    console_seconds: Dict[str, Any] = dataclasses.field(default_factory=dict)
    metrics: Dict[str, float] = dataclasses.field(default_factory=dict)
    threshold: Optional[float] = None
    gate: Optional[str] = None

    def read(self, line: str, elapsed: float) -> None:
        span, end = _SPAN_LINE.match(line), _CONSOLE_END.match(line)
        threshold = _THRESHOLD.match(line)
        if _PREP_DONE.match(line):
            self.prep_s = round(elapsed, 1)
        elif span:
            self.spans[int(span.group("span"))] = int(span.group("rows"))
        elif end:
            self.console_seconds[end.group("node")] = "cached" if end.group("cached") else float(end.group("seconds"))
        elif line.startswith(_METRICS):
            for figure in line[len(_METRICS) :].split(", "):
                name, _, value = figure.rpartition(" ")
                with contextlib.suppress(ValueError):
                    self.metrics[name] = float(value)
        elif threshold:
            self.threshold = float(threshold.group("threshold"))
        elif line.startswith("gate: "):
            self.gate = line[len("gate: ") :]


def run_pipeline(name: str, command: Sequence[str], output: pathlib.Path, log: pathlib.Path, echo: TextIO) -> RunResult:
    """Runs `command` (a local_runner.py command writing to `output`) and measures it; stdout goes to `log`."""
    summary = _Summary()
    load_start = os.getloadavg()[0]
    started_epoch, started = time.time(), time.monotonic()
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "w", encoding="utf-8") as saved:
        process = subprocess.Popen(
            list(command), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment
        )
        sampler = TreeSampler(process.pid)
        sampler.start()
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n")
            saved.write(raw)
            print(f"[{name}] {line}", file=echo, flush=True)
            summary.read(line, time.monotonic() - started)
        returncode = process.wait()
    wall = time.monotonic() - started
    sampler.stop.set()
    sampler.join()
    executions = run_executions(output / METADATA_FILE, started_epoch)
    spans = [node["examples_span"] for node in executions if node["examples_span"] is not None]
    return RunResult(
        name=name,
        command=list(command),
        returncode=returncode,
        wall_s=round(wall, 1),
        prep_s=summary.prep_s,
        peak_rss_mib=round(sampler.peak_bytes / MIB, 1),
        load_start=round(load_start, 2),
        load_end=round(os.getloadavg()[0], 2),
        components=[{key: value for key, value in node.items() if key != "examples_span"} for node in executions],
        console_seconds=summary.console_seconds,
        spans=summary.spans,
        examples_span=spans[-1] if spans else None,
        metrics=summary.metrics,
        threshold=summary.threshold,
        gate=summary.gate,
        stdout_path=str(log),
    )
