"""The pure Beam transforms: exact hash cuts, copies, ties, the Bernoulli path and class counting."""

from __future__ import annotations

import collections
import json
import random

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from components.rebalance import sampling
from components.rebalance.plan import ClassRule, CutLimits, RebalanceParameters, SplitPlan, plan_split
from components.rebalance.tests import fixtures as fx

SINGLE_PASS = CutLimits()
TWO_PASS = CutLimits(single_pass_max_rows=0)


def run_apply(records, plan: SplitPlan, seed: int, tmp_path, limits=SINGLE_PASS):
    """Runs ApplyPlan on `records` in a real Beam pipeline; returns the written records."""
    prefix = str(tmp_path / "Split-out" / "part")
    with beam.Pipeline() as pipeline:
        inputs = {
            "records": pipeline | "Records" >> beam.Create(records),
            "cut_records": pipeline | "CutRecords" >> beam.Create(records),
        }
        applied = inputs | sampling.ApplyPlan(plan, fx.LABEL_KEY, seed, limits)
        _ = applied["records"] | "Write" >> beam.io.WriteToTFRecord(prefix, file_name_suffix=".gz")
        _ = applied[sampling.EXTRA_RECORDS] | "WriteExtra" >> beam.io.WriteToTFRecord(
            prefix + "-extra", file_name_suffix=".gz"
        )
    return fx.read_split(str(tmp_path), "out")


def test_record_hash_is_a_function_of_seed_record_and_salt():
    key = sampling.seed_key(42)
    assert sampling.record_hash(key, b"abc") == sampling.record_hash(sampling.seed_key(42), b"abc")
    assert sampling.record_hash(key, b"abc") != sampling.record_hash(sampling.seed_key(43), b"abc")
    assert sampling.record_hash(key, b"abc") != sampling.record_hash(key, b"abc", b"\x01")
    assert 0 <= sampling.record_hash(key, b"abc") < sampling.HASH_RANGE


@pytest.mark.parametrize("limits", [SINGLE_PASS, TWO_PASS], ids=["single_pass", "two_pass"])
def test_undersample_is_exact_keeps_minority_and_depends_only_on_the_seed(tmp_path, limits):
    records = fx.make_rows({0: 300, 1: 17})
    plan = plan_split("train", {"0": 300, "1": 17}, RebalanceParameters(target_ratio=0.1))
    first = run_apply(records, plan, 7, tmp_path, limits)
    again = run_apply(list(reversed(records)), plan, 7, tmp_path / "again", limits)
    other = run_apply(records, plan, 8, tmp_path / "other", limits)
    assert fx.class_counts(first) == {"0": 170, "1": 17}
    minority = {r for r in records if fx.class_counts([r]) == {"1": 1}}
    assert minority <= set(first)
    assert sorted(first) == sorted(again)  # input order does not matter
    assert sorted(first) != sorted(other) and fx.class_counts(other) == {"0": 170, "1": 17}
    # The kept majority records are exactly the 170 with the smallest hashes.
    key = sampling.seed_key(7)
    majority = sorted((r for r in records if r not in minority), key=lambda r: sampling.record_hash(key, r))
    assert set(first) - minority == set(majority[:170])


def test_oversample_copies_every_record_floor_or_ceil_times(tmp_path):
    records = fx.make_rows({0: 200, 1: 7})
    plan = SplitPlan("train", {"0": ClassRule(200, 200), "1": ClassRule(7, 45)}, "test")
    written = collections.Counter(run_apply(records, plan, 1, tmp_path))
    assert fx.class_counts(written.elements()) == {"0": 200, "1": 45}
    minority_copies = sorted(n for r, n in written.items() if fx.class_counts([r]) == {"1": 1})
    assert minority_copies == [6, 6, 6, 6, 7, 7, 7]
    assert set(written) == set(records)


@pytest.mark.parametrize("limits", [SINGLE_PASS, TWO_PASS], ids=["single_pass", "two_pass"])
def test_identical_records_at_the_cut_keep_counts_exact(tmp_path, limits):
    distinct = fx.make_rows({0: 30})
    records = [r for r in distinct for _ in range(7)] + fx.make_rows({1: 11})
    plan = plan_split("train", {"0": 210, "1": 11}, RebalanceParameters(target_ratio=0.1))
    assert plan.counts_after == {"0": 110, "1": 11}
    written = collections.Counter(run_apply(records, plan, 3, tmp_path, limits))
    assert fx.class_counts(written.elements()) == {"0": 110, "1": 11}
    group_sizes = sorted(n for r, n in written.items() if r in distinct)
    # 110 = 15 whole groups of 7 + 5 of the group whose hash is the cut.
    assert group_sizes == [5] + [7] * 15


def test_bernoulli_cut_beyond_the_exact_limit_is_close(tmp_path):
    records = fx.make_rows({0: 3000, 1: 100})
    plan = plan_split("train", {"0": 3000, "1": 100}, RebalanceParameters(target_ratio=0.1))
    written = run_apply(records, plan, 5, tmp_path, CutLimits(single_pass_max_rows=0, exact_cut_max_rows=10))
    counts = fx.class_counts(written)
    # Binomial(3000, 1/3): sd = 25.8; the limit in production (1e6 rows) puts 1% at 10 sd.
    assert counts["1"] == 100 and abs(counts["0"] - 1000) <= 4 * 25.8
    assert written == list(dict.fromkeys(written))  # no record twice


def test_count_classes_reports_missing_labels_with_the_features_found():
    good = fx.make_rows({0: 3, 1: 2})
    unlabeled = fx.make_example({"f0": 1.0, "row_id": "x"})
    with beam.Pipeline() as pipeline:
        counts = pipeline | beam.Create([*good, unlabeled, unlabeled]) | sampling.CountClasses(fx.LABEL_KEY)
        missing_key = sampling.PROBLEM_PREFIX + "missing:" + json.dumps(["f0", "row_id"])
        assert_that(counts, equal_to([("0", 3), ("1", 2), (missing_key, 2)]))
    message = sampling.describe_problem("train", "Class", missing_key, 2)
    assert "no label feature 'Class'" in message and "['f0', 'row_id']" in message and "split 'train'" in message


def test_string_labels_are_classes_as_they_are():
    records = [fx.make_example({"Class": "fraud", "f0": 1.0}), fx.make_example({"Class": "ok", "f0": 2.0})]
    assert [sampling.class_key(r, "Class") for r in records] == ["fraud", "ok"]
    assert sampling.class_key(b"\xff\xff not a proto", "Class").startswith(sampling.PROBLEM_PREFIX)


def test_fast_label_reader_agrees_with_a_full_parse_on_varied_records():
    rng = random.Random(0)
    for _ in range(2000):
        values = {f"k{j}" * rng.randint(1, 40): rng.random() for j in range(rng.randint(0, 12))}
        choice = rng.randint(0, 5)
        if choice == 0:
            values["Class"] = rng.randint(-5, 300)
        elif choice == 1:
            values["Class"] = "lab" * rng.randint(1, 60)
        elif choice == 2:
            values["Class"] = [1, 2]
        elif choice == 3:
            values["Class"] = 3.0
        elif choice == 4:
            values["decoy"] = "\n\x05Class\x12\x03\x1a\x01\x08"  # the label entry's bytes inside a value
        record = fx.make_example(values)
        full = sampling.class_name_of(sampling.parse_example(record), "Class")
        assert sampling.class_key(record, "Class") == full, values


def test_single_pass_and_two_pass_cuts_select_the_same_records(tmp_path):
    records = fx.make_rows({0: 400, 1: 23})
    plan = plan_split("train", {"0": 400, "1": 23}, RebalanceParameters(strategy="hybrid", target_ratio=0.5))
    assert plan.rules["0"].extra and plan.rules["1"].extra  # both classes are cut
    single = run_apply(records, plan, 9, tmp_path / "single", SINGLE_PASS)
    double = run_apply(records, plan, 9, tmp_path / "double", TWO_PASS)
    assert sorted(single) == sorted(double)
    assert fx.class_counts(single) == plan.counts_after


def test_a_single_pass_cut_with_too_few_candidates_reports_a_shortfall():
    with beam.Pipeline() as pipeline:
        selected = (
            pipeline
            | beam.Create([("0", [(5, b"a"), (3, b"b")])])
            | beam.ParDo(sampling._SelectSmallest("train", {"0": 3})).with_outputs(
                sampling.PROBLEMS_TAG, main="records"
            )
        )
        assert_that(selected["records"], equal_to([]), label="NoRecords")
        assert_that(
            selected[sampling.PROBLEMS_TAG], equal_to([(sampling.SHORTFALL_PREFIX + "0", 1)]), label="Shortfall"
        )
    message = sampling.describe_problem("train", "Class", sampling.SHORTFALL_PREFIX + "0", 1)
    assert sampling.SHORTFALL_MESSAGE in message


def test_candidate_threshold_lets_through_a_margin_over_the_needed_records():
    threshold = sampling.candidate_threshold(10_000, 1_000_000)
    expected = threshold / sampling.HASH_RANGE * 1_000_000
    assert expected == pytest.approx(10_000 + 8 * 100 + 8, rel=1e-9)
    assert sampling.candidate_threshold(900, 1000) == sampling.HASH_RANGE
