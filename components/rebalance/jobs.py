"""The Beam jobs of Rebalance, as PTransforms applied to the pipeline root, and reading back what they found.

The executor makes the pipeline and runs it; these transforms read the split files, apply the
pure transforms (`counting`, `apply_plan`, `synthesis` with `smote` or `augment`) and write.
What a job finds (class counts, problems) goes to JSON-lines files under the executor's temporary
folder, read back after the run, so the executor can fail before anything is moved into place.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Dict, List, Mapping, Sequence, Set, Tuple

import apache_beam as beam
from tfx.dsl.io import fileio

from components.rebalance import augment, smote
from components.rebalance.apply_plan import EXTRA_RECORDS, SMOTE_TAG, ApplyPlan
from components.rebalance.counting import COUNTS_TAG, CountClasses
from components.rebalance.plan import CutLimits, SplitPlan
from components.rebalance.problems import PROBLEMS_TAG, Problem, SumProblems
from components.rebalance.record_keys import seed_key
from components.rebalance.spec import RebalanceParameters
from components.rebalance.synthesis import Maker, SynthesizeClasses

OUTPUT_FILE_PREFIX = "data_tfrecord"
# Records chosen by the cuts, and synthetic records, go to files of their own (no Flatten); the
# latter are named after the strategy (data_tfrecord_smote-*, data_tfrecord_mixup-*, ...). The
# separator is "_", never "-": before it renames its files into place, Beam's file sink deletes
# whatever matches `<its prefix>-*-of-<shards><suffix>`, so a write to `data_tfrecord` that
# finalizes after one to `data_tfrecord-extra` deletes the latter's files (it did on Flink: the
# undersampled majority class vanished from the split while the summary counted it).
EXTRA_FILE_PREFIX = "data_tfrecord_extra"
SYNTHETIC_FILE_PREFIX = "data_tfrecord_"
JSON_LINES_SUFFIX = ".jsonl"
OUTPUT_FILE_SUFFIX = ".gz"
_SHARD_NAME = re.compile(r"-(\d{5})-of-(\d{5})" + re.escape(OUTPUT_FILE_SUFFIX) + "$")


def output_file_prefixes(plan: SplitPlan, parameters: RebalanceParameters) -> Tuple[str, ...]:
    """The file prefixes one rebalanced split is written under: main records, cut records, synthetic records."""
    prefixes: Tuple[str, ...] = (OUTPUT_FILE_PREFIX, EXTRA_FILE_PREFIX)
    if plan.smote_classes:
        prefixes += (f"{SYNTHETIC_FILE_PREFIX}{parameters.strategy}",)
    return prefixes


def missing_output_files(split_dir: str, prefixes: Sequence[str]) -> List[str]:
    """What is missing of each write's shards in `split_dir` (Beam writes one shard even for no records)."""
    missing: List[str] = []
    for prefix in prefixes:
        shards: Dict[int, Set[int]] = {}  # shard count in the name -> shard numbers present
        for path in fileio.glob(os.path.join(split_dir, f"{prefix}-*{OUTPUT_FILE_SUFFIX}")):
            name = os.path.basename(os.fsdecode(path))
            match = _SHARD_NAME.search(name)
            if match and name == f"{prefix}{match.group(0)}":
                shards.setdefault(int(match.group(2)), set()).add(int(match.group(1)))
        if not shards:
            missing.append(f"{prefix}-*: no shard")
        for total, present in sorted(shards.items()):
            absent = sorted(set(range(total)) - present)
            if absent:
                missing.append(f"{prefix}: shards {absent} of {total} absent")
    return missing


def synthesis_maker(parameters: RebalanceParameters) -> Maker:
    """How the configured synthesis strategy makes its points."""
    if parameters.strategy == "smote":
        return smote.Smote(parameters.k_neighbors)
    if parameters.strategy == "augment_noise":
        return augment.AugmentNoise(parameters.noise_scale)
    if parameters.strategy == "mixup":
        return augment.Mixup(parameters.mixup_alpha)
    raise ValueError(f"strategy {parameters.strategy!r} synthesizes nothing")


def read_json_lines(prefix: str) -> List[str]:
    """The non-empty lines of every file `<prefix>*`, files in name order."""
    lines: List[str] = []
    for path in sorted(fileio.glob(prefix + "*")):
        with fileio.open(path, "r") as handle:
            lines.extend(line for line in handle.read().splitlines() if line.strip())
    return lines


class WriteProblems(beam.PTransform):
    """A tuple of PCollections of Problems -> one JSON line per (kind, split, detail), counts summed, at `prefix`.

    A tuple, not a list: Beam would take a list for data to `Create`.
    """

    def __init__(self, prefix: str):
        super().__init__()
        self._prefix = prefix

    def expand(self, problems):
        return (
            problems
            | "FlattenProblems" >> beam.Flatten()
            | "SumProblems" >> SumProblems()
            | "ProblemsToJson" >> beam.Map(Problem.to_json)
            | "WriteProblems" >> beam.io.WriteToText(self._prefix, file_name_suffix=JSON_LINES_SUFFIX)
        )


def read_problems(prefix: str) -> List[Problem]:
    return [Problem.from_json(line) for line in read_json_lines(prefix)]


class CountSplits(beam.PTransform):
    """Pipeline root -> the class counts of each split as JSON lines [split, class, count] at `counts_prefix`.

    Records without a usable label are written as problems at `problems_prefix`.
    """

    def __init__(self, patterns: Mapping[str, str], label_key: str, counts_prefix: str, problems_prefix: str):
        super().__init__()
        self._patterns = dict(patterns)
        self._label_key = label_key
        self._counts_prefix = counts_prefix
        self._problems_prefix = problems_prefix

    def expand(self, root):
        counts, problems = [], []
        for split, pattern in self._patterns.items():
            counted = (
                root
                | f"ReadSplit[{split}]" >> beam.io.ReadFromTFRecord(pattern)
                | f"CountClasses[{split}]" >> CountClasses(self._label_key, split)
            )
            counts.append(
                counted[COUNTS_TAG] | f"ToJson[{split}]" >> beam.Map(lambda kv, s=split: json.dumps([s, kv[0], kv[1]]))
            )
            problems.append(counted[PROBLEMS_TAG])
        _ = (
            counts
            | "FlattenCounts" >> beam.Flatten()
            | "WriteCounts" >> beam.io.WriteToText(self._counts_prefix, file_name_suffix=JSON_LINES_SUFFIX)
        )
        return tuple(problems) | "Problems" >> WriteProblems(self._problems_prefix)


def read_counts(counts_prefix: str, splits: Sequence[str]) -> Dict[str, Dict[str, int]]:
    """{split: {class: count}} as `CountSplits` wrote them; every split in `splits` is present."""
    counts: Dict[str, Dict[str, int]] = {split: {} for split in splits}
    for line in read_json_lines(counts_prefix):
        split, name, count = json.loads(line)
        counts[split][name] = int(count)
    return counts


@dataclasses.dataclass(frozen=True)
class JobSettings:
    """What every split of one Rebalance job shares: the label, the settings, SMOTE's features, the cut limits."""

    label_key: str
    parameters: RebalanceParameters
    smote_feature_keys: Tuple[str, ...]
    limits: CutLimits


class RebalanceSplit(beam.PTransform):
    """Pipeline root -> one split rebalanced by its plan, written as gzip TFRecords under `split_dir`.

    Reads the split's files (twice when a class needs a two-pass cut), applies the plan, runs the
    synthesis strategy (SMOTE, augment_noise, mixup) for the classes it grows, and writes each
    output PCollection to files of its own: a Flatten of the main records would be materialized in
    memory by the portable runners. Returns the problems found (Problems), for `WriteProblems`.
    """

    def __init__(self, pattern: str, plan: SplitPlan, split_dir: str, settings: JobSettings):
        super().__init__()
        self._pattern = pattern
        self._plan = plan
        self._split_dir = split_dir
        self._settings = settings

    def expand(self, root):
        plan, settings = self._plan, self._settings
        params = settings.parameters
        inputs = {"records": root | "ReadSplit" >> beam.io.ReadFromTFRecord(self._pattern)}
        if plan.needs_second_read(settings.limits):
            inputs["cut_records"] = root | "ReadSplitForCut" >> beam.io.ReadFromTFRecord(self._pattern)
        applied = inputs | "ApplyPlan" >> ApplyPlan(plan, settings.label_key, params.seed, settings.limits)
        records = [applied["records"], applied[EXTRA_RECORDS]]
        problems = [applied[PROBLEMS_TAG]]
        smote_classes = plan.smote_classes
        if smote_classes:
            synthetic = applied[SMOTE_TAG] | "Synthesize" >> SynthesizeClasses(
                plan.split,
                {name: rule.synthetic for name, rule in smote_classes.items()},
                settings.smote_feature_keys,
                seed_key(params.seed),
                synthesis_maker(params),
            )
            records.append(synthetic["records"])
            problems.append(synthetic[PROBLEMS_TAG])
        for file_prefix, written in zip(output_file_prefixes(plan, params), records, strict=True):
            _ = written | f"Write[{file_prefix}]" >> beam.io.WriteToTFRecord(
                os.path.join(self._split_dir, file_prefix),
                file_name_suffix=OUTPUT_FILE_SUFFIX,
                compression_type=beam.io.filesystem.CompressionTypes.GZIP,
            )
        return tuple(problems) | "MergeProblems" >> beam.Flatten()
