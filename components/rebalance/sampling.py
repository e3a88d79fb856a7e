"""Pure Beam PTransforms of Rebalance: class counting, exact hash cuts and the per-record plan.

Every random choice is a function of (seed, record bytes[, copy index]) through a keyed BLAKE2b
hash (`record_hash`), never of a global RNG or of processing order, so the output records do not
depend on the runner, the number of workers or how the input is split into bundles.

Each class is written by one rule (see `plan`): every record `copies` times, plus once more for the
`extra` records with the smallest hashes. Those are found in the writing pass itself (single-pass
cut: records below an inflated hash threshold are gathered and the `extra` smallest kept), or with
a first pass that keeps only the smallest hashes (two-pass cut), or by a Bernoulli threshold for
huge counts; `plan.SINGLE_PASS_MAX_ROWS` says which and why. Both exact cuts choose the same records.

Identical records get identical hashes. They are kept or dropped together unless the cut falls
inside such a group; then exactly as many as needed are kept (single pass: ordered by (hash,
bytes); two passes: the records whose hash equals the cut are gathered by class), so the counts
stay exact.

Memory: counting keeps one int per class; the cuts keep at most ~1.1 x SINGLE_PASS_MAX_ROWS
records or EXACT_CUT_MAX_ROWS hashes per class; all other records stream from read to write and
are never gathered (no Flatten touches them: the portable runners materialize a Flatten's inputs).
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Tuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from google.protobuf.message import DecodeError
from tensorflow.core.example import example_pb2, feature_pb2

from components.rebalance.plan import (
    CUT_BERNOULLI,
    CUT_SINGLE_PASS,
    CUT_TWO_PASS,
    DEFAULT_CUT_LIMITS,
    ClassRule,
    CutLimits,
    SplitPlan,
)

# Class keys that start with this character are not classes but descriptions of a bad record.
PROBLEM_PREFIX = "\x00"
SHORTFALL_PREFIX = PROBLEM_PREFIX + "shortfall:"
SHORTFALL_MESSAGE = "single-pass cut found too few candidates"
HASH_BITS = 64
HASH_RANGE = 1 << HASH_BITS
METRICS_NAMESPACE = "rebalance"

TIES_TAG = "ties"
CANDIDATES_TAG = "candidates"
EXTRA_RECORDS = "extra_records"
SMOTE_TAG = "smote_bases"
PROBLEMS_TAG = "problems"


def seed_key(seed: int) -> bytes:
    """The BLAKE2b key of a seed (keys are at most 64 bytes; any Python int's decimal text fits)."""
    key = str(int(seed)).encode("ascii")
    if len(key) > 64:
        raise ValueError(f"seed {seed!r} is too large; use an int with at most 64 digits")
    return key


def record_hash(key: bytes, record: bytes, salt: bytes = b"") -> int:
    """A uniform 64-bit integer from (seed key, record bytes, salt)."""
    return int.from_bytes(hashlib.blake2b(record + salt, digest_size=8, key=key).digest(), "big")


def parse_example(record: bytes) -> example_pb2.Example:
    return example_pb2.Example.FromString(record)


def _varint(data: bytes, pos: int) -> Tuple[int, int]:
    """(value, position after it) of the protobuf varint at `pos`."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def label_entry_prefix(label_key: str) -> bytes:
    """The bytes that open the map entry of `label_key` in a serialized tf.Example: key field, then value tag."""
    key = label_key.encode("utf-8")
    return b"\x0a" + _encode_varint(len(key)) + key + b"\x12"


def find_label_feature(record: bytes, entry_prefix: bytes) -> Optional[bytes]:
    """The serialized Feature of the label, found by walking the map entries of a serialized tf.Example.

    Reading one feature this way costs ~3 us instead of ~45 us for parsing the whole example and
    looking the label up (measured on the credit-card rows); one-byte lengths, the common case, are
    read inline. Exact: it steps from entry to entry (never searches inside values). Returns None
    when the walk finds no such entry or meets anything unexpected; callers then parse the whole
    example.
    """
    try:
        if record[0] != 0x0A:  # Example.features
            return None
        pos = 1
        while record[pos] & 0x80:  # skip the length of Features: the walk stops at the record's end
            pos += 1
        pos += 1
        end = len(record)
        size = len(entry_prefix)
        while pos < end:
            if record[pos] != 0x0A:  # Features.feature (map entry)
                return None
            length = record[pos + 1]
            if length < 0x80:
                body = pos + 2
            else:
                length, body = _varint(record, pos + 1)
            if record.startswith(entry_prefix, body):
                feature_length = record[body + size]
                if feature_length < 0x80:
                    start = body + size + 1
                else:
                    feature_length, start = _varint(record, body + size)
                if start + feature_length > body + length:
                    return None
                return record[start : start + feature_length]
            pos = body + length
        return None
    except IndexError:
        return None


def _class_name_of_feature(feature: feature_pb2.Feature) -> str:
    kind = feature.WhichOneof("kind")
    values = getattr(feature, kind).value if kind else ()
    if len(values) != 1:
        return PROBLEM_PREFIX + f"values:{len(values)}"
    value = values[0]
    if kind == "bytes_list":
        return value.decode("utf-8", errors="backslashreplace")
    if kind == "float_list" and float(value).is_integer():
        return str(int(value))
    return str(value)


def class_name_of(example: example_pb2.Example, label_key: str) -> str:
    """The class of a parsed example as str, or a PROBLEM_PREFIX-ed description of why it has none."""
    feature_map = example.features.feature
    if label_key not in feature_map:
        return PROBLEM_PREFIX + "missing:" + json.dumps(sorted(feature_map))
    return _class_name_of_feature(feature_map[label_key])


def class_key(record: bytes, label_key: str, entry_prefix: Optional[bytes] = None) -> str:
    """The class of a serialized example (fast path: `find_label_feature`), or a PROBLEM_PREFIX-ed problem."""
    feature_bytes = find_label_feature(record, entry_prefix or label_entry_prefix(label_key))
    if feature_bytes is not None:
        try:
            return _class_name_of_feature(feature_pb2.Feature.FromString(feature_bytes))
        except DecodeError:
            pass  # Fall through to the full parse, which names the problem.
    try:
        example = parse_example(record)
    except DecodeError as error:
        return PROBLEM_PREFIX + f"unparseable:{type(error).__name__}"
    return class_name_of(example, label_key)


class ClassKeyReader:
    """`class_key` of one label, remembering the class of each distinct serialized label Feature.

    A label has a handful of distinct values, so after the first records each class is one dict
    lookup; the memory is capped for labels that are (wrongly) continuous.
    """

    MAX_REMEMBERED = 4096

    def __init__(self, label_key: str):
        self._label_key = label_key
        self._entry_prefix = label_entry_prefix(label_key)
        self._classes: Dict[bytes, str] = {}

    def __call__(self, record: bytes) -> str:
        feature_bytes = find_label_feature(record, self._entry_prefix)
        if feature_bytes is None:
            return class_key(record, self._label_key, self._entry_prefix)
        name = self._classes.get(feature_bytes)
        if name is None:
            name = class_key(record, self._label_key, self._entry_prefix)
            if len(self._classes) < self.MAX_REMEMBERED:
                self._classes[feature_bytes] = name
        return name


def describe_problem(split: str, label_key: str, key: str, count: int) -> str:
    """A sentence for a PROBLEM_PREFIX-ed class key: names the split, the label and what was found."""
    detail = key[len(PROBLEM_PREFIX) :]
    if detail.startswith("missing:"):
        found = json.loads(detail[len("missing:") :])
        return (
            f"split {split!r}: {count} example(s) have no label feature {label_key!r}; features found: {found}. "
            "Set label_key to the label's name."
        )
    if detail.startswith("values:"):
        return (
            f"split {split!r}: {count} example(s) have {detail[len('values:') :]} values in label {label_key!r} "
            "instead of exactly one."
        )
    if detail.startswith("shortfall:"):
        return f"split {split!r}: {SHORTFALL_MESSAGE} for class {detail[len('shortfall:') :]!r} ({count} missing)"
    if detail.startswith("unparseable:"):
        return f"split {split!r}: {count} record(s) are not serialized tf.Examples ({detail[len('unparseable:') :]})."
    return f"split {split!r}: {count} example(s): {detail}"


class CountClasses(beam.PTransform):
    """Serialized examples -> (class key, count); bad records count under PROBLEM_PREFIX-ed keys."""

    def __init__(self, label_key: str):
        super().__init__()
        self._label_key = label_key

    def expand(self, records):
        return (
            records
            | "ClassKey" >> beam.Map(ClassKeyReader(self._label_key))
            | "CountPerClass" >> beam.combiners.Count.PerElement()
        )


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

    def process(self, record: bytes) -> Iterator[Tuple[str, int]]:
        name = self._class_of(record)
        if name in self._classes:
            yield name, record_hash(self._key, record)


class _CountedOutput:
    """Beam counters per (split, direction, class), summed in a dict and added once per bundle.

    A Beam counter update costs a few microseconds; two per record were a tenth of Rebalance's time.
    The owning DoFn calls `flush` in finish_bundle, so the counters are exact when the bundle commits.
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


class _CountingDoFn(beam.DoFn):
    """A DoFn whose `_counts` are added to the Beam counters at the end of each bundle."""

    def __init__(self, split: str):
        self._split = split
        self._counts: Optional[_CountedOutput] = None

    def start_bundle(self):
        self._counts = _CountedOutput(self._split)

    def finish_bundle(self):
        self._counts.flush()


def counter_name(split: str, direction: str, name: str) -> str:
    return f"{split}|{direction}|{name}"


class _ApplyRules(_CountingDoFn):
    """Writes each record `copies (+1 if its hash is below the cut)` times; routes ties and SMOTE bases.

    This variant has no side input (no class needs a two-pass cut), so Beam can call it through its
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
        self._rules = dict(rules)
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
        self._plain_copies = {
            name: rule.copies
            for name, rule in self._rules.items()
            if not rule.extra and name not in self._smote_classes
        }

    def process(self, record: bytes):
        return self._apply(record, {})

    def finish_bundle(self):
        for name, copies in self._plain_copies.items():
            self._counts.inc("out", name, self._counts.pending("in", name) * copies)
        super().finish_bundle()

    def _apply(self, record: bytes, cuts: Mapping[str, Tuple[int, int, int]]):
        name = self._class_of(record)
        copies = self._plain_copies.get(name)
        if copies is not None:
            self._counts.inc("in", name)  # "out" is added in finish_bundle
            return (record,) * copies
        return self._apply_rule(record, name, cuts)

    def _apply_rule(self, record: bytes, name: str, cuts: Mapping[str, Tuple[int, int, int]]):
        rule = self._rules.get(name)
        if rule is None:
            self._counts.inc("unexpected", name)
            yield pvalue.TaggedOutput(PROBLEMS_TAG, (name, 1))
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


class _ApplyRulesWithCuts(_ApplyRules):
    """`_ApplyRules` with the two-pass cuts as a side input."""

    def process(self, record: bytes, cuts: Mapping[str, Tuple[int, int, int]]):
        return self._apply(record, cuts)


class _ResolveTies(_CountingDoFn):
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


class _SelectSmallest(_CountingDoFn):
    """Of a class's candidates, writes the `extra` with the smallest (hash, bytes); flags a shortfall."""

    def __init__(self, split: str, extras: Mapping[str, int]):
        super().__init__(split)
        self._extras = dict(extras)

    def process(self, element):
        name, candidates = element
        wanted = self._extras[name]
        chosen = heapq.nsmallest(wanted, candidates)
        if len(chosen) < wanted:
            yield pvalue.TaggedOutput(PROBLEMS_TAG, (SHORTFALL_PREFIX + name, wanted - len(chosen)))
            return
        self._counts.inc("out", name, len(chosen))
        for _, record in chosen:
            yield record


class ApplyPlan(beam.PTransform):
    """Serialized examples of one split -> rebalanced records, tagged SMOTE bases and problems.

    Input: a dict with `records` and, when a class needs an exact cut, `cut_records`: the same
    examples read a second time. The cut needs a full pass before the first record is written, and
    reading twice keeps the runner from buffering the whole split between the two stages.
    Returns a dict: `records` and `extra_records` (serialized examples to write; the second holds
    the records chosen by single-pass cuts and among hash ties at two-pass cuts), `smote_bases`
    ((class, record) of classes to synthesize for) and `problems` ((class key, count) of records the
    plan has no rule for, and of single-pass cuts that came up short).
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
