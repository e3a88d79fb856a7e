"""benchmarks/pipeline_bench: the table's structure, its ratios to a previous table, --rows, and its inputs.

The tests build the benchmark's inputs and tables from real files and figures (seconds). The three real
local_runner.py runs are not repeated here (about 6 minutes on the sample): `make test` is near CI's 90-minute
limit, and the cached second run is already checked by tests/test_end_to_end.py.
"""

import pathlib
import shutil

from benchmarks.pipeline_bench import inputs, table
from benchmarks.pipeline_bench.runs import RunResult
from pipeline.dataset import load_description
from pipeline.table_scan import read_rows
from tests import tables

REPO = pathlib.Path(__file__).resolve().parent.parent
# Small data: one ensemble member, two epochs; a gate the sample's model passes.
QUICK_SETTINGS = [
    "trainer.ensemble_members=1",
    "trainer.max_epochs=2",
    "trainer.batch_size=256",
    "evaluator.min_recall=0.5",
    "evaluator.min_auc=0.8",
    "evaluator.min_pr_auc=0.3",
    "evaluator.min_slice_positives=20",
    "evaluator.max_recall_drop=0.5",
    "evaluator.max_pr_auc_drop=0.5",
]


def _run_result(name: str, wall: float, state: str, span: int) -> RunResult:
    components = [
        {"node": "ImportExampleGen", "state": state, "seconds": wall / 10, "resolver": False},
        {"node": "latest_blessed_model_resolver", "state": "ran", "seconds": 0.0, "resolver": True},
        {"node": "Trainer", "state": state, "seconds": wall / 2, "resolver": False},
    ]
    return RunResult(
        name=name,
        command=["local_runner.py"],
        returncode=0,
        wall_s=wall,
        prep_s=wall / 20,
        peak_rss_mib=2000.0 + wall,
        load_start=1.5,
        load_end=2.5,
        components=components,
        console_seconds={},
        spans={span: 3000},
        examples_span=span,
        metrics={"auc": 0.99, "pr_auc": 0.82, "recall": 0.86, "precision": 0.6},
        threshold=0.2,
        gate="BLESSED: all checks passed",
        stdout_path="fresh.stdout.txt",
    )


def _three_runs(scale: float) -> list:
    return [
        _run_result("fresh", 400.0 * scale, "ran", 1),
        _run_result("rerun", 40.0 * scale, "cached", 1),
        _run_result("span 2", 380.0 * scale, "ran", 2),
    ]


def test_table_rows_targets_and_ratios_to_the_previous_table():
    first, _ = table.render(_three_runs(1.0), {}, "pipeline_bench first", ["a note"])
    assert "(x-)" in first and "x1." not in first
    previous = table.parse_tables(f"# Results\n\nsome text\n\n{first}\n## Another section\n")
    assert previous[table.RUN_TABLE]["fresh"]["wall s"] == 400.0
    assert previous[table.COMPONENT_TABLE]["Trainer"]["span 2 s"] == 190.0
    second, judged = table.render(_three_runs(0.5), previous, "pipeline_bench second", [])
    assert "| fresh | 200.0 (x0.50) | <= 300 s: met |" in second
    assert "| Trainer | 100.0 (x0.50) | 10.0 cached (x0.50) | 95.0 (x0.50) |" in second
    assert judged["ratios"]["runs"]["rerun"]["wall s"] == 0.5
    met = {entry["target"]: entry["met"] for entry in judged["targets"]}
    assert met["fresh: wall s <= 300"] and met["rerun: wall s <= 30"] and met["span 2: wall s <= 300"]
    assert met["rerun: every component from the cache"] is True
    assert met["fresh: eval PR-AUC >= 0.84"] is False
    assert met["peak RSS MiB no higher than the previous table's (2400.0)"] is True


def test_first_rows_keep_the_header_and_parse_as_the_original(tmp_path):
    description = load_description(tables.text_labels(tmp_path / "loans", rows=50))
    target = tmp_path / "first.csv"
    assert inputs.copy_first_rows(description, description.data, target, 7) == 7
    original = list(read_rows(description, description.data))[:8]
    assert list(read_rows(description, target)) == original
    assert inputs.copy_first_rows(description, description.data, tmp_path / "all.csv", 500) == 50


def test_inputs_description_reads_spans_and_imports_the_reviewed_schema(tmp_path):
    source = tables.creditcard(tmp_path / "fixture")
    shutil.copyfile(REPO / "schema" / "creditcard" / "schema.pbtxt", source.parent / "schema.pbtxt")
    prepared = inputs.prepare_inputs(source, REPO / "data", tmp_path / "bench", rows=None)
    copy = load_description(prepared.description_path)
    assert copy.name == "creditcard" and copy.fetch is None and copy.schema_path.is_file()
    assert prepared.span_table(1).resolve() == tables.CREDITCARD_SMALL.resolve()
    inputs.add_second_span(prepared)
    assert prepared.span_table(2).read_bytes() == tables.CREDITCARD_SMALL.read_bytes()
    assert any(note.startswith("span 2: a copy of span 1's rows") for note in prepared.notes)
