"""Applying a split's plan to its records in Beam: exact hash cuts, copies, ties and synthesis bases.

Each class is written by one rule (see `plan`): every record `copies` times, plus once more for the
`extra` records with the smallest hashes (`record_keys.record_hash`). Those are found in the
writing pass itself (single-pass cut: records below an inflated hash threshold are gathered and the
`extra` smallest kept), or with a first pass that keeps only the smallest hashes (two-pass cut), or
by a Bernoulli threshold for huge counts; `plan.SINGLE_PASS_MAX_ROWS` says which and why. Both
exact cuts choose the same records.

Identical records get identical hashes. They are kept or dropped together unless the cut falls
inside such a group; then exactly as many as needed are kept (single pass: ordered by (hash,
bytes); two passes: the records whose hash equals the cut are gathered by class), so the counts
stay exact.

Memory: the cuts keep at most ~1.1 x SINGLE_PASS_MAX_ROWS records or EXACT_CUT_MAX_ROWS hashes per
class; all other records stream from read to write and are never gathered (no Flatten touches
them: the portable runners materialize a Flatten's inputs).
"""

from __future__ import annotations

import heapq
import math
from typing import Dict, Iterable, Iterator, List, Mapping, Tuple, cast

import apache_beam as beam
from apache_beam import pvalue

from components.rebalance.counting import CountingDoFn
from components.rebalance.plan import (
    CUT_BERNOULLI,
    CUT_SINGLE_PASS,
    CUT_TWO_PASS,
    DEFAULT_CUT_LIMITS,
    ClassRule,
    CutLimits,
    SplitPlan,
)
from components.rebalance.problems import PROBLEMS_TAG, SHORTFALL, UNEXPECTED_CLASS, Problem
from components.rebalance.record_keys import HASH_RANGE, ClassKey, ClassKeyReader, record_hash, seed_key

TIES_TAG = "ties"
CANDIDATES_TAG = "candidates"
EXTRA_RECORDS = "extra_records"
SMOTE_TAG = "smote_bases"


class SmallestHashesFn(beam.CombineFn):
    """Per class, the `k[class]` smallest hash values; memory O(sum of k) per accumulator."""

    def __init__(self, limits: Mapping[str, int]):
        super().__init__()
        self._limits = dict(limits)

    def create_accumulator(self) -> Dict[str, List[int]]:
        # Max-heaps (negated values) of the smallest hashes seen so far.
        return {name: [] for name in self._limits}

    def add_input(self, accumulator, element: Tuple[str, int]):
        name, value = element
        heap = accumulator[name]
        if len(heap) < self._limits[name]:
            heapq.heappush(heap, -value)
        elif -heap[0] > value:
            heapq.heapreplace(heap, -value)
        return accumulator

    def merge_accumulators(self, accumulators):
        merged = self.create_accumulator()
        for accumulator in accumulators:
            for name, heap in accumulator.items():
                for negated in heap:
                    self.add_input(merged, (name, -negated))
        return merged

    def extract_output(self, accumulator) -> Dict[str, Tuple[int, int, int]]:
        """{class: (cut, ties kept at the cut, values kept)}; the cut is the largest kept hash."""
        cuts = {}
        for name, heap in accumulator.items():
            if not heap:
                continue
            values = sorted(-negated for negated in heap)
            cut = values[-1]
            cuts[name] = (cut, values.count(cut), len(values))
        return cuts


class _ClassAndHash(beam.DoFn):
    """(class, hash) of the records of classes that need an exact cut; nothing for other classes."""

    def __init__(self, label_key: str, key: bytes, classes: Iterable[str]):
        self._class_of = ClassKeyReader(label_key)
        self._key = key
        self._classes = frozenset(classes)

    def process(self, record: bytes) -> Iterator[Tuple[ClassKey, int]]:
        name = self._class_of(record)
        if name in self._classes:
            yield name, record_hash(self._key, record)


class _ApplyRulesBase(CountingDoFn):
    """Writes each record `copies (+1 if its hash is below the cut)` times; routes ties and synthesis bases.

    `_ApplyRules` has no side input (no class needs a two-pass cut), so Beam can call it through its
    fast path; `_ApplyRulesWithCuts` takes the cuts of the first pass.
    """

    def __init__(
        self,
        split: str,
        label_key: str,
        key: bytes,
        rules: Mapping[str, ClassRule],
        smote_classes: Iterable[str],
        limits: CutLimits,
    ):
        super().__init__(split)
        self._class_of = ClassKeyReader(label_key)
        self._key = key
        self._rules: Dict[str, ClassRule] = dict(rules)
        self._smote_classes = frozenset(smote_classes)
        modes = {name: rule.cut_mode(limits) for name, rule in self._rules.items()}
        # Bernoulli: P(hash < threshold) = extra / count_before.
        self._bernoulli = {
            name: (rule.extra * HASH_RANGE) // rule.count_before
            for name, rule in self._rules.items()
            if modes[name] == CUT_BERNOULLI
        }
        self._candidate_thresholds = {
            name: candidate_threshold(rule.extra, rule.count_before)
            for name, rule in self._rules.items()
            if modes[name] == CUT_SINGLE_PASS
        }

        # Classes whose records are all written the same number of times and go nowhere else: the
        # common case (the majority class when oversampling, every class of a copied split).
        self._plain_copies: Dict[ClassKey, int] = {
            name: rule.copies
            for name, rule in self._rules.items()
            if not rule.extra and name not in self._smote_classes
        }

    def finish_bundle(self):
        for name, copies in self._plain_copies.items():
            self._counts.inc("out", name, self._counts.pending("in", name) * copies)
        super().finish_bundle()

    def _apply(self, record: bytes, cuts: Mapping[str, Tuple[int, int, int]]):
        name = self._class_of(record)
        copies = self._plain_copies.get(name)
        if copies is not None:
            self._counts.inc("in", cast(str, name))  # a class with a rule; "out" is added in finish_bundle
            return (record,) * copies
        return self._apply_rule(record, name, cuts)

    def _apply_rule(self, record: bytes, name: ClassKey, cuts: Mapping[str, Tuple[int, int, int]]):
        if not isinstance(name, str):  # no usable label
            self._counts.inc("unexpected", name.kind)
            yield pvalue.TaggedOutput(PROBLEMS_TAG, Problem.of_record(name, self._split))
            return
        rule = self._rules.get(name)
        if rule is None:
            self._counts.inc("unexpected", name)
            yield pvalue.TaggedOutput(PROBLEMS_TAG, Problem(UNEXPECTED_CLASS, self._split, 1, name))
            return
        self._counts.inc("in", name)
        copies = rule.copies
        if rule.extra:
            value = record_hash(self._key, record)
            candidate_threshold = self._candidate_thresholds.get(name)
            bernoulli_threshold = self._bernoulli.get(name)
            if candidate_threshold is not None:
                if value < candidate_threshold:
                    yield pvalue.TaggedOutput(CANDIDATES_TAG, (name, (value, record)))
            elif bernoulli_threshold is not None:
                copies += value < bernoulli_threshold
            else:
                cut = cuts[name][0]
                if value < cut:
                    copies += 1
                elif value == cut:
                    yield pvalue.TaggedOutput(TIES_TAG, (name, record))
        if name in self._smote_classes:
            yield pvalue.TaggedOutput(SMOTE_TAG, (name, record))
        self._counts.inc("out", name, copies)
        for _ in range(copies):
            yield record


class _ApplyRules(_ApplyRulesBase):
    """`_ApplyRulesBase` without side input."""

    def process(self, record: bytes):
        return self._apply(record, {})


class _ApplyRulesWithCuts(_ApplyRulesBase):
    """`_ApplyRulesBase` with the two-pass cuts as a side input."""

    def process(self, record: bytes, cuts: Mapping[str, Tuple[int, int, int]]):
        return self._apply(record, cuts)


class _ResolveTies(CountingDoFn):
    """Of the records whose hash equals the cut, writes exactly as many as the cut kept (sorted by bytes)."""

    def process(self, element, cuts):
        name, records = element
        kept = cuts[name][1]
        chosen = sorted(records)[:kept]
        self._counts.inc("out", name, len(chosen))
        yield from chosen


def candidate_threshold(extra: int, count: int) -> int:
    """Hash threshold that lets through extra + 8 sqrt(extra) + 8 records of `count` on average."""
    expected = extra + 8.0 * math.sqrt(extra) + 8.0
    return HASH_RANGE if expected >= count else int(expected / count * HASH_RANGE)


class _SelectSmallest(CountingDoFn):
    """Of a class's candidates, writes the `extra` with the smallest (hash, bytes); flags a shortfall."""

    def __init__(self, split: str, extras: Mapping[str, int]):
        super().__init__(split)
        self._extras = dict(extras)

    def process(self, element):
        name, candidates = element
        wanted = self._extras[name]
        chosen = heapq.nsmallest(wanted, candidates)
        if len(chosen) < wanted:
            yield pvalue.TaggedOutput(PROBLEMS_TAG, Problem(SHORTFALL, self._split, wanted - len(chosen), name))
            return
        self._counts.inc("out", name, len(chosen))
        for _, record in chosen:
            yield record


class ApplyPlan(beam.PTransform):
    """Serialized examples of one split -> rebalanced records, tagged synthesis bases and problems.

    Input: a dict with `records` and, when a class needs an exact cut, `cut_records`: the same
    examples read a second time. The cut needs a full pass before the first record is written, and
    reading twice keeps the runner from buffering the whole split between the two stages.
    Returns a dict: `records` and `extra_records` (serialized examples to write; the second holds
    the records chosen by single-pass cuts and among hash ties at two-pass cuts), `smote_bases`
    ((class, record) of the classes SMOTE, augment_noise or mixup grow) and `problems` (a `Problem`
    per record the plan has no rule for, and per single-pass cut that came up short).
    """

    def __init__(self, plan: SplitPlan, label_key: str, seed: int, limits: CutLimits = DEFAULT_CUT_LIMITS):
        super().__init__()
        self._plan = plan
        self._label_key = label_key
        self._key = seed_key(seed)
        self._limits = limits

    def expand(self, inputs):
        records = inputs["records"]
        cut_records = inputs.get("cut_records")
        plan = self._plan
        limits = self._limits
        exact = {name: rule.extra for name, rule in plan.rules.items() if rule.cut_mode(limits) == CUT_TWO_PASS}
        single_pass = {
            name: rule.extra for name, rule in plan.rules.items() if rule.cut_mode(limits) == CUT_SINGLE_PASS
        }
        rules_args = (plan.split, self._label_key, self._key, plan.rules, plan.smote_classes, limits)
        if exact:
            if cut_records is None:
                raise ValueError(f"split {plan.split!r} needs an exact cut: pass the split again as 'cut_records'")
            cuts = (
                cut_records
                | "ClassAndHash" >> beam.ParDo(_ClassAndHash(self._label_key, self._key, exact))
                | "SmallestHashes" >> beam.CombineGlobally(SmallestHashesFn(exact))
            )
            cuts_side = beam.pvalue.AsSingleton(cuts)
            apply_rules = beam.ParDo(_ApplyRulesWithCuts(*rules_args), cuts_side)
        else:
            # No side input on the per-record step: Beam then skips its per-window argument handling.
            apply_rules = beam.ParDo(_ApplyRules(*rules_args))
        applied = records | "ApplyRules" >> apply_rules.with_outputs(
            TIES_TAG, CANDIDATES_TAG, SMOTE_TAG, PROBLEMS_TAG, main="records"
        )
        # Stages only for the cut modes the plan uses: each stage costs a fixed part of a second.
        extra_parts = []
        problem_parts = [applied[PROBLEMS_TAG]]
        if exact:
            extra_parts.append(
                applied[TIES_TAG]
                | "GroupTies" >> beam.GroupByKey()
                | "ResolveTies" >> beam.ParDo(_ResolveTies(plan.split), cuts_side)
            )
        if single_pass:
            selected = (
                applied[CANDIDATES_TAG]
                | "GroupCandidates" >> beam.GroupByKey()
                | "SelectSmallest"
                >> beam.ParDo(_SelectSmallest(plan.split, single_pass)).with_outputs(PROBLEMS_TAG, main="records")
            )
            extra_parts.append(selected["records"])
            problem_parts.append(selected[PROBLEMS_TAG])
        # Only the small PCollections are flattened: the portable runners materialize a Flatten's
        # inputs, which for the main records would hold the whole output in memory.
        extra_records = tuple(extra_parts) | "MergeExtra" >> beam.Flatten(pipeline=records.pipeline)
        problems = tuple(problem_parts) | "MergeProblems" >> beam.Flatten()
        return {
            "records": applied["records"],
            EXTRA_RECORDS: extra_records,
            SMOTE_TAG: applied[SMOTE_TAG],
            PROBLEMS_TAG: problems,
        }
