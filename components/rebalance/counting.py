"""Counting in Rebalance: the classes of a split (a Beam pass), and the per-class Beam counters of the job.

`CountClasses` is the counting pass the executor runs when no ClassSkew report gives the counts.
The writing job counts the records of each class going in and out with Beam counters
(`CountingDoFn`); `check_counts` compares them with the plan after the job, so a report whose
counts do not match the examples, or a runner that drops or repeats records, fails the run.
"""

from __future__ import annotations

from typing import Dict, Iterable, Mapping, Tuple

import apache_beam as beam
from absl import logging
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

from components.rebalance.errors import RebalanceInputError, RebalanceInternalError
from components.rebalance.plan import SplitPlan
from components.rebalance.problems import PROBLEMS_TAG, Problem, SumProblems
from components.rebalance.record_keys import ClassKeyReader

METRICS_NAMESPACE = "rebalance"
COUNTS_TAG = "counts"

# {(split, direction, class): count}; direction is "in", "out" or "unexpected".
Counters = Dict[Tuple[str, str, str], int]


def counter_name(split: str, direction: str, name: str) -> str:
    return f"{split}|{direction}|{name}"


class CountedOutput:
    """Beam counters per (split, direction, class), summed in a dict and added once per bundle.

    A Beam counter update per record would cost a noticeable part of Rebalance's time
    (benchmarks/RESULTS.md). The owning DoFn calls `flush` in finish_bundle, so the counters are
    exact when the bundle commits.
    """

    def __init__(self, split: str):
        self._split = split
        self._pending: Dict[Tuple[str, str], int] = {}

    def inc(self, direction: str, name: str, amount: int = 1) -> None:
        if amount:
            key = (direction, name)
            self._pending[key] = self._pending.get(key, 0) + amount

    def pending(self, direction: str, name: str) -> int:
        return self._pending.get((direction, name), 0)

    def flush(self) -> None:
        for (direction, name), amount in self._pending.items():
            Metrics.counter(METRICS_NAMESPACE, counter_name(self._split, direction, name)).inc(amount)
        self._pending.clear()


class CountingDoFn(beam.DoFn):
    """A DoFn whose `_counts` are added to the Beam counters at the end of each bundle."""

    _counts: CountedOutput  # set up in start_bundle

    def __init__(self, split: str):
        self._split = split

    def start_bundle(self):
        self._counts = CountedOutput(self._split)

    def finish_bundle(self):
        self._counts.flush()


class _ClassOrProblem(beam.DoFn):
    """The class name of each record; records without one go to the problems output."""

    def __init__(self, label_key: str, split: str):
        self._class_of = ClassKeyReader(label_key)
        self._split = split

    def process(self, record: bytes):
        name = self._class_of(record)
        if isinstance(name, str):
            return (name,)
        return (pvalue.TaggedOutput(PROBLEMS_TAG, Problem.of_record(name, self._split)),)


class CountClasses(beam.PTransform):
    """Serialized examples of one split -> {"counts": (class, count), "problems": Problem per kind}."""

    def __init__(self, label_key: str, split: str):
        super().__init__()
        self._label_key = label_key
        self._split = split

    def expand(self, records):
        classes = records | "ClassKey" >> beam.ParDo(_ClassOrProblem(self._label_key, self._split)).with_outputs(
            PROBLEMS_TAG, main=COUNTS_TAG
        )
        return {
            COUNTS_TAG: classes[COUNTS_TAG] | "CountPerClass" >> beam.combiners.Count.PerElement(),
            PROBLEMS_TAG: classes[PROBLEMS_TAG] | "SumProblems" >> SumProblems(),
        }


def read_counters(result: beam.runners.runner.PipelineResult) -> Counters:
    """The job's Rebalance counters, committed values where the runner reports them."""
    seen: Counters = {}
    for counter in result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        split, direction, name = counter.key.metric.name.split("|", 2)
        seen[(split, direction, name)] = seen.get((split, direction, name), 0) + int(value or 0)
    return seen


def check_counts(seen: Counters, plans: Iterable[SplitPlan]) -> None:
    """The job's per-class counters must equal the plan: in = counts before, out = counts after."""
    if not seen:
        logging.warning("Rebalance: the runner reports no counters; output counts not verified")
        return
    for plan in plans:
        got_in = _of(seen, plan.split, "in")
        got_out = _of(seen, plan.split, "out")
        if got_in != plan.counts_before:
            raise RebalanceInputError(
                f"split {plan.split!r}: the examples hold class counts {dict(sorted(got_in.items()))} but the "
                f"plan used {plan.counts_before} (from the class_skew report?); re-run ClassSkew on these examples"
            )
        if got_out != plan.counts_after:
            raise RebalanceInternalError(
                f"split {plan.split!r}: wrote {dict(sorted(got_out.items()))}, planned {plan.counts_after}"
            )
        logging.info("Rebalance: split %r verified: %s -> %s", plan.split, got_in, got_out)


def _of(seen: Mapping[Tuple[str, str, str], int], split: str, direction: str) -> Dict[str, int]:
    return {n: c for (s, d, n), c in seen.items() if s == split and d == direction and c}
