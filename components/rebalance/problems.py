"""Problems Rebalance finds in the records, as typed values on a tagged output (never mixed into the data).

A record without a usable label, a class the plan does not know, a single-pass cut that came up
short, a class SMOTE, augment_noise or mixup cannot grow: the PTransform that finds one puts a
`Problem` on its `problems` output. The executor sums them per kind, split and detail, writes them beside the job's
output, and after the job fails with one sentence per problem, before anything is moved into place.
"""

from __future__ import annotations

import dataclasses
import json
from typing import NamedTuple

import apache_beam as beam

PROBLEMS_TAG = "problems"

# Kinds of problem, and what `detail` holds for each.
MISSING_LABEL = "missing_label"  # the features the record has, e.g. "['Amount', 'Time']"
LABEL_VALUES = "label_values"  # how many values the label has (not one)
UNPARSEABLE = "unparseable"  # the protobuf error's type name
UNEXPECTED_CLASS = "unexpected_class"  # the class, which the class counts do not list
SHORTFALL = "shortfall"  # the class whose single-pass cut found too few candidates
SYNTHESIS_INPUT = "synthesis_input"  # the sentence naming the split, class and feature synthesis cannot use

SHORTFALL_MESSAGE = "single-pass cut found too few candidates"


class LabelProblem(NamedTuple):
    """Why one record has no class: `kind` is MISSING_LABEL, LABEL_VALUES or UNPARSEABLE."""

    kind: str
    detail: str


@dataclasses.dataclass(frozen=True)
class Problem:
    """`count` records (or cases) of one `kind` of problem in one split; `detail` as listed above."""

    kind: str
    split: str
    count: int
    detail: str

    @classmethod
    def of_record(cls, problem: LabelProblem, split: str, count: int = 1) -> Problem:
        return cls(problem.kind, split, count, problem.detail)

    def describe(self, label_key: str) -> str:
        """One sentence that names the split, the label and what was found."""
        where = f"split {self.split!r}"
        if self.kind == MISSING_LABEL:
            return (
                f"{where}: {self.count} example(s) have no label feature {label_key!r}; features found: "
                f"{self.detail}. Set label_key to the label's name."
            )
        if self.kind == LABEL_VALUES:
            return (
                f"{where}: {self.count} example(s) have {self.detail} values in label {label_key!r} "
                "instead of exactly one."
            )
        if self.kind == UNPARSEABLE:
            return f"{where}: {self.count} record(s) are not serialized tf.Examples ({self.detail})."
        if self.kind == UNEXPECTED_CLASS:
            return f"{where}: {self.count} example(s) of class {self.detail!r}, which the class counts do not list"
        if self.kind == SHORTFALL:
            return f"{where}: {SHORTFALL_MESSAGE} for class {self.detail!r} ({self.count} missing)"
        if self.kind == SYNTHESIS_INPUT:
            return self.detail
        return f"{where}: {self.count} example(s): {self.kind} {self.detail}"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Problem:
        return cls(**json.loads(text))


class SumProblems(beam.PTransform):
    """Problems -> one Problem per (kind, split, detail), with the counts summed."""

    def expand(self, problems):
        return (
            problems
            | "KeyProblems" >> beam.Map(lambda problem: ((problem.kind, problem.split, problem.detail), problem.count))
            | "SumCounts" >> beam.CombinePerKey(sum)
            | "ToProblems" >> beam.MapTuple(lambda key, count: Problem(key[0], key[1], count, key[2]))
        )
