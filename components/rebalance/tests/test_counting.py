"""Counting classes in Beam (problems on their own typed output) and checking the job's counters against the plan."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from components.rebalance import counting
from components.rebalance.errors import RebalanceInputError, RebalanceInternalError
from components.rebalance.plan import ClassRule, SplitPlan
from components.rebalance.problems import MISSING_LABEL, PROBLEMS_TAG, Problem
from components.rebalance.tests import fixtures as fx


def test_count_classes_reports_missing_labels_with_the_features_found():
    good = fx.make_rows({0: 3, 1: 2})
    unlabeled = fx.make_example({"f0": 1.0, "row_id": "x"})
    missing = Problem(MISSING_LABEL, "train", 2, "['f0', 'row_id']")
    with beam.Pipeline() as pipeline:
        counted = pipeline | beam.Create([*good, unlabeled, unlabeled]) | counting.CountClasses(fx.LABEL_KEY, "train")
        assert_that(counted[counting.COUNTS_TAG], equal_to([("0", 3), ("1", 2)]), label="Counts")
        assert_that(counted[PROBLEMS_TAG], equal_to([missing]), label="Problems")
    message = missing.describe("Class")
    assert "no label feature 'Class'" in message and "['f0', 'row_id']" in message and "split 'train'" in message


def test_problems_travel_as_json_unchanged():
    problem = Problem(MISSING_LABEL, "train", 2, "['f0', 'row_id']")
    assert Problem.from_json(problem.to_json()) == problem


PLAN = SplitPlan("train", {"0": ClassRule(10, 4), "1": ClassRule(2, 2)}, "test")


def test_counters_equal_to_the_plan_pass():
    counting.check_counts(
        {("train", "in", "0"): 10, ("train", "in", "1"): 2, ("train", "out", "0"): 4, ("train", "out", "1"): 2}, [PLAN]
    )


def test_counts_in_other_than_planned_blame_the_class_counts():
    seen = {("train", "in", "0"): 12, ("train", "in", "1"): 2, ("train", "out", "0"): 4, ("train", "out", "1"): 2}
    with pytest.raises(RebalanceInputError, match=r"the examples hold class counts \{'0': 12, '1': 2\}"):
        counting.check_counts(seen, [PLAN])


def test_counts_out_other_than_planned_are_an_internal_error():
    seen = {("train", "in", "0"): 10, ("train", "in", "1"): 2, ("train", "out", "0"): 5, ("train", "out", "1"): 2}
    with pytest.raises(RebalanceInternalError, match=r"wrote \{'0': 5, '1': 2\}, planned \{'0': 4, '1': 2\}"):
        counting.check_counts(seen, [PLAN])
