"""The executor via Do(...) with real Examples artifacts, real Beam runs and real files."""

from __future__ import annotations

import collections
import json
import os

import pytest
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils

from components.class_skew.spec import ClassSkewReport
from components.rebalance import executor, spec
from components.rebalance.errors import RebalanceInputError
from components.rebalance.spec import RebalanceParameters
from components.rebalance.tests import fixtures as fx

MULTI_PROCESS_ARGS = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
BINARY_COUNTS = {"train": {"0": 240, "1": 15}, "eval": {"0": 60, "1": 6}}


def run(tmp_path, examples, beam_args=(), class_skew_counts=None, name="out", label_key=fx.LABEL_KEY, **overrides):
    """Runs the executor (SMOTE on every numeric feature unless told otherwise); returns the output artifact."""
    params = RebalanceParameters(**{"strategy": "undersample", "k_neighbors": 3, **overrides})
    exec_properties = {
        spec.LABEL_KEY: label_key,
        spec.FEATURE_KEYS: json.dumps(list(fx.NUMERIC_KEYS)),
        **params.to_exec_properties(),
    }
    output = fx.output_artifact(str(tmp_path / name))
    inputs = {spec.EXAMPLES_KEY: [examples]}
    if class_skew_counts is not None:
        report = ClassSkewReport()
        report.uri = fx.write_class_skew_report(str(tmp_path / f"{name}_class_skew"), class_skew_counts)
        inputs[spec.CLASS_SKEW_KEY] = [report]
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=list(beam_args), tmp_dir=str(tmp_path))
    executor.Executor(context).Do(inputs, {spec.REBALANCED_EXAMPLES_KEY: [output]}, exec_properties)
    return output


def split_files(uri, split):
    directory = os.path.join(uri, f"Split-{split}")
    return {name: open(os.path.join(directory, name), "rb").read() for name in sorted(os.listdir(directory))}


def assert_nothing_written(uri):
    assert os.listdir(uri) == [], f"a failed run left {os.listdir(uri)} in {uri}"


@pytest.fixture(scope="module")
def binary_examples(tmp_path_factory):
    root = tmp_path_factory.mktemp("binary")
    return fx.make_examples_artifact(
        str(root / "examples"),
        {"train": fx.make_rows({0: 240, 1: 15}), "eval": fx.make_rows({0: 60, 1: 6}, split="eval")},
    )


def test_undersample_writes_exact_counts_copies_other_splits_and_records_what_it_did(tmp_path, binary_examples):
    output = run(tmp_path, binary_examples, strategy="undersample", target_ratio=0.125)
    train = fx.read_split(output.uri, "train")
    assert fx.class_counts(train) == {"0": 120, "1": 15}
    assert set(train) <= set(fx.read_split(binary_examples.uri, "train"))
    # Splits not rebalanced: the same files, byte for byte.
    assert split_files(output.uri, "eval") == split_files(binary_examples.uri, "eval")
    assert all(name.startswith("data_tfrecord") and name.endswith(".gz") for name in split_files(output.uri, "train"))
    # Same split names, span, version; tf.Example payload.
    assert artifact_utils.decode_split_names(output.split_names) == ["train", "eval"]
    assert (output.span, output.version) == (3, 1)
    assert examples_utils.get_payload_format_string(output) == "FORMAT_TF_EXAMPLE"
    expected = {
        "train": {"before": {"0": 240, "1": 15}, "after": {"0": 120, "1": 15}},
        "eval": {"before": {"0": 60, "1": 6}, "after": {"0": 60, "1": 6}},
    }
    assert output.get_json_value_custom_property("class_counts") == expected
    assert output.get_string_custom_property("strategy") == "undersample"
    assert output.get_int_custom_property("seed") == 42
    summary = json.load(open(os.path.join(output.uri, executor.SUMMARY_FILE_NAME)))
    assert summary["splits"]["train"]["after"] == {"0": 120, "1": 15} and summary["counts_source"] == "counted"
    # Only Split-* directories and the summary; TFX readers look inside Split-* only.
    assert sorted(os.listdir(output.uri)) == ["Split-eval", "Split-train", executor.SUMMARY_FILE_NAME]
    for split in ("train", "eval"):
        (pattern,) = examples_utils.get_split_file_patterns([output], split)
        assert pattern.startswith(os.path.join(output.uri, f"Split-{split}"))


@pytest.mark.parametrize(
    "strategy, target_ratio, counts",
    [
        ("hybrid", 0.5, {"0": 84, "1": 42}),
        ("smote", 0.25, {"0": 240, "1": 60}),
        ("augment_noise", 0.25, {"0": 240, "1": 60}),
        ("mixup", 0.25, {"0": 240, "1": 60}),
    ],
)
def test_two_worker_processes_write_the_records_of_the_default_runner(
    tmp_path, binary_examples, strategy, target_ratio, counts
):
    default = run(tmp_path, binary_examples, name="default", strategy=strategy, target_ratio=target_ratio)
    # Class counts from a report: the multi-process run is the rebalancing job alone (worker start-up is slow).
    parallel = run(
        tmp_path,
        binary_examples,
        MULTI_PROCESS_ARGS,
        class_skew_counts=BINARY_COUNTS,
        name="parallel",
        strategy=strategy,
        target_ratio=target_ratio,
    )
    records = sorted(fx.read_split(default.uri, "train"))
    assert records == sorted(fx.read_split(parallel.uri, "train"))
    assert fx.class_counts(records) == counts


def test_seed_changes_the_sample_not_the_counts(tmp_path, binary_examples):
    first = fx.read_split(run(tmp_path, binary_examples, name="a", seed=1).uri, "train")
    again = fx.read_split(run(tmp_path, binary_examples, name="b", seed=1).uri, "train")
    other = fx.read_split(run(tmp_path, binary_examples, name="c", seed=2).uri, "train")
    assert sorted(first) == sorted(again) and sorted(first) != sorted(other)
    assert fx.class_counts(first) == fx.class_counts(other) == {"0": 150, "1": 15}


def test_class_skew_counts_replace_the_counting_pass(tmp_path, binary_examples):
    output = run(tmp_path, binary_examples, class_skew_counts=BINARY_COUNTS, strategy="oversample", target_ratio=0.25)
    assert fx.class_counts(fx.read_split(output.uri, "train")) == {"0": 240, "1": 60}
    summary = json.load(open(os.path.join(output.uri, executor.SUMMARY_FILE_NAME)))
    assert summary["counts_source"] == "class_skew"


@pytest.mark.parametrize("beam_args", [(), MULTI_PROCESS_ARGS], ids=["in_process", "two_workers"])
@pytest.mark.parametrize("strategy", ["undersample", "oversample"])
def test_class_skew_counts_that_do_not_match_the_examples_fail_and_write_nothing(
    tmp_path, binary_examples, beam_args, strategy
):
    # The check rests on the per-bundle counters; "oversample" counts the majority on its fast path.
    counts = {"train": {"0": 200, "1": 15}, "eval": {"0": 60, "1": 6}}
    with pytest.raises(RebalanceInputError, match=r"split 'train': the examples hold class counts \{'0': 240"):
        run(tmp_path, binary_examples, beam_args, class_skew_counts=counts, strategy=strategy, target_ratio=0.25)
    assert_nothing_written(tmp_path / "out")


def test_absent_label_is_named_with_the_features_found_and_nothing_is_written(tmp_path, binary_examples):
    with pytest.raises(RebalanceInputError, match=r"no label feature 'label'; features found: \['Class', 'f0'"):
        run(tmp_path, binary_examples, label_key="label")
    assert_nothing_written(tmp_path / "out")


def test_empty_split_is_refused(tmp_path):
    examples = fx.make_examples_artifact(
        str(tmp_path / "examples"), {"train": [], "eval": fx.make_rows({0: 5, 1: 5})}, shards=1
    )
    with pytest.raises(RebalanceInputError, match="split 'train' has no examples"):
        run(tmp_path, examples)
    assert_nothing_written(tmp_path / "out")


def test_single_class_split_is_skipped_unchanged_or_fails_as_configured(tmp_path):
    examples = fx.make_examples_artifact(
        str(tmp_path / "examples"), {"train": fx.make_rows({0: 30}), "eval": fx.make_rows({0: 5, 1: 5})}
    )
    with pytest.raises(RebalanceInputError, match=r"split 'train' has only one class \('0': 30 rows\)"):
        run(tmp_path, examples)
    assert_nothing_written(tmp_path / "out")
    output = run(tmp_path, examples, name="skipped", on_single_class="skip")
    assert split_files(output.uri, "train") == split_files(examples.uri, "train")
    assert output.get_json_value_custom_property("rebalanced_splits") == []


def test_multiclass_string_labels_reach_their_target_counts(tmp_path):
    rows = fx.make_rows({"cat": 90, "dog": 12, "eel": 30})
    examples = fx.make_examples_artifact(str(tmp_path / "examples"), {"train": rows, "eval": rows[:10]})
    output = run(tmp_path, examples, strategy="hybrid", target_counts={"cat": 40, "dog": 40})
    assert fx.class_counts(fx.read_split(output.uri, "train")) == {"cat": 40, "dog": 40, "eel": 30}
    with pytest.raises(RebalanceInputError, match=r"class\(es\) \['fox'\] with no rows"):
        run(tmp_path, examples, name="bad", strategy="hybrid", target_counts={"fox": 5})
    assert_nothing_written(tmp_path / "bad")


def test_target_beyond_the_maximum_oversampling_factor_is_refused(tmp_path, binary_examples):
    with pytest.raises(RebalanceInputError, match="max_oversampling_factor=2"):
        run(tmp_path, binary_examples, strategy="oversample", target_ratio=1.0, max_oversampling_factor=2.0)
    assert_nothing_written(tmp_path / "out")


def test_smote_with_too_few_minority_rows_for_k_is_refused(tmp_path, binary_examples):
    with pytest.raises(RebalanceInputError, match="k_neighbors=15 needs more than 15 rows of class '1'"):
        run(tmp_path, binary_examples, strategy="smote", target_ratio=0.5, k_neighbors=15)
    assert_nothing_written(tmp_path / "out")


def test_smote_on_nan_values_fails_in_the_job_and_writes_nothing(tmp_path):
    rows = fx.make_rows({0: 50, 1: 8})
    rows.append(fx.make_example({"f0": 1.0, "f1": float("nan"), "f2": 0.0, "row_id": "nan-row", "Class": 1}))
    examples = fx.make_examples_artifact(str(tmp_path / "examples"), {"train": rows, "eval": rows[:5]})
    with pytest.raises(RebalanceInputError, match=r"split 'train': feature 'f1' is nan \(not finite\)"):
        run(tmp_path, examples, strategy="smote", target_ratio=0.5)
    assert_nothing_written(tmp_path / "out")


def test_smote_on_a_string_feature_is_refused(tmp_path, binary_examples):
    with pytest.raises(RebalanceInputError, match=r"feature 'row_id' is bytes_list .* only numeric"):
        run(tmp_path, binary_examples, strategy="smote", target_ratio=0.5, smote_feature_keys=("f0", "row_id"))
    assert_nothing_written(tmp_path / "out")


@pytest.mark.parametrize("strategy", ["augment_noise", "mixup"])
def test_augmentation_keeps_every_original_once_and_adds_exactly_the_seeded_synthetic_rows(
    tmp_path, binary_examples, strategy
):
    output = run(tmp_path, binary_examples, name="a", strategy=strategy, target_ratio=0.25)
    train = fx.read_split(output.uri, "train")
    assert fx.class_counts(train) == {"0": 240, "1": 60}
    originals = fx.read_split(binary_examples.uri, "train")
    synthetic = collections.Counter(train)
    synthetic.subtract(originals)
    assert min(synthetic.values()) == 0, "every original record is written, unchanged"
    assert not set(synthetic.elements()) & set(originals), "and only once"
    assert fx.class_counts(synthetic.elements()) == {"1": 45}
    assert any(name.startswith(f"data_tfrecord_{strategy}-") for name in split_files(output.uri, "train"))
    assert split_files(output.uri, "eval") == split_files(binary_examples.uri, "eval")
    summary = json.load(open(os.path.join(output.uri, executor.SUMMARY_FILE_NAME)))
    assert summary["strategy"] == strategy and summary["splits"]["train"]["actions"] == {"0": "keep", "1": "synthesize"}
    again = fx.read_split(run(tmp_path, binary_examples, name="b", strategy=strategy, target_ratio=0.25).uri, "train")
    other = run(tmp_path, binary_examples, name="c", strategy=strategy, target_ratio=0.25, seed=7)
    assert sorted(train) == sorted(again) and sorted(train) != sorted(fx.read_split(other.uri, "train"))


@pytest.mark.parametrize(
    "strategy, match",
    [
        ("augment_noise", r"feature 'row_id' is bytes_list in a '1' example; augment_noise perturbs only numeric"),
        ("mixup", r"feature 'row_id' is bytes_list in a '1' example; mixup mixes only numeric"),
    ],
)
def test_augmentation_of_a_text_feature_fails_in_the_job_and_writes_nothing(tmp_path, binary_examples, strategy, match):
    with pytest.raises(RebalanceInputError, match=match):
        run(tmp_path, binary_examples, strategy=strategy, target_ratio=0.5, smote_feature_keys=("f0", "row_id"))
    assert_nothing_written(tmp_path / "out")


@pytest.mark.parametrize("strategy", ["augment_noise", "mixup"])
def test_augmentation_of_a_single_minority_row_is_refused_before_the_job(tmp_path, strategy):
    rows = fx.make_rows({0: 50, 1: 1})
    examples = fx.make_examples_artifact(str(tmp_path / "examples"), {"train": rows, "eval": rows[:5]}, shards=1)
    with pytest.raises(RebalanceInputError, match=f"{strategy} needs at least 2 rows of class '1', which has 1"):
        run(tmp_path, examples, strategy=strategy, target_ratio=0.5)
    assert_nothing_written(tmp_path / "out")


def test_split_to_rebalance_must_exist(tmp_path, binary_examples):
    with pytest.raises(RebalanceInputError, match=r"splits \['training'\] to rebalance are not in the examples"):
        run(tmp_path, binary_examples, splits=("training",))
    assert_nothing_written(tmp_path / "out")
