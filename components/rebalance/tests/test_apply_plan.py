"""Applying a plan in Beam: exact hash cuts, copies, ties, the Bernoulli path, and problems as typed values."""

from __future__ import annotations

import collections

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from components.rebalance import apply_plan, record_keys
from components.rebalance.plan import ClassRule, CutLimits, SplitPlan, plan_split
from components.rebalance.problems import (
    MISSING_LABEL,
    PROBLEMS_TAG,
    SHORTFALL,
    SHORTFALL_MESSAGE,
    UNEXPECTED_CLASS,
    Problem,
)
from components.rebalance.spec import RebalanceParameters
from components.rebalance.tests import fixtures as fx

SINGLE_PASS = CutLimits()
TWO_PASS = CutLimits(single_pass_max_rows=0)


def plan_of(counts, **overrides) -> SplitPlan:
    """The plan of a train split; undersample unless told otherwise."""
    return plan_split("train", counts, RebalanceParameters(**{"strategy": "undersample", **overrides}), fx.LABEL_KEY)


def run_apply(records, plan: SplitPlan, seed: int, tmp_path, limits=SINGLE_PASS):
    """Runs ApplyPlan on `records` in a real Beam pipeline; returns the written records."""
    prefix = str(tmp_path / "Split-out" / "part")
    with beam.Pipeline() as pipeline:
        inputs = {
            "records": pipeline | "Records" >> beam.Create(records),
            "cut_records": pipeline | "CutRecords" >> beam.Create(records),
        }
        applied = inputs | apply_plan.ApplyPlan(plan, fx.LABEL_KEY, seed, limits)
        _ = applied["records"] | "Write" >> beam.io.WriteToTFRecord(prefix, file_name_suffix=".gz")
        _ = applied[apply_plan.EXTRA_RECORDS] | "WriteExtra" >> beam.io.WriteToTFRecord(
            prefix + "-extra", file_name_suffix=".gz"
        )
    return fx.read_split(str(tmp_path), "out")


@pytest.mark.parametrize("limits", [SINGLE_PASS, TWO_PASS], ids=["single_pass", "two_pass"])
def test_undersample_is_exact_keeps_minority_and_depends_only_on_the_seed(tmp_path, limits):
    records = fx.make_rows({0: 300, 1: 17})
    plan = plan_of({"0": 300, "1": 17}, target_ratio=0.1)
    first = run_apply(records, plan, 7, tmp_path, limits)
    again = run_apply(list(reversed(records)), plan, 7, tmp_path / "again", limits)
    other = run_apply(records, plan, 8, tmp_path / "other", limits)
    assert fx.class_counts(first) == {"0": 170, "1": 17}
    minority = {r for r in records if fx.class_counts([r]) == {"1": 1}}
    assert minority <= set(first)
    assert sorted(first) == sorted(again)  # input order does not matter
    assert sorted(first) != sorted(other) and fx.class_counts(other) == {"0": 170, "1": 17}
    # The kept majority records are exactly the 170 with the smallest hashes.
    key = record_keys.seed_key(7)
    majority = sorted((r for r in records if r not in minority), key=lambda r: record_keys.record_hash(key, r))
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
    plan = plan_of({"0": 210, "1": 11}, target_ratio=0.1)
    assert plan.counts_after == {"0": 110, "1": 11}
    written = collections.Counter(run_apply(records, plan, 3, tmp_path, limits))
    assert fx.class_counts(written.elements()) == {"0": 110, "1": 11}
    group_sizes = sorted(n for r, n in written.items() if r in distinct)
    # 110 = 15 whole groups of 7 + 5 of the group whose hash is the cut.
    assert group_sizes == [5] + [7] * 15


def test_bernoulli_cut_beyond_the_exact_limit_is_close(tmp_path):
    records = fx.make_rows({0: 3000, 1: 100})
    plan = plan_of({"0": 3000, "1": 100}, target_ratio=0.1)
    written = run_apply(records, plan, 5, tmp_path, CutLimits(single_pass_max_rows=0, exact_cut_max_rows=10))
    counts = fx.class_counts(written)
    # Binomial(3000, 1/3): sd = 25.8; the limit in production (1e6 rows) puts 1% at 10 sd.
    assert counts["1"] == 100 and abs(counts["0"] - 1000) <= 4 * 25.8
    assert written == list(dict.fromkeys(written))  # no record twice


def test_single_pass_and_two_pass_cuts_select_the_same_records(tmp_path):
    records = fx.make_rows({0: 400, 1: 23})
    plan = plan_of({"0": 400, "1": 23}, strategy="hybrid", target_ratio=0.5)
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
            | beam.ParDo(apply_plan._SelectSmallest("train", {"0": 3})).with_outputs(PROBLEMS_TAG, main="records")
        )
        assert_that(selected["records"], equal_to([]), label="NoRecords")
        assert_that(selected[PROBLEMS_TAG], equal_to([Problem(SHORTFALL, "train", 1, "0")]), label="Shortfall")
    assert SHORTFALL_MESSAGE in Problem(SHORTFALL, "train", 1, "0").describe("Class")


def test_candidate_threshold_lets_through_a_margin_over_the_needed_records():
    threshold = apply_plan.candidate_threshold(10_000, 1_000_000)
    expected = threshold / record_keys.HASH_RANGE * 1_000_000
    assert expected == pytest.approx(10_000 + 8 * 100 + 8, rel=1e-9)
    assert apply_plan.candidate_threshold(900, 1000) == record_keys.HASH_RANGE


def test_records_the_plan_has_no_rule_for_are_typed_problems_not_output():
    records = fx.make_rows({0: 6, 1: 3}) + fx.make_rows({2: 2}) + [fx.make_example({"f0": 1.0, "row_id": "x"})]
    plan = SplitPlan("train", {"0": ClassRule(6, 6), "1": ClassRule(3, 5)}, "test")
    with beam.Pipeline() as pipeline:
        inputs = {"records": pipeline | beam.Create(records)}
        applied = inputs | apply_plan.ApplyPlan(plan, fx.LABEL_KEY, 1)
        assert_that(
            applied[PROBLEMS_TAG],
            equal_to(
                [Problem(UNEXPECTED_CLASS, "train", 1, "2")] * 2
                + [Problem(MISSING_LABEL, "train", 1, "['f0', 'row_id']")]
            ),
        )
        written = applied["records"] | beam.combiners.Count.Globally()
        assert_that(written, equal_to([6 + 3]), label="Written")  # class 1's two extra copies are in extra_records
    message = Problem(UNEXPECTED_CLASS, "train", 2, "2").describe("Class")
    assert message == "split 'train': 2 example(s) of class '2', which the class counts do not list"
