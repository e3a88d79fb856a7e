"""`local_runner.py` refuses bad input with one readable line and writes nothing."""

import pathlib
import shutil
import subprocess

from tests import tables
from tests.script_runs import run_python

REPO = pathlib.Path(__file__).resolve().parent.parent
QUICK = ("--label", "Class", "--positive", "1")


def _run(*args: str) -> subprocess.CompletedProcess:
    return run_python(str(REPO / "local_runner.py"), *args, timeout=300)


def _assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def test_help_explains_each_flag():
    result = _run("--help")
    assert result.returncode == 0
    for flag in ("--dataset", "--data", "--label", "--positive", "--output", "--beam-arg", "--set", "--no-cache"):
        assert flag in result.stdout


def test_missing_data_file(tmp_path):
    missing = tmp_path / "missing.csv"
    result = _run("--data", str(missing), *QUICK, "--output", str(tmp_path / "out"))
    _assert_one_line_error(result, str(missing), "does not exist", "--data")
    assert not (tmp_path / "out").exists()


def test_quick_path_needs_label_and_positive(tmp_path):
    result = _run("--data", str(tables.CREDITCARD_SMALL), "--output", str(tmp_path / "out"))
    _assert_one_line_error(result, "the quick path needs --data, --label and --positive; missing --label, --positive")
    assert not (tmp_path / "out").exists()


def test_csv_without_label_column_leaves_only_the_released_lock(tmp_path):
    csv_path = tmp_path / "no_label.csv"
    csv_path.write_text("Time,V1\n" + "1.0,2.0\n" * 10)
    result = _run("--data", str(csv_path), *QUICK, "--output", str(tmp_path / "out"))
    _assert_one_line_error(result, str(csv_path), "label.column names ['Class'], not among the columns found: Time, V1")
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [".run.lock"]


def test_description_typo_names_the_key(tmp_path):
    description = tables.write_description(tmp_path, {"data": "x.csv", "labl": {"column": "Class"}})
    result = _run("--dataset", str(description), "--output", str(tmp_path / "out"))
    _assert_one_line_error(result, "dataset.yaml: labl: unknown key; did you mean 'label'?")
    assert not (tmp_path / "out").exists()


def test_output_folder_of_another_pipeline(tmp_path):
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    output = tmp_path / "out"
    output.mkdir()
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(output / "metadata.sqlite")
    store = metadata_store.MetadataStore(connection)
    pipeline_type = store.put_context_type(metadata_store_pb2.ContextType(name="pipeline"))
    store.put_contexts([metadata_store_pb2.Context(type_id=pipeline_type, name="someone-elses-pipeline")])
    del store
    before = (output / "metadata.sqlite").read_bytes()
    result = _run("--data", str(tables.CREDITCARD_SMALL), *QUICK, "--output", str(output))
    _assert_one_line_error(result, "another pipeline (someone-elses-pipeline)", "choose another --output")
    assert (output / "metadata.sqlite").read_bytes() == before
    assert sorted(p.name for p in output.iterdir()) == ["metadata.sqlite"]


def test_output_folder_with_a_file_that_is_not_a_metadata_store(tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    (output / "metadata.sqlite").write_text("just text")
    result = _run("--data", str(tables.CREDITCARD_SMALL), *QUICK, "--output", str(output))
    _assert_one_line_error(result, "metadata.sqlite", "choose another --output")
    assert (output / "metadata.sqlite").read_text() == "just text"


def test_invalid_setting(tmp_path):
    result = _run(
        "--data", str(tables.CREDITCARD_SMALL), *QUICK, "--output", str(tmp_path / "o"), "--set", "trainer.loss=hinge"
    )
    _assert_one_line_error(result, "trainer.loss must be one of bce, weighted_bce, pos_weight, focal, auc; got 'hinge'")
    assert not (tmp_path / "o").exists()


def test_bad_target_counts_are_refused_at_parse_time(tmp_path):
    result = _run(
        "--data", str(tables.CREDITCARD_SMALL), *QUICK, "--output", str(tmp_path / "o"),
        "--set", "rebalance.target_counts=05,19",
    )  # fmt: skip
    _assert_one_line_error(result, "rebalance.target_counts='05,19': '05' is not a NAME:VALUE pair")


def test_the_runner_turns_garbage_collection_back_on_after_loading_its_libraries():
    """local_runner.py turns the cyclic collector off while TensorFlow loads; left off, a run would leak cycles."""
    result = run_python("-c", "import gc, local_runner; print(gc.isenabled(), gc.get_freeze_count() > 0)", timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True", "True"]


def test_a_description_setting_typo_names_the_file_and_key_and_writes_nothing(tmp_path):
    shutil.copy(tables.CREDITCARD_SMALL, tmp_path / "cards.csv")
    tree = {
        "data": "cards.csv",
        "label": {"column": "Class", "positive": ["1"]},
        "settings": {"trainer": {"modle": "rf"}},
    }
    description = tables.write_description(tmp_path, tree)
    result = _run("--dataset", str(description), "--output", str(tmp_path / "out"))
    _assert_one_line_error(result, f"{description}: settings.trainer.modle: unknown setting 'trainer.modle'")
    assert not (tmp_path / "out").exists()
